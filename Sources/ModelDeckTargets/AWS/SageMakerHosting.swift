import Crypto
import Foundation
import ModelDeckCore

/// What both SageMaker drivers (serverless and real-time) do the same way, in one place: the names derived
/// from the registry, a SageMaker model per version, endpoint configs, the endpoint's life cycle (create, update,
/// wait for `InService`), keep-warm invocations of one variant, and CloudWatch's figures per variant.
///
/// Every name is derived from the registry (the version's id and digest, the endpoint's settings), so neither
/// driver keeps state of its own: a daemon killed with -9 finds the same names again.
struct SageMakerHosting: Sendable {
    let target: Target
    let client: AWSClient
    var pollInterval: Duration
    var inServiceTimeout: Duration

    static let apiPrefix = "SageMaker"

    // MARK: Names

    /// SageMaker names: letters, digits and hyphens, at most 63. A longer name keeps its start and ends with
    /// a hash of the whole, so two long names never meet.
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

    /// The first 8 hex digits of `text`'s SHA-256.
    static func shortHash(_ text: String) -> String { SigV4Signer.hex(SHA256.hash(data: Data(text.utf8)).prefix(4)) }

    func endpointName(_ endpoint: String) -> String { Self.name([target.setting("endpoint_prefix") ?? "modeldeck", endpoint]) }

    func modelName(endpoint: String, version: ModelVersion) -> String {
        Self.name(["md", endpoint, version.version, String(version.digest.dropFirst("sha256:".count).prefix(8))])
    }

    /// The variant is named after the version, so CloudWatch's per-variant figures are per-version figures.
    static func variantName(_ version: ModelVersion) -> String { name([version.version]) }

    // MARK: Models and configs

    /// Creates the SageMaker model of `version` on `endpoint` unless it exists (idempotent).
    func createModel(_ version: ModelVersion, on endpoint: Endpoint) async throws {
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

    /// Creates the endpoint config `name` with `variants` unless it exists. A config never changes once made,
    /// so its name says what it holds.
    func createConfig(_ name: String, variants: [[String: AnyEncodable]]) async throws {
        if try await exists(operation: "DescribeEndpointConfig", ["EndpointConfigName": name]) { return }
        _ = try await call("CreateEndpointConfig", [
            "EndpointConfigName": AnyEncodable(name),
            "ProductionVariants": AnyEncodable(variants),
        ])
    }

    /// Puts SageMaker's endpoint of `endpoint` on `config`: `CreateEndpoint` the first time, `UpdateEndpoint`
    /// after, then waits for `InService` on it. Refuses to start an update while another is under way.
    func moveEndpoint(of endpoint: String, to config: String, following versionID: String) async throws {
        let sagemakerName = endpointName(endpoint)
        if let current = try await describeEndpoint(sagemakerName) {
            let heading = current.PendingDeploymentSummary?.EndpointConfigName ?? current.EndpointConfigName
            if heading != config {
                try Self.requireSettled(current, name: sagemakerName, following: versionID)
                _ = try await call("UpdateEndpoint", ["EndpointName": AnyEncodable(sagemakerName), "EndpointConfigName": AnyEncodable(config)])
            }
        } else {
            _ = try await call("CreateEndpoint", [
                "EndpointName": AnyEncodable(sagemakerName), "EndpointConfigName": AnyEncodable(config),
                "Tags": AnyEncodable([["Key": "modeldeck:endpoint", "Value": endpoint]]),
            ])
        }
        try await waitInService(sagemakerName, config: config)
    }

    /// An endpoint being created or updated takes no other update; the caller's change follows on a later try.
    static func requireSettled(_ current: EndpointDescription, name: String, following what: String) throws {
        guard !["Creating", "Updating", "SystemUpdating", "RollingBack"].contains(current.EndpointStatus) else {
            let heading = current.PendingDeploymentSummary?.EndpointConfigName ?? current.EndpointConfigName
            throw ModelDeckError("SageMaker endpoint \(name) is \(current.EndpointStatus) towards \(heading); \(what) follows once it is InService")
        }
    }

    // MARK: Keep-warm

    /// `count` concurrent `InvokeEndpoint` calls on the version's variant. The body and a custom attribute
    /// mark them as warmups for the model server; SageMaker does not say whether an invocation waited for
    /// a cold start, so cold starts come from CloudWatch instead.
    func ping(_ version: ModelVersion, of endpoint: Endpoint, count: Int, upToSeconds seconds: Int64) async throws -> [PingResult] {
        let path = "/endpoints/\(SigV4Signer.encode(endpointName(endpoint.name)))/invocations"
        let variant = Self.variantName(version)
        // An invocation may take SageMaker's 60 s (a cold start more); one that timed out ran anyway.
        let client = AWSRetryPolicy.invoking(client, upToSeconds: seconds)
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
            // SageMaker bills the inference time (serverless) or the instance (real-time), which only the round trip bounds here.
            return PingResult(status: status, coldStart: false, milliseconds: (ContinuousClock.now - started).wholeMilliseconds)
        }
    }

