import Foundation
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
    /// Notification entries whose deliveries fail: the header names them.
    public var failingNotifications: [FailingNotification]
    /// Stored `modeldeck bench` runs, newest first (the `:bench` view).
    public var benchRuns: [BenchRun] = []

    public init(registryPath: String, loadedAt: Date, daemon: DaemonStatus = DaemonStatus(state: .never),
                endpoints: [EndpointSummary] = [], versions: [Listings.VersionRow] = [],
                deployments: [Listings.DeploymentRow] = [], targets: [Listings.TargetRow] = [], events: [Listings.EventRow] = [],
                failingNotifications: [FailingNotification] = []) {
        self.registryPath = registryPath
        self.loadedAt = loadedAt
        self.daemon = daemon
        self.endpoints = endpoints
        self.versions = versions
        self.deployments = deployments
        self.targets = targets
        self.events = events
        self.failingNotifications = failingNotifications
        totals()
    }

    /// Burn of every endpoint, in micro-dollars per hour.
    public private(set) var totalBurnMicrosPerHour: Int64 = 0
    public private(set) var endpointsInTrouble = 0

    /// Summed once per snapshot, not per frame: the header shows them 10 times a second.
    private mutating func totals() {
        // Counted in one pass: a filtered array would copy every row in trouble (all 10,000 of them, at worst).
        var burn: Int64 = 0, trouble = 0
        for endpoint in endpoints {
            burn += endpoint.burnMicrosPerHour
            if endpoint.isInTrouble { trouble += 1 }
        }
        totalBurnMicrosPerHour = burn
        endpointsInTrouble = trouble
    }

    /// How many events and deployments the views keep: the newest.
    public static let historyLimit = 500

    /// SQLite's `mmap_size` on the dashboard's read-only connection (`Registry.init(mmapBytes:)`).
    public static let mmapBytes: Int64 = 0

    /// One snapshot of the registry (one read transaction), laid out for the views.
    /// `rolling`: the live figures kept from the last snapshot (`RollingFigures.dashboard` at first); without
    /// it every figure is read afresh.
    public static func load(_ registry: Registry, now: Date, rolling: inout RollingFigures?) throws -> DashboardData {
        var fleet = try registry.fleet(now: now, historyLimit: historyLimit, rolling: &rolling)
        // The statuses are moved into one table the rows share, not copied into each row (1.3 KB apiece).
        let statuses = EndpointStatusTable(fleet.endpoints)
        fleet.endpoints = []
        var data = DashboardData(registryPath: registry.path, loadedAt: now, daemon: fleet.daemon,
                                 endpoints: statuses.rows(), versions: fleet.versions,
                                 deployments: fleet.deployments, targets: fleet.targets, events: fleet.events,
                                 failingNotifications: fleet.failingNotifications)
        data.benchRuns = try registry.benchRuns(limit: historyLimit)
        return data
    }

    /// One snapshot with every figure read afresh.
    public static func load(_ registry: Registry, now: Date) throws -> DashboardData {
        var none: RollingFigures?
        return try load(registry, now: now, rolling: &none)
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
    public var deployment: Deployment? {
        get { deploymentBox?.value }
        set { deploymentBox = newValue.map(Boxed.init) }
    }
    /// Where `deployment` is kept: most rows have none, and inline it is 224 bytes of each row.
    private var deploymentBox: Boxed<Deployment>?
    /// The target routes otherwise than the registry says (issue #17: drift made visible).
    public var drift: String?
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
    /// User requests and errors over the last five minutes, and their latency (an endpoint seen only through
    /// probes: the probes', `LiveFigures.observed`).
    public var recentRequests: Int64 = 0
    public var recentErrors: Int64 = 0
    public var p50Milliseconds: Double?
    public var p99Milliseconds: Double?
    public var coldStartsLastHour: Int64 = 0
    /// Share of the last five minutes' probes that were answered (an endpoint someone else runs); nil without probes.
    public var availability: Double?
    /// Whether latency, errors and cold starts are the probes' (`LiveFigures.observed`).
    public var fromProbes = false
    public var inFlight: Int = 0
    public var warmInstances: Int = 0
    /// Versions whose starts keep failing (the runtime backs off between tries), in id order.
    public var crashLooping: [String] = []
    /// Cost of the last five minutes as a rate, keep-warm pings included (and also given apart).
    public var burnMicrosPerHour: Int64 = 0
    public var warmupBurnMicrosPerHour: Int64 = 0
    /// Cost since midnight UTC, keep-warm pings included (and also given apart).
    public var todayMicros: Int64 = 0
    public var todayWarmupMicros: Int64 = 0
    public var todayBenchMicros: Int64 = 0
    /// This month's cost at the recent rate.
    public var projectedMonthMicros: Int64 = 0
    /// The worst p99 of each of the last `sparklineMinutes` minutes, oldest first; nil where idle.
    public var sparkline: [Double?] = []

    public static let sparklineMinutes = Fleet.sparklineMinutes
    /// Latency and errors are judged over this window.
    public static let recentSeconds: Int64 = Fleet.recentSeconds
    /// The registry's status this row was made from (its live figures per window and version); nil in tests
    /// that build rows by hand.
    public var live: EndpointStatus? {
        get { status.map { $0.table.all[$0.index] } }
        set { status = newValue.map { EndpointStatusTable.Reference(table: EndpointStatusTable([$0]), index: 0) } }
    }
    /// Where `live` is: a snapshot's statuses are one table that every row of it refers to.
    private var status: EndpointStatusTable.Reference?

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
        self.deploymentBox = deployment.map(Boxed.init)
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
    public var breaches: Set<Breach> { Set(Breach.allCases.filter(breaks)) }

    /// Whether this endpoint breaks `breach` now.
    public func breaks(_ breach: Breach) -> Bool {
        switch breach {
        case .latency:
            if let p99 = p99Milliseconds { return p99 > Double(slo.p99Milliseconds) }
            return false
        case .errors:
            if let rate = errorRatePPM { return recentRequests >= 10 && rate > slo.errorRatePPM }
            return false
        case .budget:
            if let budget = dailyBudgetMicros { return budget > 0 && todayMicros > budget }
            return false
        }
    }

    /// A limit broken or a version crash-looping: the header counts these rows (no set made per row).
    public var isInTrouble: Bool { Breach.allCases.contains(where: breaks) || !crashLooping.isEmpty }

    /// Today's spend as a share of the daily budget, in percent.
    public var budgetPercent: Int? {
        guard let budget = dailyBudgetMicros, budget > 0 else { return nil }
        return Int(todayMicros * 100 / budget)
    }

    /// A row of the endpoints view from the registry's status of the endpoint: request rate over the last
    /// minute, latency, errors and burn over the last five, cold starts over the last hour — the live figures
    /// every other view reads the same way (`LiveFigures`). `status` is `statuses.all[index]`, read in place.
    fileprivate init(_ status: UnsafePointer<EndpointStatus>, in statuses: EndpointStatusTable, at index: Int) {
        self.init(status)
        self.status = EndpointStatusTable.Reference(table: statuses, index: index)
    }

    private init(_ status: UnsafePointer<EndpointStatus>) {
        let endpoint = status.pointee.endpoint
        var traffic = status.pointee.weights.map { VersionWeight(version: $0.key, weight: $0.value) }
        if traffic.count > 1 { traffic.sort { ($0.weight, $1.version) > ($1.weight, $0.version) } }
        self.init(name: endpoint.name, model: endpoint.model, target: endpoint.target,
                  targetKind: status.pointee.targetKind?.rawValue ?? "?", production: endpoint.production, traffic: traffic,
                  deployment: status.pointee.deployment, slo: endpoint.slo, dailyBudgetMicros: endpoint.dailyBudgetMicros,
                  keepWarm: endpoint.keepWarm, nextPing: status.pointee.keepWarm?.nextPingAt, lastPingResult: status.pointee.keepWarm?.lastResult,
                  pingRequested: status.pointee.keepWarm?.pingRequestedAt != nil,
                  concurrency: endpoint.concurrency, maxInstances: endpoint.maxInstances)
        drift = status.pointee.drift
        let recent = status.pointee.recent.total
        requestsPerSecond = status.pointee.requestsPerSecondLastMinute
        // An endpoint someone else runs is seen through its probes alone: its latency and errors are theirs.
        let observed = recent.observed
        recentRequests = observed.fromProbes ? recent.probes : recent.requests
        recentErrors = observed.fromProbes ? recent.probeErrors : recent.errors
        p50Milliseconds = observed.p50Milliseconds
        p99Milliseconds = observed.p99Milliseconds
        availability = recent.availability
        fromProbes = observed.fromProbes
        coldStartsLastHour = status.pointee.coldStartsLastHour
        inFlight = status.pointee.instances.inFlight
        warmInstances = status.pointee.instances.warm
        crashLooping = status.pointee.instances.crashLooping
        burnMicrosPerHour = recent.burnMicrosPerHour
        warmupBurnMicrosPerHour = recent.pingBurnMicrosPerHour
        todayMicros = status.pointee.today.totalMicros
        todayWarmupMicros = status.pointee.today.keepWarmMicros
        todayBenchMicros = status.pointee.today.benchMicros
        projectedMonthMicros = status.pointee.projectedMonth.totalMicros
        sparkline = status.pointee.sparkline
    }
}

