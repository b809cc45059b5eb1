import Foundation
import GRDB

/// One endpoint as the dashboard's table and `modeldeck get endpoints -o wide` show it: its configuration,
/// what it routes, what is in flight, and its live figures — read from the registry only.
public struct EndpointStatus: Equatable, Sendable {
    public var endpoint: Endpoint
    public var targetKind: TargetKind?
    /// Version → percent, the versions that take traffic.
    public var weights: [String: Int]
    /// The deploy in flight, if any.
    public var deployment: Deployment?
    public var keepWarm: KeepWarmState?
    /// The last minute (request rate) and the last five minutes (latency, errors, burn).
    public var lastMinute: EndpointFigures
    public var recent: EndpointFigures
    /// User requests that started an instance in the last hour.
    public var coldStartsLastHour: Int64
    public var instances: InstanceFigures
    /// Cost since midnight UTC (traffic and pings), and this month's projection, from `CostBurn`.
    public var today: CostSplit
    public var projectedMonth: CostSplit
    /// The worst p99 of each of the last `Fleet.sparklineMinutes` minutes, oldest first; nil where idle.
    public var sparkline: [Double?]
    /// The target routes otherwise than the registry says (`DriftRecord.summary`), until resolved.
    public var drift: String? = nil
}

/// Everything the dashboard shows, read in one read transaction (a consistent view).
public struct Fleet: Sendable {
    public var daemon: DaemonStatus
    public var endpoints: [EndpointStatus]
    public var versions: [Listings.VersionRow]
    public var deployments: [Listings.DeploymentRow]
    public var targets: [Listings.TargetRow]
    public var events: [Listings.EventRow]
    /// Notification entries whose deliveries fail now.
    public var failingNotifications: [FailingNotification] = []

    public static let sparklineMinutes = 30
    /// Latency, errors and burn are read over this window; the request rate over the last minute.
    public static let recentSeconds: Int64 = 300
}

extension EndpointStatus {
    /// Every endpoint's status, in name order: the buckets of the last hour are read once and added into
    /// the three windows (a minute, five minutes, an hour), the same way `LiveFigures` reads any window.
    static func loadAll(_ db: Database, now: Date) throws -> [EndpointStatus] {
        let minute = LiveWindow(last: 60, now: now)
        let recent = LiveWindow(last: Fleet.recentSeconds, now: now)
        let hour = LiveWindow(last: 3_600, now: now)
        let targets = Dictionary(try Target.fetchAll(db).map { ($0.name, $0.kind) }, uniquingKeysWith: { a, _ in a })
        let weights = try TrafficSplit.allDesired(db)
        let active = Dictionary(try Deployment.activeDeploys(db).map { ($0.endpoint, $0) }, uniquingKeysWith: { a, _ in a })
        let keepWarm = try Registry.keepWarmStates(db)
        let drifts = try Registry.drifts(db)
        let instances = try Registry.instanceFigures(db)

        var lastMinute: [String: [String: LiveFigures.Builder]] = [:]
        var lastFive: [String: [String: LiveFigures.Builder]] = [:]
        var lastHour: [String: LiveFigures.Builder] = [:]
        for row in try Row.fetchAll(db, sql: """
            SELECT endpoint, version_id, start, width_s, requests, errors, cold_starts, warmups, warmup_cold_starts, max_in_flight,
                   cost_micros, warmup_cost_micros, probes, probe_errors, probe_cold_starts,
                   CASE WHEN start + width_s > :recent THEN latency_hist END AS latency_hist,
                   CASE WHEN start + width_s > :recent THEN cold_latency_hist END AS cold_latency_hist,
                   CASE WHEN start + width_s > :recent THEN probe_latency_hist END AS probe_latency_hist
            FROM metric_buckets WHERE start > :hour - 86400 AND start < :now AND start + width_s > :hour
            """, arguments: ["recent": recent.start, "hour": hour.start, "now": hour.end]) {
            let bucket = StoredBucket(row: row)
            try lastHour[bucket.endpoint, default: LiveFigures.Builder(window: hour, histograms: false)].add(bucket)
            guard bucket.start + bucket.width > recent.start else { continue }
            try lastFive[bucket.endpoint, default: [:]][bucket.version, default: LiveFigures.Builder(window: recent)].add(bucket)
            guard bucket.start + bucket.width > minute.start else { continue }
            try lastMinute[bucket.endpoint, default: [:]][bucket.version, default: LiveFigures.Builder(window: minute)].add(bucket)
        }
        func figures(_ builders: [String: LiveFigures.Builder]?, window: LiveWindow) -> EndpointFigures {
            var total = LiveFigures.Builder(window: window)
            for builder in (builders ?? [:]).values { total.add(builder) }
            return EndpointFigures(total: total.figuresNow(), versions: (builders ?? [:]).mapValues { $0.figuresNow() })
        }

        let sparkFrom = (Int64(now.timeIntervalSince1970) / 60 - Int64(Fleet.sparklineMinutes) + 1) * 60
        let minuteP99s = try Registry.minuteP99s(db, since: sparkFrom)
        let burn = Dictionary(try CostBurn.load(db, now: now).endpoints.map { ($0.endpoint, $0.burn) }, uniquingKeysWith: { a, _ in a })

        return try Endpoint.order(Column("name")).fetchAll(db).map { endpoint in
            var sparkline: [Double?] = []
            if let points = minuteP99s[endpoint.name], !points.isEmpty {
                sparkline = Array(repeating: nil, count: Fleet.sparklineMinutes)
                for point in points {
                    let index = Int((point.minuteStart - sparkFrom) / 60)
                    if index >= 0, index < Fleet.sparklineMinutes { sparkline[index] = max(sparkline[index] ?? 0, point.p99) }
                }
            }
            return EndpointStatus(endpoint: endpoint, targetKind: targets[endpoint.target], weights: weights[endpoint.name] ?? [:],
                                  deployment: active[endpoint.name], keepWarm: keepWarm[endpoint.name],
                                  lastMinute: figures(lastMinute[endpoint.name], window: minute),
                                  recent: figures(lastFive[endpoint.name], window: recent),
                                  coldStartsLastHour: lastHour[endpoint.name]?.figuresNow().observed.coldStarts ?? 0,
                                  instances: instances[endpoint.name]?.total ?? InstanceFigures(),
                                  today: burn[endpoint.name]?.today ?? CostSplit(),
                                  projectedMonth: burn[endpoint.name]?.projectedMonth ?? CostSplit(),
                                  sparkline: sparkline, drift: drifts[endpoint.name]?.summary)
        }
    }
}