    // MARK: Metrics

    /// SageMaker's endpoint metrics come once a minute; the buckets are as wide.
    static let metricPeriod: Int64 = 60

    /// CloudWatch's per-variant figures of `statistics` in `namespace` (dimensions `EndpointName` and
    /// `VariantName`; the variant is named after the version) for the versions that may have served in the window.
    /// https://docs.aws.amazon.com/sagemaker/latest/dg/monitoring-cloudwatch.html
    func collect<Statistic: PlatformStatistic>(_ statistics: [Statistic], namespace: String, of endpoint: Endpoint,
                                               versions serving: [ModelVersion], from: Date, to: Date) async throws -> PlatformMetrics {
        let name = endpointName(endpoint.name)
        return try await CloudWatch.collect(statistics, namespace: namespace,
                                            series: serving.sorted { $0.id < $1.id }.enumerated().map { index, version in
                                                PlatformSeries(key: "v\(index)", version: version.id,
                                                               dimensions: [(name: "EndpointName", value: name),
                                                                            (name: "VariantName", value: Self.variantName(version))],
                                                               memoryMB: endpoint.memoryMB)
                                            },
                                            endpoint: endpoint.name, from: from, to: to, period: Self.metricPeriod, client: client)
    }

    // MARK: Calls

    func call(_ operation: String, _ body: [String: AnyEncodable]) async throws -> AWSResponse {
        do {
            return try await client.json(.sagemaker, targetPrefix: Self.apiPrefix, operation: operation, body)
        } catch let error as AWSError where operation.hasPrefix("Create") && error.message.contains("already existing") {
            // A create retried after a timeout or a 5xx that SageMaker had carried out: it is there, as asked
            // (every name is derived from what it holds, so the one found is the one wanted).
            return AWSResponse(status: 200, headers: [:], body: Data("{}".utf8))
        }
    }

    /// SageMaker answers a Describe of something missing with `ValidationException: Could not find …`.
    func exists(operation: String, _ body: [String: String]) async throws -> Bool {
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

    /// `DescribeEndpoint`'s answer, as far as the drivers read it. A real-time endpoint lists its variants with
    /// their weights and instance counts as they are now (`CurrentWeight`) and as asked (`DesiredWeight`).
    struct EndpointDescription: Decodable {
        struct Pending: Decodable { var EndpointConfigName: String? }
        struct Variant: Decodable {
            var VariantName: String
            var CurrentWeight: Double?
            var DesiredWeight: Double?
            var CurrentInstanceCount: Int?
            var DesiredInstanceCount: Int?
        }
        var EndpointName: String
        var EndpointConfigName: String
        var EndpointStatus: String
        var FailureReason: String?
        var PendingDeploymentSummary: Pending?
        var ProductionVariants: [Variant]?
    }

    struct EndpointConfigDescription: Decodable {
        struct Variant: Decodable {
            var VariantName: String
            var ModelName: String
            var InitialVariantWeight: Double?
            var InstanceType: String?
            var InitialInstanceCount: Int?
        }
        var ProductionVariants: [Variant]
    }

    func describeEndpoint(_ name: String) async throws -> EndpointDescription? {
        do {
            return try await call("DescribeEndpoint", ["EndpointName": AnyEncodable(name)])
                .decode(EndpointDescription.self, operation: "sagemaker:DescribeEndpoint")
        } catch let error as AWSError where Self.isMissing(error) {
            return nil
        }
    }

    func describeConfig(_ name: String) async throws -> EndpointConfigDescription {
        try await call("DescribeEndpointConfig", ["EndpointConfigName": AnyEncodable(name)])
            .decode(EndpointConfigDescription.self, operation: "sagemaker:DescribeEndpointConfig")
    }

    /// Polls `DescribeEndpoint` until the endpoint is `InService` on `config` with nothing pending (any config
    /// when nil: a weight change keeps the config).
    func waitInService(_ name: String, config: String?) async throws {
        let deadline = ContinuousClock.now + inServiceTimeout
        while true {
            guard let endpoint = try await describeEndpoint(name) else {
                throw ModelDeckError("SageMaker endpoint \(name) disappeared while it was being created")
            }
            switch endpoint.EndpointStatus {
            case "InService" where (config == nil || endpoint.EndpointConfigName == config) && endpoint.PendingDeploymentSummary == nil:
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
