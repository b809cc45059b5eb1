import Foundation
import ModelDeckCore

/// The sagemaker-realtime driver: one SageMaker model and one production variant per ModelDeck version, on the
/// target's `instance_type` × `instance_count`, all in one real-time endpoint per ModelDeck endpoint.
///
/// - A version the endpoint does not hold yet comes with `UpdateEndpoint` to a new endpoint config that holds
///   every version taking traffic, each with its weight (a canary: the old and the new variant, 90/10).
/// - Every other change of weights (canary steps, linear steps, promotion, rollback) is one
///   `UpdateEndpointWeightsAndCapacities` on the variants the endpoint has: no new config per step, and no
///   instance is replaced, so a rollback moves traffic back to instances that are already warm.
/// - After a promotion the old variant stays at weight 0 (still on its instances, and billed) until the next
///   new version's config leaves it out: rolling back a promotion is a weight change, not a new deployment.
///
/// Facts relied on: https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_UpdateEndpoint.html,
/// https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_UpdateEndpointWeightsAndCapacities.html,
/// https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_DescribeEndpoint.html (`CurrentWeight` per variant).
public struct SageMakerRealtimeDriver: TargetDriver {
    public let target: Target
    private let client: AWSClient
    /// How often `DescribeEndpoint` is polled while the endpoint is created or updated, and for how long.
    public var pollInterval: Duration = .seconds(5)
    public var inServiceTimeout: Duration = .seconds(30 * 60)
    /// Whether `collectMetrics` asks for `ModelLatency` percentiles (moto 5.2 answers a percentile with HTTP 500).
    public var percentiles = true

    public init(target: Target, client: AWSClient) {
        self.target = target
        self.client = client
    }

    var hosting: SageMakerHosting { SageMakerHosting(target: target, client: client, pollInterval: pollInterval, inServiceTimeout: inServiceTimeout) }

    public func endpointName(_ endpoint: String) -> String { hosting.endpointName(endpoint) }

    /// The instance type and count every variant runs on (`apply` checked the type against `SageMakerInstanceType`).
    var instanceType: String { target.setting("instance_type") ?? "" }
    var instanceCount: Int { target.setting("instance_count").flatMap(Int.init) ?? 1 }

    /// A config is named after what it holds: its models, their weights, the instance type and count.
    func configName(endpoint: Endpoint, weights: [(version: ModelVersion, weight: Int)]) -> String {
        let settings = weights.map { "\(hosting.modelName(endpoint: endpoint.name, version: $0.version))=\($0.weight)" }.joined(separator: ",")
            + " \(instanceType) \(instanceCount)"
        return SageMakerHosting.name(["md", endpoint.name, SageMakerHosting.shortHash(settings)])
    }

    // MARK: TargetDriver

    public func provision(_ version: ModelVersion, on endpoint: Endpoint) async throws {
        try FitCheck.require(version: version, endpoint: endpoint, target: target)
        try await hosting.createModel(version, on: endpoint)
    }

    public func setWeights(_ weights: [String: Int], on endpoint: Endpoint, versions: [String: ModelVersion]) async throws {
        let taking = weights.filter { $0.value > 0 }.sorted { $0.key < $1.key }
        guard !taking.isEmpty else { throw ModelDeckError("asked to route none of \(endpoint.name)'s traffic; a real-time endpoint needs a variant with weight") }
        var wanted: [(version: ModelVersion, weight: Int)] = []
        for (id, weight) in taking {
            guard let version = versions[id] else { throw ModelDeckError("no version '\(id)' of endpoint '\(endpoint.name)' in the registry") }
            // Before any call: a version that cannot fit one instance is refused, naming the limit.
            try FitCheck.require(version: version, endpoint: endpoint, target: target)
            wanted.append((version, weight))
        }
        let name = endpointName(endpoint.name)
        let what = Drift.describe(weights)
        if let current = try await hosting.describeEndpoint(name),
           let live = current.ProductionVariants, !live.isEmpty,
           Set(wanted.map { SageMakerHosting.variantName($0.version) }).isSubset(of: live.map(\.VariantName)) {
            // Every version taking traffic has its variant: only the weights move.
            let asked = Dictionary(wanted.map { (SageMakerHosting.variantName($0.version), $0.weight) }, uniquingKeysWith: +)
            guard Self.percents(live) != asked.filter({ $0.value > 0 }) || current.EndpointStatus != "InService" else { return }
            try SageMakerHosting.requireSettled(current, name: name, following: what)
            _ = try await hosting.call("UpdateEndpointWeightsAndCapacities", [
                "EndpointName": AnyEncodable(name),
                "DesiredWeightsAndCapacities": AnyEncodable(live.map { variant in
                    ["VariantName": AnyEncodable(variant.VariantName), "DesiredWeight": AnyEncodable(Double(asked[variant.VariantName] ?? 0)),
                     "DesiredInstanceCount": AnyEncodable(instanceCount)]
                }),
            ])
            try await hosting.waitInService(name, config: nil)
            return
        }
        // A version the endpoint does not hold: a config with every version that takes traffic, each with its weight.
        for (version, _) in wanted { try await provision(version, on: endpoint) }
        let config = configName(endpoint: endpoint, weights: wanted)
        try await hosting.createConfig(config, variants: wanted.map { version, weight in [
            "VariantName": AnyEncodable(SageMakerHosting.variantName(version)),
            "ModelName": AnyEncodable(hosting.modelName(endpoint: endpoint.name, version: version)),
            "InstanceType": AnyEncodable(instanceType),
            "InitialInstanceCount": AnyEncodable(instanceCount),
            "InitialVariantWeight": AnyEncodable(Double(weight)),
        ] })
        try await hosting.moveEndpoint(of: endpoint.name, to: config, following: what)
    }

