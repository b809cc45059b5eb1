import Foundation
import ModelDeckCore

/// The sagemaker-serverless driver: one SageMaker model per ModelDeck version, one endpoint config per
/// (version, memory, max concurrency), one serverless endpoint per ModelDeck endpoint.
///
/// A serverless endpoint takes a single production variant (AWS's feature exclusions), so it serves one
/// version at a time: a new version replaces the old with `UpdateEndpoint` (SageMaker's blue/green, all at
/// once), and a rollback is the same call back to the old config. `Intents.deploy` refuses canary and linear
/// here before anything is written (`TargetDescriptor.splitsTraffic`).
///
/// Every name is derived from the registry (the version's id and digest, the endpoint's settings), so the
/// driver keeps no state of its own: a daemon killed with -9 finds the same names again.
public struct SageMakerServerlessDriver: TargetDriver {
    public let target: Target
    private let client: AWSClient
    /// How often `DescribeEndpoint` is polled while the endpoint is created or updated, and for how long.
    public var pollInterval: Duration = .seconds(5)
    public var inServiceTimeout: Duration = .seconds(30 * 60)

    public init(target: Target, client: AWSClient) {
        self.target = target
        self.client = client
    }

    /// The calls both SageMaker drivers share.
    var hosting: SageMakerHosting { SageMakerHosting(target: target, client: client, pollInterval: pollInterval, inServiceTimeout: inServiceTimeout) }

    // MARK: Names

    /// SageMaker names (`SageMakerHosting.name`): at most 63 characters (`limit`; ELB target groups: 32).
    static func name(_ parts: [String], limit: Int = 63) -> String { SageMakerHosting.name(parts, limit: limit) }

    public func endpointName(_ endpoint: String) -> String { hosting.endpointName(endpoint) }

    func modelName(endpoint: String, version: ModelVersion) -> String { hosting.modelName(endpoint: endpoint, version: version) }

    func variantName(_ version: ModelVersion) -> String { SageMakerHosting.variantName(version) }

    func configName(endpoint: Endpoint, version: ModelVersion) -> String {
        let settings = "\(modelName(endpoint: endpoint.name, version: version)) \(endpoint.memoryMB) \(maxConcurrency(endpoint))"
        return Self.name(["md", endpoint.name, version.version, SageMakerHosting.shortHash(settings)])
    }

    /// Serverless MaxConcurrency counts concurrent invocations across the endpoint (1–200); each instance
    /// takes one at a time, so it is the endpoint's instance ceiling.
    func maxConcurrency(_ endpoint: Endpoint) -> Int { min(max(endpoint.maxInstances * endpoint.concurrency, 1), 200) }

    // MARK: TargetDriver

    public func provision(_ version: ModelVersion, on endpoint: Endpoint) async throws {
        try FitCheck.require(version: version, endpoint: endpoint, target: target)
        try await hosting.createModel(version, on: endpoint)
    }

