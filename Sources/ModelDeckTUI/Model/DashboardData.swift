import Foundation
import GRDB
import ModelDeckCore

/// Everything the dashboard shows, read from the registry in one read transaction (a consistent view),
/// never from the network. Built on a background task when the registry changes or a second has passed;
/// drawing a frame only lays this out.
public struct DashboardData: Sendable {
    public var registryPath: String
    public var loadedAt: Date
    public var daemon: DaemonStatus
    public var endpoints: [EndpointSummary] { didSet { totals() } }
    public var versions: [Listings.VersionRow]
    public var deployments: [Listings.DeploymentRow]
    public var targets: [Listings.TargetRow]
    public var events: [Listings.EventRow]

    public init(registryPath: String, loadedAt: Date, daemon: DaemonStatus = DaemonStatus(state: .never),
                endpoints: [EndpointSummary] = [], versions: [Listings.VersionRow] = [],
                deployments: [Listings.DeploymentRow] = [], targets: [Listings.TargetRow] = [], events: [Listings.EventRow] = []) {
        self.registryPath = registryPath
        self.loadedAt = loadedAt
        self.daemon = daemon
        self.endpoints = endpoints
        self.versions = versions
        self.deployments = deployments
        self.targets = targets
        self.events = events
        totals()
    }

    /// Burn of every endpoint, in micro-dollars per hour.
    public private(set) var totalBurnMicrosPerHour: Int64 = 0
    public private(set) var endpointsInTrouble = 0

    /// Summed once per snapshot, not per frame: the header shows them 10 times a second.
    private mutating func totals() {
        totalBurnMicrosPerHour = endpoints.reduce(0) { $0 + $1.burnMicrosPerHour }
        endpointsInTrouble = endpoints.filter { !$0.breaches.isEmpty }.count
    }

    /// How many events and deployments the views keep: the newest.
    public static let historyLimit = 500

    public static func load(_ db: Database, registryPath: String, now: Date) throws -> DashboardData {
        DashboardData(registryPath: registryPath, loadedAt: now, daemon: try DaemonStatus.load(db, now: now),
                      endpoints: try EndpointSummary.loadAll(db, now: now), versions: try Listings.versions(db),
                      deployments: try Listings.deployments(db, limit: historyLimit), targets: try Listings.targets(db),
                      events: try Listings.events(db, limit: historyLimit))
    }
}

/// One version's share of an endpoint's traffic.
public struct VersionWeight: Equatable, Sendable {
    public var version: String
    public var weight: Int

    public init(version: String, weight: Int) {
        self.version = version
        self.weight = weight
    }
}

/// One row of the endpoints view: configuration, live traffic and the figures of the last minutes.
public struct EndpointSummary: Equatable, Sendable {
    /// Why a row stands out.
    public enum Breach: String, CaseIterable, Sendable {
        case latency, errors, budget
    }

    public var name: String
    public var model: String
    public var target: String
    public var targetKind: String
    public var production: Bool
    /// Versions taking traffic, heaviest first.
    public var traffic: [VersionWeight]
    /// The deploy or rollback in flight, if any.
    public var deployment: Deployment?
    public var slo: SLO
    public var dailyBudgetMicros: Int64?
    public var keepWarm: KeepWarmPolicy
    public var nextPing: Date?
    public var lastPingResult: String?
    public var pingRequested: Bool
    public var concurrency: Int
    public var maxInstances: Int

    /// User requests per second over the last minute (pings left out).
    public var requestsPerSecond: Double = 0
    /// User requests and errors over the last five minutes, and their latency.
    public var recentRequests: Int64 = 0
    public var recentErrors: Int64 = 0
    public var p50Milliseconds: Double?
    public var p99Milliseconds: Double?
    public var coldStartsLastHour: Int64 = 0
    public var inFlight: Int = 0
    public var warmInstances: Int = 0
    /// Cost of the last five minutes as a rate, keep-warm pings included (and also given apart).
    public var burnMicrosPerHour: Int64 = 0
    public var warmupBurnMicrosPerHour: Int64 = 0
    /// Cost since midnight UTC, keep-warm pings included (and also given apart).
    public var todayMicros: Int64 = 0
    public var todayWarmupMicros: Int64 = 0
    /// This month's cost at the recent rate.
    public var projectedMonthMicros: Int64 = 0
    /// The worst p99 of each of the last `sparklineMinutes` minutes, oldest first; nil where idle.
    public var sparkline: [Double?] = []