extension Registry {
    /// Everything the dashboard shows, in one read transaction; lists keep their newest `historyLimit` rows.
    public func fleet(now: Date, historyLimit: Int = 500) throws -> Fleet {
        try read { db in
            Fleet(daemon: try DaemonStatus.load(db, now: now), endpoints: try EndpointStatus.loadAll(db, now: now),
                  versions: try Listings.versions(db), deployments: try Listings.deployments(db, limit: historyLimit),
                  targets: try Listings.targets(db), events: try Listings.events(db, limit: historyLimit),
                  failingNotifications: try FailingNotification.load(db))
        }
    }

    /// The endpoints as `modeldeck get endpoints` and `/api/v1/endpoints` list them, with their live figures
    /// over `window` when one is given.
    public func listEndpoints(window: LiveWindow?) throws -> [Listings.EndpointRow] {
        try read { db in
            var rows = try Listings.endpoints(db)
            guard let window else { return rows }
            let figures = try EndpointFigures.build(StoredBucket.fetchAll(db, overlapping: window), window: window)
            let instances = try Registry.instanceFigures(db)
            let nowDate = Date(timeIntervalSince1970: TimeInterval(window.end))
            let burn = Dictionary(try CostBurn.load(db, now: nowDate).endpoints.map { ($0.endpoint, $0.burn) }, uniquingKeysWith: { a, _ in a })
            for index in rows.indices {
                let name = rows[index].name
                let endpointFigures = figures[name] ?? EndpointFigures(total: LiveFigures(windowSeconds: window.seconds))
                rows[index].live = Listings.LiveRow(
                    window: Format.duration(seconds: window.seconds), figures: endpointFigures.total, versions: endpointFigures.versions,
                    instances: instances[name]?.total ?? InstanceFigures(),
                    maxConcurrency: rows[index].concurrency * rows[index].maxInstances,
                    todayMicros: burn[name]?.today.totalMicros ?? 0)
            }
            return rows
        }
    }
}
