import Foundation
import ModelDeckCore

/// What the daemon needs from a platform, and nothing platform-specific: the daemon and the TUI never
/// know which driver they talk to.
///
/// Drivers deal in values: they are given the endpoint and its versions, and return what the platform
/// did or measured. They never read or write the registry; the daemon prices and stores what they return.
public protocol TargetDriver: Sendable {
    var target: Target { get }

    /// Why this target cannot be driven from here (no credentials, a kind without a driver), or nil when it can.
    /// Every call of a driver with a reason fails with it; the daemon skips such a target's pings and metrics.
    var unavailableReason: String? { get }

    /// Makes `version` ready to take traffic on `endpoint` (idempotent). Throws a `ModelDeckError` that
    /// says why when the target cannot run it.
    func provision(_ version: ModelVersion, on endpoint: Endpoint) async throws

    /// Makes the target route `endpoint`'s traffic by `weights` (version id → percent; idempotent).
    /// `versions` holds the endpoint's model's versions by id, those named in `weights` among them.
    func setWeights(_ weights: [String: Int], on endpoint: Endpoint, versions: [String: ModelVersion]) async throws

    /// What the target routes now (version id → percent), for drift checks. `versions` as for `setWeights`:
    /// what the platform names are mapped back to.
    func liveWeights(of endpoint: Endpoint, versions: [String: ModelVersion]) async throws -> [String: Int]

    /// Sends `count` keep-warm pings at once to `version` of `endpoint`, so that `count` instances are warm,
    /// and says what each did.
    func ping(_ version: ModelVersion, of endpoint: Endpoint, count: Int) async throws -> [PingResult]

    /// Sends one synthetic probe to `endpoint` (serving `version`) and says what it did: a target whose endpoints
    /// someone else runs (http) is seen through these alone. A probe that got no answer is a result (status 0),
    /// not an error; a target that is not probed throws.
    func probe(_ version: ModelVersion, of endpoint: Endpoint) async throws -> PingResult

    /// What the platform measured for `versions` of `endpoint` between `from` and `to` (AWS: CloudWatch),
    /// per version and period. A target measured at ModelDeck's own gateway (local) has nothing to give.
    func collectMetrics(of endpoint: Endpoint, versions: [ModelVersion], from: Date, to: Date) async throws -> PlatformMetrics

    /// Configures `count` environments the platform keeps initialised for `endpoint` (Lambda: provisioned
    /// concurrency on the alias), or removes the configuration when `count` is 0; returns how it stands then
    /// (nil once removed). Targets without it throw (`TargetDescriptor.provisionsConcurrency`).
    func setProvisionedConcurrency(_ count: Int, on endpoint: Endpoint) async throws -> ProvisionedConcurrencyConfig?

    /// How `endpoint`'s provisioned concurrency stands on the platform, or nil when none is configured.
    func provisionedConcurrency(of endpoint: Endpoint) async throws -> ProvisionedConcurrencyConfig?

    /// Whether its calls cross the network to a platform (seconds to minutes each): the daemon then runs
    /// them in the background, checks drift once a minute, and collects the platform's metrics.
    var isRemote: Bool { get }

    /// Whether the platform measures what the endpoint did (CloudWatch), so the daemon collects it once a minute.
    var collectsPlatformMetrics: Bool { get }

    /// Whether what it routes is the registry's own traffic table (the local kind's gateway): it can then drift
    /// from the registry only when the registry moves, and the daemon checks it only then.
    var routesByRegistry: Bool { get }
}

extension TargetDriver {
    public func collectMetrics(of endpoint: Endpoint, versions: [ModelVersion], from: Date, to: Date) async throws -> PlatformMetrics {
        PlatformMetrics()
    }

    public func probe(_ version: ModelVersion, of endpoint: Endpoint) async throws -> PingResult {
        throw ModelDeckError("target \(target.label) is not probed: ModelDeck measures its endpoints itself")
    }

    public func setProvisionedConcurrency(_ count: Int, on endpoint: Endpoint) async throws -> ProvisionedConcurrencyConfig? {
        throw ModelDeckError("target \(target.label) has no provisioned concurrency")
    }

    public func provisionedConcurrency(of endpoint: Endpoint) async throws -> ProvisionedConcurrencyConfig? {
        throw ModelDeckError("target \(target.label) has no provisioned concurrency")
    }

    public var isRemote: Bool { target.descriptor.isRemote }

    public var collectsPlatformMetrics: Bool { target.descriptor.metrics == .platform }

    public var routesByRegistry: Bool { target.descriptor.servedByGateway }