    /// What the endpoint routes now, from `DescribeEndpoint`'s variants and their `CurrentWeight`s, as percent
    /// per version. A variant ModelDeck did not make shows under its SageMaker name, so drift sees it.
    public func liveWeights(of endpoint: Endpoint, versions known: [String: ModelVersion]) async throws -> [String: Int] {
        guard let current = try await hosting.describeEndpoint(endpointName(endpoint.name)) else { return [:] }
        let byVariant = Dictionary(known.values.map { (SageMakerHosting.variantName($0), $0.id) }, uniquingKeysWith: { a, _ in a })
        var weights: [String: Int] = [:]
        for (variant, percent) in Self.percents(current.ProductionVariants ?? []) {
            weights[byVariant[variant] ?? "sagemaker:\(variant)", default: 0] += percent
        }
        return weights
    }

    /// Each variant's share of the weights, in whole percent; variants at 0 left out. AWS's weights are relative
    /// (a variant's share is its weight over the sum); a weight not given is 0, as moto leaves a config's 0 out.
    static func percents(_ variants: [SageMakerHosting.EndpointDescription.Variant]) -> [String: Int] {
        let weights = variants.map { ($0.VariantName, $0.CurrentWeight ?? $0.DesiredWeight ?? 0) }
        let total = weights.reduce(0) { $0 + max(0, $1.1) }
        guard total > 0, total.isFinite else { return [:] }
        var percents: [String: Int] = [:]
        for (variant, weight) in weights {
            if let percent = AWSNumber.whole(weight / total * 100, limit: 100), percent > 0 { percents[variant, default: 0] += Int(percent) }
        }
        return percents
    }

    /// `count` concurrent `InvokeEndpoint` calls on the version's variant (`SageMakerHosting.ping`). A real-time
    /// instance is always on; a ping reaches it through SageMaker like a user's request.
    public func ping(_ version: ModelVersion, of endpoint: Endpoint, count: Int) async throws -> [PingResult] {
        try await hosting.ping(version, of: endpoint, count: count, upToSeconds: target.limits.maxTimeoutSeconds ?? 60)
    }

    // MARK: Metrics

    /// CloudWatch's per-variant figures: `Invocations`, `ModelLatency` and `Invocation5XXErrors` from
    /// `AWS/SageMaker`, and the instances' `CPUUtilization` and `MemoryUtilization` from
    /// `/aws/sagemaker/Endpoints` (https://docs.aws.amazon.com/sagemaker/latest/dg/monitoring-cloudwatch.html).
    /// A minute in which the variant's instances reported utilization is a minute they ran: its figures carry the
    /// instance count, which the daemon prices by the instance-hour (`PlatformMetrics.buckets`).
    public func collectMetrics(of endpoint: Endpoint, versions serving: [ModelVersion], from: Date, to: Date) async throws -> PlatformMetrics {
        var measured = try await hosting.collect(SageMakerStatistic.allCases.filter { $0 != .setups && (percentiles || !$0.isPercentile) },
                                                 namespace: "AWS/SageMaker", of: endpoint, versions: serving, from: from, to: to)
        let instances = try await hosting.collect(SageMakerInstanceStatistic.allCases, namespace: "/aws/sagemaker/Endpoints",
                                                  of: endpoint, versions: serving, from: from, to: to)
        measured.countsColdStarts = false // an instance-backed variant does not cold-start per request
        measured.refused += instances.refused
        measured.periods += instances.periods.map { period in
            var period = period
            period.figures.instances = Double(instanceCount)
            return period
        }
        return measured
    }
}

/// The per-instance figures of a real-time variant (namespace `/aws/sagemaker/Endpoints`), each period's average
/// over its instances. CPU is in percent of one core, so it runs to 100 × vCPUs; memory in percent of the instance's.
enum SageMakerInstanceStatistic: String, PlatformStatistic {
    case cpu, memory

    var name: String { rawValue }
    static let countsColdStarts = false
    var metric: String { self == .cpu ? "CPUUtilization" : "MemoryUtilization" }
    var stat: String { "Average" }
    var isPercentile: Bool { false }

    func set(_ value: Double, in figures: inout PeriodFigures) {
        switch self {
        case .cpu: figures.cpuUtilization = value
        case .memory: figures.memoryUtilization = value
        }
    }
}
