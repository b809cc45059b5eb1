import Foundation
import GRDB

/// One endpoint as the dashboard's table and `modeldeck get endpoints -o wide` show it: its configuration,
/// what it routes, what is in flight, and its live figures — read from the registry only.
public struct EndpointStatus: Equatable, Sendable {
    public var endpoint: Endpoint {
        get { endpointBox.value }
        set { endpointBox = Boxed(newValue) }
    }
    /// Where `endpoint` is kept, shared with the catalog: a status holds 8 bytes of it, not 224. The dashboard
    /// holds the statuses of the snapshot it shows while it makes the next (issue #20: 200,000 of them at
    /// 100,000 endpoints).
    var endpointBox: Boxed<Endpoint>
    public var targetKind: TargetKind?
    /// Version → percent, the versions that take traffic.
    public var weights: [String: Int]
    /// The deploy in flight, if any.
    public var deployment: Deployment? {
        get { deploymentBox?.value }
        set { deploymentBox = newValue.map(Boxed.init) }
    }
    /// Where `deployment` is kept (shared with the catalog's route): most endpoints have none.
    var deploymentBox: Boxed<Deployment>?
    public var keepWarm: KeepWarmState? {
        get { keepWarmBox?.value }
        set { keepWarmBox = newValue.map(Boxed.init) }
    }
    /// Where `keepWarm` is kept: most endpoints have none, and inline it took 150 bytes of every status.
    var keepWarmBox: Boxed<KeepWarmState>?
    /// User requests per second over the last minute (`LiveFigures.requestsPerSecond`: all the dashboard
    /// takes of that window), and the last five minutes' figures (latency, errors, burn).
    public var requestsPerSecondLastMinute: Double
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

/// What the dashboard's rows are made of that changes only with the catalog (targets, endpoints, versions,
/// desired weights: `catalog_generation`) or a deployment (`deployment_generation`), decoded once and kept
/// from one refresh to the next until either generation moves (issue #20: the 10,000 endpoints were decoded
/// twice at every refresh). Keep-warm state, instances and drift change without them and are read each time.
public struct FleetCatalog: Sendable {
    var stamp: Registry.RoutingStamp
    /// In name order, each kept once for the catalog and every status made from it.
    var endpoints: [Boxed<Endpoint>]
    /// What each endpoint routes, in the order of `endpoints`: looked up once per catalog, not by name for
    /// each of 10,000 rows at every refresh.
    var routes: [Route]
    var versions: [Listings.VersionRow]
    var targets: [Listings.TargetRow]

    /// `kept` when neither generation moved since it was read, else read afresh, in the caller's transaction.
    static func current(_ db: Database, kept: FleetCatalog?) throws -> FleetCatalog {
        let stamp = try Registry.RoutingStamp.load(db)
        if let kept, kept.stamp == stamp { return kept }
        let targets = try Listings.targets(db)
        // Allocated at its size: an array grown row by row would double, and at 10,000 endpoints leave 3.4 MB
        // of 224-byte slots unused for as long as the catalog is kept.
        var endpoints: [Boxed<Endpoint>] = []
        endpoints.reserveCapacity(try Endpoint.fetchCount(db))
        let rows = try Endpoint.order(Column("name")).fetchCursor(db)
        while let endpoint = try rows.next() { endpoints.append(Boxed(endpoint)) }
        let targetKinds = Dictionary(try Target.fetchAll(db).map { ($0.name, $0.kind) }, uniquingKeysWith: { a, _ in a })
        let weights = try TrafficSplit.allDesired(db)
        let active = Dictionary(try Deployment.activeDeploys(db).map { ($0.endpoint, $0) }, uniquingKeysWith: { a, _ in a })
        return FleetCatalog(stamp: stamp, endpoints: endpoints,
                            routes: endpoints.map { Route(targetKind: targetKinds[$0.value.target], weights: weights[$0.value.name] ?? [:],
                                                          deployment: active[$0.value.name].map(Boxed.init)) },
                            versions: try Listings.versions(db), targets: targets)
    }