    public var unavailableReason: String? { nil }
}

/// One keep-warm ping as the target answered it.
public struct PingResult: Equatable, Sendable {
    public var status: Int
    public var coldStart: Bool
    /// The round trip as ModelDeck timed it.
    public var milliseconds: Int
    /// What the platform billed for it (Lambda's REPORT line); nil when it does not say, and the round trip
    /// is then the price's upper bound.
    public var billedMilliseconds: Int64?
    /// The memory it ran with, when the platform says (else the endpoint's).
    public var memoryMB: Int?
    /// Whether the target recorded it itself, as a warmup in the metric buckets (the local gateway does):
    /// the daemon records only the others.
    public var recordedByTarget: Bool
    /// Figures of the platform's answer left out as impossible (a billed duration beyond any timeout), as it
    /// gave them: the daemon logs them.
    public var refused: [String]

    public init(status: Int, coldStart: Bool, milliseconds: Int, billedMilliseconds: Int64? = nil, memoryMB: Int? = nil,
                recordedByTarget: Bool = false, refused: [String] = []) {
        self.refused = refused
        self.status = status
        self.coldStart = coldStart
        self.milliseconds = milliseconds
        self.billedMilliseconds = billedMilliseconds
        self.memoryMB = memoryMB
        self.recordedByTarget = recordedByTarget
    }

    /// As a warmup invocation (or, with `probe`, a probe) of `version` on `endpoint`, priced by `rates`: what the
    /// daemon records.
    public func invocation(endpoint: Endpoint, version: String, at: Date, concurrent: Int, rates: InvocationRates?,
                           probe: Bool = false) -> Invocation {
        let billed = billedMilliseconds ?? Int64(milliseconds)
        return Invocation(endpoint: endpoint.name, version: version, at: at, latencyMicroseconds: UInt64(max(0, billed)) * 1_000,
                          status: status, coldStart: coldStart, warmup: !probe, probe: probe, inFlight: concurrent,
                          memoryMB: memoryMB ?? endpoint.memoryMB, rates: rates)
    }
}

/// What a platform measured, per version and period, before ModelDeck prices and stores it.
public struct PlatformMetrics: Sendable {
    /// One version's figures in one period, and the memory it ran with.
    public struct Period: Sendable {
        public var key: MetricBucket.Key
        public var figures: PeriodFigures
        public var memoryMB: Int

        public init(key: MetricBucket.Key, figures: PeriodFigures, memoryMB: Int) {
            self.key = key
            self.figures = figures
            self.memoryMB = memoryMB
        }
    }

    public var periods: [Period]
    /// Whether the platform counts cold starts (SageMaker's `ModelSetupTime`); Lambda's metrics do not.
    public var countsColdStarts: Bool
    /// Points left out as impossible (not finite, negative, or beyond `AWSNumber.limit`), as `query_id=value`:
    /// the daemon logs them.
    public var refused: [String] = []

    public init(periods: [Period] = [], countsColdStarts: Bool = false) {
        self.periods = periods
        self.countsColdStarts = countsColdStarts
    }

    /// The periods as metric buckets priced by `rates` and, for task time, `taskRates` (`PeriodFigures.bucket`),
    /// periods of one key added.
    /// A period whose figures count instances (`PeriodFigures.instances`) costs them for its width at
    /// `perInstanceHour`: instance-hours × price, busy or not.
    public func buckets(rates: InvocationRates?, taskRates: TaskRates? = nil, perInstanceHour: Decimal? = nil) -> [MetricBucket.Key: MetricBucket] {
        var buckets: [MetricBucket.Key: MetricBucket] = [:]
        for period in periods {
            var bucket = period.figures.bucket(memoryMB: period.memoryMB, rates: rates, taskRates: taskRates)
            if let instances = period.figures.instances.flatMap({ AWSNumber.whole($0, limit: 1e6) }) {
                bucket.instances = instances
                if let perInstanceHour {
                    bucket.costMicros += Money.micros(Decimal(instances) * Decimal(period.key.width) / 3_600 * perInstanceHour)
                }
            }
            buckets[period.key, default: MetricBucket()].add(bucket)
        }
        return buckets
    }
}

/// `count` pings sent at once, each by `send`: the fan-out every driver shares.
public func sendConcurrently(_ count: Int, _ send: @escaping @Sendable () async throws -> PingResult) async throws -> [PingResult] {
    try await withThrowingTaskGroup(of: PingResult.self) { group in
        for _ in 0..<max(1, count) { group.addTask { try await send() } }
        return try await group.reduce(into: []) { $0.append($1) }
    }
}