    public func setWeights(_ weights: [String: Int], on endpoint: Endpoint, versions: [String: ModelVersion]) async throws {
        let name = endpoint.name
        let taking = weights.filter { $0.value > 0 }
        guard taking.count == 1, let versionID = taking.first?.key else {
            throw ModelDeckError("target \(target.label) serves one version of an endpoint at a time; asked to split \(name)'s traffic \(weights.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)%" }.joined(separator: ", "))")
        }
        guard let version = versions[versionID] else { throw ModelDeckError("no version '\(versionID)' of endpoint '\(name)' in the registry") }
        try await provision(version, on: endpoint)
        let config = configName(endpoint: endpoint, version: version)
        try await hosting.createConfig(config, variants: [[
            "VariantName": AnyEncodable(variantName(version)),
            "ModelName": AnyEncodable(modelName(endpoint: name, version: version)),
            "ServerlessConfig": AnyEncodable(["MemorySizeInMB": endpoint.memoryMB, "MaxConcurrency": maxConcurrency(endpoint)]),
        ]])
        try await hosting.moveEndpoint(of: name, to: config, following: versionID)
    }

    public func liveWeights(of endpoint: Endpoint, versions known: [String: ModelVersion]) async throws -> [String: Int] {
        let name = endpoint.name
        guard let current = try await hosting.describeEndpoint(endpointName(name)) else { return [:] }
        let config = try await hosting.describeConfig(current.PendingDeploymentSummary?.EndpointConfigName ?? current.EndpointConfigName)
        let byModelName = Dictionary(known.values.map { (modelName(endpoint: name, version: $0), $0.id) }, uniquingKeysWith: { a, _ in a })
        let total = config.ProductionVariants.reduce(0) { $0 + ($1.InitialVariantWeight ?? 1) }
        var weights: [String: Int] = [:]
        for variant in config.ProductionVariants {
            // A model made outside ModelDeck shows under its SageMaker name, so the registry's weights are enforced.
            let id = byModelName[variant.ModelName] ?? "sagemaker:\(variant.ModelName)"
            weights[id, default: 0] += total > 0 ? Int(AWSNumber.whole((variant.InitialVariantWeight ?? 1) / total * 100, limit: 100) ?? 0) : 0
        }
        return weights
    }

    /// `count` concurrent `InvokeEndpoint` calls on the version's variant (`SageMakerHosting.ping`).
    public func ping(_ version: ModelVersion, of endpoint: Endpoint, count: Int) async throws -> [PingResult] {
        try await hosting.ping(version, of: endpoint, count: count, upToSeconds: target.limits.maxTimeoutSeconds ?? 60)
    }

    // MARK: Metrics

    /// Whether `collectMetrics` asks for `ModelLatency` percentiles (moto 5.2 answers a percentile with HTTP 500).
    public var percentiles = true
    /// SageMaker's endpoint metrics come once a minute; the buckets are as wide.
    public static let metricPeriod: Int64 = SageMakerHosting.metricPeriod

    /// CloudWatch's per-variant figures (namespace `AWS/SageMaker`) for the versions that may have served in the
    /// window (`ServingVersions`). Latency is `ModelLatency`, the model's own time: SageMaker's overhead and a cold
    /// start's setup are not in it, so the p99 here is the model's. Cold starts are `ModelSetupTime`'s sample count.
    /// https://docs.aws.amazon.com/sagemaker/latest/dg/monitoring-cloudwatch.html
    public func collectMetrics(of endpoint: Endpoint, versions serving: [ModelVersion], from: Date, to: Date) async throws -> PlatformMetrics {
        try await hosting.collect(SageMakerStatistic.allCases.filter { percentiles || !$0.isPercentile }, namespace: "AWS/SageMaker",
                                  of: endpoint, versions: serving, from: from, to: to)
    }
}

/// The CloudWatch statistics of a SageMaker endpoint variant the driver reads, per period.
enum SageMakerStatistic: String, PlatformStatistic {
    case invocations, errors, p50, p90, p99, maximum, sum, setups

    var name: String { rawValue }
    static let countsColdStarts = true

    var metric: String {
        switch self {
        case .invocations: "Invocations"
        // 4xx are the caller's; ModelDeck counts server-side failures, as the local gateway does.
        case .errors: "Invocation5XXErrors"
        case .p50, .p90, .p99, .maximum, .sum: "ModelLatency"
        case .setups: "ModelSetupTime"
        }
    }

    var stat: String {
        switch self {
        case .invocations, .errors, .sum: "Sum"
        case .p50, .p90, .p99: rawValue
        case .maximum: "Maximum"
        case .setups: "SampleCount"
        }
    }

    var isPercentile: Bool { [.p50, .p90, .p99].contains(self) }

    /// `ModelLatency` is in microseconds; `PeriodFigures` keeps milliseconds.
    func set(_ value: Double, in figures: inout PeriodFigures) {
        switch self {
        case .invocations: figures.invocations = value
        case .errors: figures.errors = value
        case .p50: figures.p50 = value / 1_000
        case .p90: figures.p90 = value / 1_000
        case .p99: figures.p99 = value / 1_000
        case .maximum: figures.maximum = value / 1_000
        case .sum: figures.sum = value / 1_000
        case .setups: figures.coldStarts = value
        }
    }
}
