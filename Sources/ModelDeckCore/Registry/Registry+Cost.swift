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
        // Whole hours from `cost_hours` (kept by triggers as buckets are written): the projection's window
        // starts at the top of the hour 24 hours ago. Buckets that start after `now` do not count yet: those
        // of the current hour are taken back out.
        let projectionStart = hour(nowSeconds - projectionWindowSeconds)
        let earliest = min(dayStart, projectionStart)
        let rows = try Row.fetchAll(db, sql: """
            SELECT endpoint, version_id,
                   SUM(CASE WHEN hour >= :day THEN cost_micros ELSE 0 END) AS day_traffic,
                   SUM(CASE WHEN hour >= :day THEN warmup_cost_micros ELSE 0 END) AS day_warm,
                   SUM(CASE WHEN hour >= :projection THEN cost_micros ELSE 0 END) AS last_traffic,
                   SUM(CASE WHEN hour >= :projection THEN warmup_cost_micros ELSE 0 END) AS last_warm,
                   MIN(CASE WHEN hour >= :projection AND first_start <= :now THEN first_start END) AS first_start
            FROM cost_hours WHERE hour >= :earliest AND hour <= :now
            GROUP BY endpoint, version_id HAVING MIN(first_start) <= :now ORDER BY endpoint, version_id
            """, arguments: ["day": dayStart, "projection": projectionStart, "earliest": earliest, "now": nowSeconds])
        var ahead: [String: (traffic: Int64, warm: Int64)] = [:]
        for row in try Row.fetchAll(db, sql: """
            SELECT endpoint, version_id, SUM(cost_micros), SUM(warmup_cost_micros) FROM metric_buckets
            WHERE start > :now AND start < :next GROUP BY endpoint, version_id
            """, arguments: ["now": nowSeconds, "next": hour(nowSeconds) + 3_600]) {
            ahead["\(row[0] as String) \(row[1] as String)"] = (row[2], row[3])
        }
        var byEndpoint: [String: [Row]] = [:]
        for row in rows { byEndpoint[row["endpoint"], default: []].append(row) }

        let targets = Dictionary(try Target.fetchAll(db).map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        var report = CostBurn(at: now, endpoints: [], total: BurnFigures(), totalBudgetMicros: nil)
        for endpoint in try Endpoint.order(Column("name")).fetchAll(db) {
            let versionRows = byEndpoint[endpoint.name] ?? []
            // One observed span per endpoint, so its versions' projections add up to its own.
            let firstStart = versionRows.compactMap { $0["first_start"] as Int64? }.min() ?? projectionStart
            let observed = max(nowWindowSeconds, nowSeconds - max(projectionStart, firstStart))
            var burn = BurnFigures()
            var versions: [EndpointBurn.Version] = []
            for row in versionRows {
                var figures = BurnFigures()
                let rate = live[endpoint.name]?.versions[row["version_id"]]
                let later = ahead["\(endpoint.name) \(row["version_id"] as String)"] ?? (0, 0)
                figures.perHourNow = CostSplit(trafficMicros: (rate?.burnMicrosPerHour ?? 0) - (rate?.pingBurnMicrosPerHour ?? 0),
                                               keepWarmMicros: rate?.pingBurnMicrosPerHour ?? 0)
                figures.today = CostSplit(trafficMicros: row["day_traffic"] - later.traffic, keepWarmMicros: row["day_warm"] - later.warm)
                figures.projectedMonth = CostSplit(trafficMicros: project(row["last_traffic"] - later.traffic, over: observed),
                                                   keepWarmMicros: project(row["last_warm"] - later.warm, over: observed))
                versions.append(.init(version: row["version_id"], burn: figures))
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

    /// The top of the hour `seconds` is in (Unix seconds; the same hours `cost_hours` is kept by).
    static func hour(_ seconds: Int64) -> Int64 { seconds - seconds % 3_600 }
}

extension Registry {
    /// Every endpoint's cost burn as of `now` (`CostBurn`).
    public func costBurn(now: Date, table: PriceTable? = nil) throws -> CostBurn {
        try read { db in try CostBurn.load(db, now: now, table: table) }
    }
}
