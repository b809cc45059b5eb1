import Crypto
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

    static let apiPrefix = "SageMaker"

    public init(target: Target, client: AWSClient) {
        self.target = target
        self.client = client
    }

    // MARK: Names

    /// SageMaker names: letters, digits and hyphens, at most 63 (`limit`; ELB target groups: 32). A longer name
    /// keeps its start and ends with a hash of the whole, so two long names never meet.
    static func name(_ parts: [String], limit: Int = 63) -> String {
        let raw = parts.joined(separator: "-")
        var cleaned = ""
        for character in raw.unicodeScalars {
            let keep = ("a"..."z").contains(character) || ("A"..."Z").contains(character) || ("0"..."9").contains(character)
            if keep { cleaned.unicodeScalars.append(character) } else if !cleaned.hasSuffix("-") { cleaned += "-" }
        }
        cleaned = String(cleaned.drop { $0 == "-" })
        while cleaned.hasSuffix("-") { cleaned.removeLast() }
        guard cleaned.count > limit else { return cleaned }
        let hash = shortHash(raw)
        var head = String(cleaned.prefix(limit - 9))
        while head.hasSuffix("-") { head.removeLast() }
        return head + "-" + hash
    }

    public func endpointName(_ endpoint: String) -> String { Self.name([target.setting("endpoint_prefix") ?? "modeldeck", endpoint]) }

    func modelName(endpoint: String, version: ModelVersion) -> String {
        Self.name(["md", endpoint, version.version, String(version.digest.dropFirst("sha256:".count).prefix(8))])
    }

    /// The variant is named after the version, so CloudWatch's per-variant figures are per-version figures.
    func variantName(_ version: ModelVersion) -> String { Self.name([version.version]) }

    func configName(endpoint: Endpoint, version: ModelVersion) -> String {
        let settings = "\(modelName(endpoint: endpoint.name, version: version)) \(endpoint.memoryMB) \(maxConcurrency(endpoint))"
        return Self.name(["md", endpoint.name, version.version, Self.shortHash(settings)])
    }

    /// The first 8 hex digits of `text`'s SHA-256.
    static func shortHash(_ text: String) -> String { SigV4Signer.hex(SHA256.hash(data: Data(text.utf8)).prefix(4)) }

    /// Serverless MaxConcurrency counts concurrent invocations across the endpoint (1–200); each instance
    /// takes one at a time, so it is the endpoint's instance ceiling.
    func maxConcurrency(_ endpoint: Endpoint) -> Int { min(max(endpoint.maxInstances * endpoint.concurrency, 1), 200) }

    // MARK: TargetDriver

    public func provision(_ version: ModelVersion, on endpoint: Endpoint) async throws {
        try FitCheck.require(version: version, endpoint: endpoint, target: target)
        guard let role = target.config["execution_role_arn"] ?? target.config["role_arn"] else {
            throw ModelDeckError("target \(target.label) has no execution_role_arn: SageMaker needs a role it can assume to pull the image and the model data")
        }
        guard let image = version.image else { throw ModelDeckError("version '\(version.id)' has no container image") }
        let name = modelName(endpoint: endpoint.name, version: version)
        if try await exists(operation: "DescribeModel", ["ModelName": name]) { return }
        var container: [String: AnyEncodable] = [
            "Image": AnyEncodable(image),
            "Environment": AnyEncodable(["MODELDECK_VERSION": version.id, "MODELDECK_ENDPOINT": endpoint.name]),
        ]
        if let artifact = version.artifact, artifact.hasPrefix("s3://") { container["ModelDataUrl"] = AnyEncodable(artifact) }
        _ = try await call("CreateModel", [
            "ModelName": AnyEncodable(name),
            "ExecutionRoleArn": AnyEncodable(role),
            "PrimaryContainer": AnyEncodable(container),
            "Tags": AnyEncodable([["Key": "modeldeck:version", "Value": version.id], ["Key": "modeldeck:digest", "Value": version.digest]]),
        ])
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
        if try await !exists(operation: "DescribeEndpointConfig", ["EndpointConfigName": config]) {
            _ = try await call("CreateEndpointConfig", [
                "EndpointConfigName": AnyEncodable(config),
                "ProductionVariants": AnyEncodable([[
                    "VariantName": AnyEncodable(variantName(version)),
                    "ModelName": AnyEncodable(modelName(endpoint: name, version: version)),
                    "ServerlessConfig": AnyEncodable(["MemorySizeInMB": endpoint.memoryMB, "MaxConcurrency": maxConcurrency(endpoint)]),
                ]]),
            ])
        }
        let sagemakerName = endpointName(name)
        if let current = try await describeEndpoint(sagemakerName) {
            let heading = current.PendingDeploymentSummary?.EndpointConfigName ?? current.EndpointConfigName
            if heading != config {
                guard !["Creating", "Updating", "SystemUpdating", "RollingBack"].contains(current.EndpointStatus) else {
                    throw ModelDeckError("SageMaker endpoint \(sagemakerName) is \(current.EndpointStatus) towards \(heading); \(versionID) follows once it is InService")
                }
                _ = try await call("UpdateEndpoint", ["EndpointName": AnyEncodable(sagemakerName), "EndpointConfigName": AnyEncodable(config)])
            }
        } else {
            _ = try await call("CreateEndpoint", [
                "EndpointName": AnyEncodable(sagemakerName), "EndpointConfigName": AnyEncodable(config),
                "Tags": AnyEncodable([["Key": "modeldeck:endpoint", "Value": name]]),
            ])
        }
        try await waitInService(sagemakerName, config: config)
    }

    public func liveWeights(of endpoint: Endpoint, versions known: [String: ModelVersion]) async throws -> [String: Int] {
        let name = endpoint.name
        guard let current = try await describeEndpoint(endpointName(name)) else { return [:] }
        let configName = current.PendingDeploymentSummary?.EndpointConfigName ?? current.EndpointConfigName
        let config = try await call("DescribeEndpointConfig", ["EndpointConfigName": AnyEncodable(configName)])
            .decode(EndpointConfigDescription.self, operation: "sagemaker:DescribeEndpointConfig")
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

    /// `count` concurrent `InvokeEndpoint` calls on the version's variant. The body and a custom attribute
    /// mark them as warmups for the model server; SageMaker does not say whether an invocation waited for
    /// a cold start, so cold starts come from CloudWatch's `ModelSetupTime` instead.
    public func ping(_ version: ModelVersion, of endpoint: Endpoint, count: Int) async throws -> [PingResult] {
        let path = "/endpoints/\(SigV4Signer.encode(endpointName(endpoint.name)))/invocations"
        let variant = Self.name([version.version])
        // An invocation may take SageMaker's 60 s (a cold start more); one that timed out ran anyway.
        let client = AWSRetryPolicy.invoking(client, upToSeconds: target.limits.maxTimeoutSeconds ?? 60)
        return try await sendConcurrently(count) {
            let started = ContinuousClock.now
            let status: Int
            do {
                status = try await client.send(.sagemakerRuntime, operation: "InvokeEndpoint", method: .POST, path: path, headers: [
                    (name: "Content-Type", value: "application/json"),
                    (name: "Accept", value: "application/json"),
                    (name: "X-Amzn-SageMaker-Target-Variant", value: variant),
                    (name: "X-Amzn-SageMaker-Custom-Attributes", value: "modeldeck-warmup=1"),
                ], body: Data(#"{"modeldeck-warmup": true}"#.utf8)).status
            } catch let error as AWSError where error.status > 0 {
                status = error.status // the model answered with an error: a ping that failed, not a lost one
            }
            // SageMaker bills the inference time, which only the round trip bounds here.
            return PingResult(status: status, coldStart: false, milliseconds: (ContinuousClock.now - started).wholeMilliseconds)
        }
    }

    // MARK: Metrics

    /// Whether `collectMetrics` asks for `ModelLatency` percentiles (moto 5.2 answers a percentile with HTTP 500).
    public var percentiles = true
    /// SageMaker's endpoint metrics come once a minute; the buckets are as wide.
    public static let metricPeriod: Int64 = 60

    /// CloudWatch's per-variant figures (namespace `AWS/SageMaker`, dimensions `EndpointName` and
    /// `VariantName`; the variant is named after the version) for the versions that may have served in the
    /// window (`ServingVersions`). Latency is `ModelLatency`, the model's own time: SageMaker's overhead and a cold start's setup
    /// are not in it, so the p99 here is the model's. Cold starts are `ModelSetupTime`'s sample count.
    /// https://docs.aws.amazon.com/sagemaker/latest/dg/monitoring-cloudwatch.html
    public func collectMetrics(of endpoint: Endpoint, versions serving: [ModelVersion], from: Date, to: Date) async throws -> PlatformMetrics {
        let versions = serving.sorted { $0.id < $1.id }
        let name = endpointName(endpoint.name)
        return try await CloudWatch.collect(SageMakerStatistic.allCases.filter { percentiles || !$0.isPercentile }, namespace: "AWS/SageMaker",
                                     series: versions.enumerated().map { index, version in
                                         PlatformSeries(key: "v\(index)", version: version.id,
                                                        dimensions: [(name: "EndpointName", value: name),
                                                                     (name: "VariantName", value: variantName(version))],
                                                        memoryMB: endpoint.memoryMB)
                                     },
                                            endpoint: endpoint.name, from: from, to: to, period: Self.metricPeriod, client: client)
    }

    // MARK: Calls

    private func call(_ operation: String, _ body: [String: AnyEncodable]) async throws -> AWSResponse {
        do {
            return try await client.json(.sagemaker, targetPrefix: Self.apiPrefix, operation: operation, body)
        } catch let error as AWSError where operation.hasPrefix("Create") && error.message.contains("already existing") {
            // A create retried after a timeout or a 5xx that SageMaker had carried out: it is there, as asked
            // (every name is derived from what it holds, so the one found is the one wanted).
            return AWSResponse(status: 200, headers: [:], body: Data("{}".utf8))
        }
    }

    /// SageMaker answers a Describe of something missing with `ValidationException: Could not find …`.
    private func exists(operation: String, _ body: [String: String]) async throws -> Bool {
        do {
            _ = try await client.json(.sagemaker, targetPrefix: Self.apiPrefix, operation: operation, body)
            return true
        } catch let error as AWSError where Self.isMissing(error) {
            return false
        }
    }

    static func isMissing(_ error: AWSError) -> Bool {
        error.kind == .notFound || (error.code == "ValidationException" && error.message.contains("Could not find"))
    }

    struct EndpointDescription: Decodable {
        struct Pending: Decodable { var EndpointConfigName: String? }
        var EndpointName: String
        var EndpointConfigName: String
        var EndpointStatus: String
        var FailureReason: String?
        var PendingDeploymentSummary: Pending?
    }

    struct EndpointConfigDescription: Decodable {
        struct Variant: Decodable {
            var VariantName: String
            var ModelName: String
            var InitialVariantWeight: Double?
        }
        var ProductionVariants: [Variant]
    }

    private func describeEndpoint(_ name: String) async throws -> EndpointDescription? {
        do {
            return try await call("DescribeEndpoint", ["EndpointName": AnyEncodable(name)])
                .decode(EndpointDescription.self, operation: "sagemaker:DescribeEndpoint")
        } catch let error as AWSError where Self.isMissing(error) {
            return nil
        }
    }

    private func waitInService(_ name: String, config: String) async throws {
        let deadline = ContinuousClock.now + inServiceTimeout
        while true {
            guard let endpoint = try await describeEndpoint(name) else {
                throw ModelDeckError("SageMaker endpoint \(name) disappeared while it was being created")
            }
            switch endpoint.EndpointStatus {
            case "InService" where endpoint.EndpointConfigName == config && endpoint.PendingDeploymentSummary == nil:
                return
            case "Failed":
                throw ModelDeckError("SageMaker endpoint \(name) failed: \(endpoint.FailureReason ?? "no reason given")")
            default:
                guard ContinuousClock.now < deadline else {
                    throw ModelDeckError("SageMaker endpoint \(name) is still \(endpoint.EndpointStatus) after \(inServiceTimeout); it continues on AWS's side")
                }
                try await Task.sleep(for: pollInterval)
            }
        }
    }
}

/// An encodable value of any type, for the few JSON request bodies built as dictionaries.
struct AnyEncodable: Encodable, Sendable {
    private let encodeValue: @Sendable (any Encoder) throws -> Void

    init<Value: Encodable & Sendable>(_ value: Value) {
        encodeValue = { try value.encode(to: $0) }
    }

    func encode(to encoder: any Encoder) throws { try encodeValue(encoder) }
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
