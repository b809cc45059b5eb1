import Foundation
import GRDB

extension CostBurn {
    /// Reads every endpoint's burn as of `now` (buckets that start after `now` are ignored). `table` only
    /// labels how each endpoint is priced (default: `PriceTable.load()`); the amounts are those stored.
    /// `recent`: the live figures of the `nowWindowSeconds` ending at `now`, when the caller already has them
    /// (the dashboard), so the five minutes of buckets are not read and merged twice.
    public static func load(_ db: Database, now: Date, table: PriceTable? = nil, recent: [String: EndpointFigures]? = nil) throws -> CostBurn {
        let table = table ?? (try? PriceTable.load()) ?? .standard
        let bounds = Bounds(now: Int64(now.timeIntervalSince1970.rounded(.down)))
        // The rate now is the live figures' burn over the last 5 minutes: the same figure every view shows.
        let nowWindow = LiveWindow(start: bounds.now - nowWindowSeconds, end: bounds.now)
        let live = try recent ?? EndpointFigures.build(StoredBucket.fetchAll(db, overlapping: nowWindow), window: nowWindow)
        let sums = try sums(db, bounds: bounds)
        let benchToday = try benchToday(db, now: now)
        let targets = Dictionary(try Target.fetchAll(db).map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        var report = CostBurn(at: now, endpoints: [], total: BurnFigures(), totalBudgetMicros: nil)
        for endpoint in try Endpoint.order(Column("name")).fetchAll(db) {
            let (burn, versions) = Self.burn(versions: sums[endpoint.name] ?? [:], bench: benchToday[endpoint.name] ?? [:],
                                             live: live[endpoint.name], now: bounds.now)
            let target = targets[endpoint.target]
            let used = endpoint.dailyBudgetMicros.flatMap { budget in budget > 0 ? burn.today.totalMicros * 1_000_000 / budget : nil }
            report.endpoints.append(EndpointBurn(endpoint: endpoint.name, target: endpoint.target,
                                                 pricedAs: target.flatMap { TargetPricing.label(of: $0, table: table) }, burn: burn,
                                                 dailyBudgetMicros: endpoint.dailyBudgetMicros, budgetUsedPPM: used, versions: versions))
            report.total.add(burn)
            if let budget = endpoint.dailyBudgetMicros { report.totalBudgetMicros = (report.totalBudgetMicros ?? 0) + budget }
        }
        return report
    }

    /// Every endpoint version's stored costs within `bounds` (`VersionSums`), by endpoint and version: one
    /// scan of the buckets by start.
    static func sums(_ db: Database, bounds: Bounds) throws -> [String: [String: VersionSums]] {
        var result: [String: [String: VersionSums]] = [:]
        let rows = try Row.fetchCursor(db, sql: """
            SELECT endpoint, version_id,
                   SUM(CASE WHEN start >= :day THEN cost_micros ELSE 0 END),
                   SUM(CASE WHEN start >= :day THEN warmup_cost_micros ELSE 0 END),
                   SUM(CASE WHEN start >= :projection THEN cost_micros ELSE 0 END),
                   SUM(CASE WHEN start >= :projection THEN warmup_cost_micros ELSE 0 END),
                   MIN(CASE WHEN start >= :projection THEN start END), COUNT(*)
            FROM metric_buckets WHERE start >= :earliest AND start <= :now
            GROUP BY endpoint, version_id
            """, arguments: ["day": bounds.dayStart, "projection": bounds.projectionStart, "earliest": bounds.earliest, "now": bounds.now])
        while let row = try rows.next() {
            result[row[0], default: [:]][row[1]] = VersionSums(dayTraffic: row[2], dayWarm: row[3], lastTraffic: row[4], lastWarm: row[5],
                                                               firstStart: row[6], buckets: row[7])
        }
        return result
    }

    /// One endpoint version's stored costs within `bounds`; nil when it has no bucket there.
    static func sums(_ db: Database, bounds: Bounds, endpoint: String, version: String) throws -> VersionSums? {
        guard let row = try Row.fetchOne(db, sql: """
            SELECT SUM(CASE WHEN start >= :day THEN cost_micros ELSE 0 END),
                   SUM(CASE WHEN start >= :day THEN warmup_cost_micros ELSE 0 END),
                   SUM(CASE WHEN start >= :projection THEN cost_micros ELSE 0 END),
                   SUM(CASE WHEN start >= :projection THEN warmup_cost_micros ELSE 0 END),
                   MIN(CASE WHEN start >= :projection THEN start END), COUNT(*)
            FROM metric_buckets WHERE endpoint = :endpoint AND version_id = :version AND start >= :earliest AND start <= :now
            """, arguments: ["day": bounds.dayStart, "projection": bounds.projectionStart, "earliest": bounds.earliest, "now": bounds.now,
                             "endpoint": endpoint, "version": version]), (row[5] as Int64) > 0 else { return nil }
        return VersionSums(dayTraffic: row[0], dayWarm: row[1], lastTraffic: row[2], lastWarm: row[3], firstStart: row[4], buckets: row[5])
    }

    /// The earliest bucket start of one endpoint version within the projection's window (through the primary key).
    static func firstStart(_ db: Database, bounds: Bounds, endpoint: String, version: String) throws -> Int64? {
        try Int64.fetchOne(db, sql: """
            SELECT start FROM metric_buckets WHERE endpoint = ? AND version_id = ? AND start >= ? AND start <= ? ORDER BY start LIMIT 1
            """, arguments: [endpoint, version, bounds.projectionStart, bounds.now])
    }

    /// The cost of bench runs started today, by endpoint and version: stored on the run, not in the buckets.
    static func benchToday(_ db: Database, now: Date) throws -> [String: [String: Int64]] {
        let dayStart = Bounds(now: Int64(now.timeIntervalSince1970.rounded(.down))).dayStart
        var result: [String: [String: Int64]] = [:]
        for row in try Row.fetchAll(db, sql: """
            SELECT endpoint, version_id, SUM(cost_micros) AS micros FROM bench_runs
            WHERE started_at >= ? AND started_at <= ? GROUP BY endpoint, version_id
            """, arguments: [Date(timeIntervalSince1970: TimeInterval(dayStart)), now]) {
            result[row["endpoint"], default: [:]][row["version_id"]] = row["micros"]
        }
        return result
    }
}

extension Registry {
    /// Every endpoint's cost burn as of `now` (`CostBurn`).
    public func costBurn(now: Date, table: PriceTable? = nil) throws -> CostBurn {
        try read { db in try CostBurn.load(db, now: now, table: table) }
    }
}