    /// One endpoint's target kind, desired weights (version → percent) and deploy in flight.
    struct Route: Sendable {
        var targetKind: TargetKind?
        var weights: [String: Int]
        var deployment: Boxed<Deployment>?
    }
}

extension EndpointStatus {
    /// Every endpoint's status, in name order: the buckets of the last five minutes are read once and added
    /// into two windows (a minute, five minutes), and the hour's counts are summed in SQL — each read the
    /// way `LiveFigures` reads any window.
    /// With `rolling`, the minute and the five minutes come from the dashboard's rolling windows
    /// (`RollingFigures`, lengths 60 and `Fleet.recentSeconds`), brought to `now` by reading only what changed.
    static func loadAll(_ db: Database, now: Date, catalog: FleetCatalog, rolling: inout RollingFigures?) throws -> [EndpointStatus] {
        let minute = LiveWindow(last: 60, now: now)
        let recent = LiveWindow(last: Fleet.recentSeconds, now: now)
        let hour = LiveWindow(last: 3_600, now: now)
        let keepWarm = try Registry.keepWarmStates(db)
        let drifts = try Registry.drifts(db)
        let instances = try Registry.instanceFigures(db)

        // The last five minutes bucket by bucket (histograms merged), streamed rather than held; the last
        // minute is part of them. The hour needs counts only: summed in SQL, then read by `LiveFigures` as one
        // bucket, so the figure is still made where every other one is.
        // In the catalog's order, one per endpoint (nil where it has no bucket in the window): a row takes its
        // own by position, with no look-up by name and no copy out of a table.
        let names = catalog.endpoints.map(\.value.name)
        let minuteRates: [Double?]
        let recentFigures: [EndpointFigures?]
        let coldStarts: [Int64?]
        // Today's cost and the projection's sums per version, and the sparkline's minutes.
        let costs: [String: [String: CostBurn.VersionSums]]
        let sparklines: [String: [Double?]]
        // Taken out of `rolling`, not copied: a copy would share the windows' tables with it, and the first
        // change to each would copy the whole table (10,000 entries) at every refresh.
        if var kept = rolling.take() {
            do {
                try kept.refresh(db, now: recent.end)
            } catch {
                rolling = RollingFigures(lengths: kept.lengths, countsOnly: kept.countsOnly)  // a full read next time
                throw error
            }
            minuteRates = kept.requestsPerSecond(length: minute.seconds, of: names)
            recentFigures = kept.figures(length: recent.seconds, of: names)
            coldStarts = kept.observedColdStarts(length: hour.seconds, of: names)
            costs = kept.cost.sums
            sparklines = kept.sparkline.currentLines()
            rolling = kept
        } else {
            var lastMinute = EndpointFigures.Builder(window: minute, histograms: false)
            var lastFive = EndpointFigures.Builder(window: recent)
            try StoredBucket.forEach(db, overlapping: recent) { bucket in
                try lastFive.add(bucket)
                if bucket.start + bucket.width > minute.start { try lastMinute.add(bucket) }
            }
            let minuteByName = lastMinute.figures(), recentByName = lastFive.figures()
            minuteRates = names.map { minuteByName[$0]?.total.requestsPerSecond }
            recentFigures = names.map { recentByName[$0] }
            var lastHour: [String: LiveFigures.Builder] = [:]
            for sum in try StoredBucket.sums(db, overlapping: hour) {
                try lastHour[sum.endpoint, default: LiveFigures.Builder(window: hour, histograms: false)].add(sum)
            }
            coldStarts = names.map { lastHour[$0]?.figuresNow().observed.coldStarts }
            costs = try CostBurn.sums(db, bounds: CostBurn.Bounds(now: recent.end))
            sparklines = RollingSparkline(try Registry.minuteP99s(db, since: RollingSparkline.from(now: recent.end)), now: recent.end).lines()
        }
        // The burn as `CostBurn` makes it, its rate now from the five minutes' figures (the same window).
        precondition(Fleet.recentSeconds == CostBurn.nowWindowSeconds, "the burn's rate now is the five minutes' figures")
        let bench = try CostBurn.benchToday(db, now: now)

        return catalog.endpoints.indices.map { index in
            let endpointBox = catalog.endpoints[index], route = catalog.routes[index]
            let endpoint = endpointBox.value
            let recentOfEndpoint = recentFigures[index]
            let burn = CostBurn.totalBurn(versions: costs[endpoint.name] ?? [:], bench: bench[endpoint.name] ?? [:],
                                          live: recentOfEndpoint, now: recent.end)
            return EndpointStatus(endpointBox: endpointBox, targetKind: route.targetKind, weights: route.weights,
                                  deploymentBox: route.deployment, keepWarmBox: keepWarm[endpoint.name].map(Boxed.init),
                                  requestsPerSecondLastMinute: minuteRates[index] ?? 0,
                                  recent: recentOfEndpoint ?? EndpointFigures(total: LiveFigures(windowSeconds: recent.seconds)),
                                  coldStartsLastHour: coldStarts[index] ?? 0,
                                  instances: instances[endpoint.name]?.total ?? InstanceFigures(),
                                  today: burn.today, projectedMonth: burn.projectedMonth,
                                  sparkline: sparklines[endpoint.name] ?? [], drift: drifts[endpoint.name]?.summary)
        }
    }
}

extension Registry {
    /// Everything the dashboard shows, in one read transaction; lists keep their newest `historyLimit` rows.
    /// With `rolling` (kept by the caller from one refresh to the next, `RollingFigures.dashboard` at first),
    /// the live figures are brought up to date rather than read again.
    public func fleet(now: Date, historyLimit: Int = 500, rolling: inout RollingFigures?) throws -> Fleet {
        try read { db in
            let catalog = try FleetCatalog.current(db, kept: rolling?.catalog)
            rolling?.catalog = catalog
            return Fleet(daemon: try DaemonStatus.load(db, now: now),
                         endpoints: try EndpointStatus.loadAll(db, now: now, catalog: catalog, rolling: &rolling),
                         versions: catalog.versions, deployments: try Listings.deployments(db, limit: historyLimit),
                         targets: catalog.targets, events: try Listings.events(db, limit: historyLimit),
                         failingNotifications: try FailingNotification.load(db))
        }
    }

    /// Everything the dashboard shows, every figure read afresh.
    public func fleet(now: Date, historyLimit: Int = 500) throws -> Fleet {
        var none: RollingFigures?
        return try fleet(now: now, historyLimit: historyLimit, rolling: &none)
    }

    /// The endpoints as `modeldeck get endpoints` and `/api/v1/endpoints` list them, with their live figures
    /// over `window` when one is given.
    public func listEndpoints(window: LiveWindow?) throws -> [Listings.EndpointRow] {
        try read { db in
            var rows = try Listings.endpoints(db)
            guard let window else { return rows }
            var builder = EndpointFigures.Builder(window: window)
            try StoredBucket.forEach(db, overlapping: window) { try builder.add($0) }
            let figures = builder.figures()
            let instances = try Registry.instanceFigures(db)
            let nowDate = Date(timeIntervalSince1970: TimeInterval(window.end))
            // Over the five minutes `CostBurn` reads its rate from, the figures just built are those.
            let burn = Dictionary(try CostBurn.load(db, now: nowDate, recent: window.seconds == CostBurn.nowWindowSeconds ? figures : nil)
                                    .endpoints.map { ($0.endpoint, $0.burn) }, uniquingKeysWith: { a, _ in a })
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
