import Foundation
import GRDB

extension CostBurn {
    /// Reads every endpoint's burn as of `now` (buckets that start after `now` are ignored). `table` only
    /// labels how each endpoint is priced (default: `PriceTable.load()`); the amounts are those stored.
    /// `recent`: the live figures of the `nowWindowSeconds` ending at `now`, when the caller already has them
    /// (the dashboard), so the five minutes of buckets are not read and merged twice.
    public static func load(_ db: Database, now: Date, table: PriceTable? = nil, recent: [String: EndpointFigures]? = nil) throws -> CostBurn {
        let table = table ?? (try? PriceTable.load()) ?? .standard
        let nowSeconds = Int64(now.timeIntervalSince1970.rounded(.down))
        let dayStart = nowSeconds / 86_400 * 86_400
        // The rate now is the live figures' burn over the last 5 minutes: the same figure every view shows.
        let nowWindow = LiveWindow(start: nowSeconds - nowWindowSeconds, end: nowSeconds)
        let live = try recent ?? EndpointFigures.build(StoredBucket.fetchAll(db, overlapping: nowWindow), window: nowWindow)
        let projectionStart = nowSeconds - projectionWindowSeconds
        let earliest = min(dayStart, projectionStart)
        let rows = try Row.fetchAll(db, sql: """
            SELECT endpoint, version_id,
                   SUM(CASE WHEN start >= :day THEN cost_micros ELSE 0 END) AS day_traffic,
                   SUM(CASE WHEN start >= :day THEN warmup_cost_micros ELSE 0 END) AS day_warm,
                   SUM(CASE WHEN start >= :projection THEN cost_micros ELSE 0 END) AS last_traffic,
                   SUM(CASE WHEN start >= :projection THEN warmup_cost_micros ELSE 0 END) AS last_warm,
                   MIN(CASE WHEN start >= :projection THEN start END) AS first_start
            FROM metric_buckets WHERE start >= :earliest AND start <= :now
            GROUP BY endpoint, version_id ORDER BY endpoint, version_id
            """, arguments: ["day": dayStart, "projection": projectionStart, "earliest": earliest, "now": nowSeconds])
        var byEndpoint: [String: [Row]] = [:]
        for row in rows { byEndpoint[row["endpoint"], default: []].append(row) }
        // Bench runs started today, by endpoint and version: their cost is stored on the run, not in the buckets.
        var benchToday: [String: [String: Int64]] = [:]
        for row in try Row.fetchAll(db, sql: """
            SELECT endpoint, version_id, SUM(cost_micros) AS micros FROM bench_runs
            WHERE started_at >= ? AND started_at <= ? GROUP BY endpoint, version_id
            """, arguments: [Date(timeIntervalSince1970: TimeInterval(dayStart)), now]) {
            benchToday[row["endpoint"], default: [:]][row["version_id"]] = row["micros"]
        }

        let targets = Dictionary(try Target.fetchAll(db).map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        var report = CostBurn(at: now, endpoints: [], total: BurnFigures(), totalBudgetMicros: nil)
        for endpoint in try Endpoint.order(Column("name")).fetchAll(db) {
            let versionRows = byEndpoint[endpoint.name] ?? []
            // One observed span per endpoint, so its versions' projections add up to its own.
            let firstStart = versionRows.compactMap { $0["first_start"] as Int64? }.min() ?? projectionStart
            let observed = max(nowWindowSeconds, nowSeconds - max(projectionStart, firstStart))
            var burn = BurnFigures()
            var versions: [EndpointBurn.Version] = []
            let bench = benchToday[endpoint.name] ?? [:]
            let rowsByVersion = Dictionary(versionRows.map { ($0["version_id"] as String, $0) }, uniquingKeysWith: { first, _ in first })
            for version in Set(rowsByVersion.keys).union(bench.keys).sorted() {
                var figures = BurnFigures()
                let rate = live[endpoint.name]?.versions[version]
                figures.perHourNow = CostSplit(trafficMicros: (rate?.burnMicrosPerHour ?? 0) - (rate?.pingBurnMicrosPerHour ?? 0),
                                               keepWarmMicros: rate?.pingBurnMicrosPerHour ?? 0)
                if let row = rowsByVersion[version] {
                    figures.today = CostSplit(trafficMicros: row["day_traffic"], keepWarmMicros: row["day_warm"])
                    figures.projectedMonth = CostSplit(trafficMicros: project(row["last_traffic"], over: observed),
                                                       keepWarmMicros: project(row["last_warm"], over: observed))
                }
                figures.today.benchMicros = bench[version] ?? 0
                versions.append(.init(version: version, burn: figures))
                burn.add(figures)
            }
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

}

extension Registry {
    /// Every endpoint's cost burn as of `now` (`CostBurn`).
    public func costBurn(now: Date, table: PriceTable? = nil) throws -> CostBurn {
        try read { db in try CostBurn.load(db, now: now, table: table) }
    }
}