    public static let sparklineMinutes = 30
    /// Latency and errors are judged over this window.
    public static let recentSeconds: Int64 = 300

    public init(name: String, model: String, target: String, targetKind: String = "local", production: Bool = false,
                traffic: [VersionWeight] = [], deployment: Deployment? = nil, slo: SLO = SLO(), dailyBudgetMicros: Int64? = nil,
                keepWarm: KeepWarmPolicy = .off, nextPing: Date? = nil, lastPingResult: String? = nil, pingRequested: Bool = false,
                concurrency: Int = 1, maxInstances: Int = 1) {
        self.name = name
        self.model = model
        self.target = target
        self.targetKind = targetKind
        self.production = production
        self.traffic = traffic
        self.deployment = deployment
        self.slo = slo
        self.dailyBudgetMicros = dailyBudgetMicros
        self.keepWarm = keepWarm
        self.nextPing = nextPing
        self.lastPingResult = lastPingResult
        self.pingRequested = pingRequested
        self.concurrency = concurrency
        self.maxInstances = maxInstances
    }

    /// Error rate of the last five minutes in parts per million; nil without requests.
    public var errorRatePPM: Int64? {
        recentRequests == 0 ? nil : recentErrors * 1_000_000 / recentRequests
    }

    /// Requests the endpoint can serve at once.
    public var maxConcurrency: Int { concurrency * maxInstances }

    /// The SLO and budget limits this endpoint breaks now. Errors need a handful of requests, so one failure
    /// on an idle endpoint does not paint it red.
    public var breaches: Set<Breach> {
        var result = Set<Breach>()
        if let p99 = p99Milliseconds, p99 > Double(slo.p99Milliseconds) { result.insert(.latency) }
        if let rate = errorRatePPM, recentRequests >= 10, rate > slo.errorRatePPM { result.insert(.errors) }
        if let budget = dailyBudgetMicros, budget > 0, todayMicros > budget { result.insert(.budget) }
        return result
    }

    /// Today's spend as a share of the daily budget, in percent.
    public var budgetPercent: Int? {
        guard let budget = dailyBudgetMicros, budget > 0 else { return nil }
        return Int(todayMicros * 100 / budget)
    }