/// One snapshot's endpoint statuses, in the registry's order, shared by its rows: a row refers to its status
/// here rather than holding a copy, so a refresh at 10,000 endpoints neither copies 13 MB of statuses nor
/// retains each of their fields again.
final class EndpointStatusTable: Sendable {
    let all: [EndpointStatus]

    init(_ all: [EndpointStatus]) { self.all = all }

    /// A row for each status, made from the status where it lies: `all[index]` handed on, even as `borrowing`,
    /// is a copy (1.2 KB moved, and each of its fields retained and released again: a third of building the
    /// rows at 10,000 endpoints, in `perf`). Through a pointer, each field read is copied alone. The pointers
    /// do not outlive the buffer: the rows are made inside `withUnsafeBufferPointer`, of a `let` array.
    func rows() -> [EndpointSummary] {
        all.withUnsafeBufferPointer { buffer in
            buffer.indices.map { EndpointSummary(buffer.baseAddress! + $0, in: self, at: $0) }
        }
    }

    /// One row's status; equal when the statuses are.
    struct Reference: Equatable, Sendable {
        let table: EndpointStatusTable
        let index: Int

        static func == (lhs: Reference, rhs: Reference) -> Bool { lhs.table.all[lhs.index] == rhs.table.all[rhs.index] }
    }
}