    /// Every endpoint with its figures, in name order. Reads only recent metric buckets: the last hour for
    /// cold starts and the sparkline, the last five minutes' histograms for p50/p99; costs come from `CostBurn`.
    static func loadAll(_ db: Database, now: Date) throws -> [EndpointSummary] {
        let nowSeconds = Int64(now.timeIntervalSince1970)
        let targets = Dictionary(try Target.fetchAll(db).map { ($0.name, $0.kind.rawValue) }, uniquingKeysWith: { a, _ in a })
        var traffic: [String: [VersionWeight]] = [:]
        for row in try Row.fetchAll(db, sql: "SELECT endpoint, version_id, weight FROM traffic WHERE weight > 0") {
            traffic[row["endpoint"], default: []].append(VersionWeight(version: row["version_id"], weight: row["weight"]))
        }
        let active = Dictionary(try Deployment.activeDeploys(db).map { ($0.endpoint, $0) }, uniquingKeysWith: { a, _ in a })
        var keepWarm: [String: Row] = [:]
        for row in try Row.fetchAll(db, sql: "SELECT * FROM keep_warm_state") { keepWarm[row["endpoint"]] = row }

        var summaries: [String: EndpointSummary] = [:]
        var order: [String] = []
        for endpoint in try Endpoint.fetchAll(db, sql: "SELECT * FROM endpoints ORDER BY name") {
            let state = keepWarm[endpoint.name]
            summaries[endpoint.name] = EndpointSummary(
                name: endpoint.name, model: endpoint.model, target: endpoint.target,
                targetKind: targets[endpoint.target] ?? "?", production: endpoint.production,
                traffic: (traffic[endpoint.name] ?? []).sorted { ($0.weight, $1.version) > ($1.weight, $0.version) },
                deployment: active[endpoint.name], slo: endpoint.slo, dailyBudgetMicros: endpoint.dailyBudgetMicros,
                keepWarm: endpoint.keepWarm, nextPing: state?["next_ping_at"], lastPingResult: state?["last_result"],
                pingRequested: (state?["ping_requested_at"] as Date?) != nil,
                concurrency: endpoint.concurrency, maxInstances: endpoint.maxInstances)
            order.append(endpoint.name)
        }

        for row in try Row.fetchAll(db, sql: "SELECT endpoint, state, in_flight FROM instances") {
            let name: String = row["endpoint"]
            guard summaries[name] != nil else { continue }
            summaries[name]?.inFlight += row["in_flight"]
            if ["idle", "busy"].contains(row["state"] as String) { summaries[name]?.warmInstances += 1 }
        }

        let hourAgo = nowSeconds - 3_600
        let recentFrom = nowSeconds - recentSeconds
        let minuteAgo = nowSeconds - 60
        let sparkFrom = (nowSeconds / 60 - Int64(sparklineMinutes) + 1) * 60
        var recentLatency: [String: LatencyPairs] = [:]
        for row in try Row.fetchAll(db, sql: """
            SELECT endpoint, start, width_s, requests, errors, cold_starts, p99_ms, cost_micros, warmup_cost_micros,
                   CASE WHEN start + width_s > ?1 AND requests > 0 THEN latency_hist END AS recent_hist
            FROM metric_buckets WHERE start + width_s > ?2
            """, arguments: [recentFrom, hourAgo]) {
            let name: String = row["endpoint"]
            guard var summary = summaries[name] else { continue }
            let start: Int64 = row["start"]
            let width: Int64 = row["width_s"]
            let requests: Int64 = row["requests"]
            summary.coldStartsLastHour += row["cold_starts"]
            if start + width > minuteAgo {
                // Part of a bucket that straddles the minute counts pro rata.
                let covered = min(width, start + width - minuteAgo)
                summary.requestsPerSecond += Double(requests) * Double(covered) / Double(width) / 60
            }
            if start + width > recentFrom {
                summary.recentRequests += requests
                summary.recentErrors += row["errors"]
                if let blob: Data = row["recent_hist"] {
                    try recentLatency[name, default: LatencyPairs()].add(encoded: blob)
                }
            }
            if requests > 0, start >= sparkFrom, let p99: Double = row["p99_ms"] {
                if summary.sparkline.isEmpty { summary.sparkline = Array(repeating: nil, count: sparklineMinutes) }
                let index = Int((start - sparkFrom) / 60)
                if index < sparklineMinutes { summary.sparkline[index] = max(summary.sparkline[index] ?? 0, p99) }
            }
            summaries[name] = summary
        }
        for (name, latency) in recentLatency {
            summaries[name]?.p50Milliseconds = latency.milliseconds(atPercentile: 50)
            summaries[name]?.p99Milliseconds = latency.milliseconds(atPercentile: 99)
        }
        // Money comes from the cost engine's burn, the same figures `modeldeck cost burn` prints.
        for burn in try CostBurn.load(db, now: now).endpoints {
            summaries[burn.endpoint]?.burnMicrosPerHour = burn.burn.perHourNow.totalMicros
            summaries[burn.endpoint]?.warmupBurnMicrosPerHour = burn.burn.perHourNow.keepWarmMicros
            summaries[burn.endpoint]?.todayMicros = burn.burn.today.totalMicros
            summaries[burn.endpoint]?.todayWarmupMicros = burn.burn.today.keepWarmMicros
            summaries[burn.endpoint]?.projectedMonthMicros = burn.burn.projectedMonth.totalMicros
        }
        return order.compactMap { summaries[$0] }
    }
}
