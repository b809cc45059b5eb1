import Crypto
import Foundation
import ModelDeckCore
import NIOHTTP1

/// The aws-lambda driver: one Lambda function per ModelDeck endpoint, one published Lambda version per
/// ModelDeck version, and an alias `live` whose weights are the endpoint's traffic split.
///
/// The driver keeps no state: each published version carries `modeldeck <version id> <digest>` as its
/// description, and `ListVersionsByFunction` maps the two again — after a restart or a `kill -9` too.
public struct LambdaDriver: TargetDriver {
    public let target: Target
    let client: AWSClient
    /// How often `GetFunctionConfiguration` is polled while Lambda applies a change, and for how long.
    public var pollInterval: Duration = .seconds(1)
    public var updateTimeout: Duration = .seconds(5 * 60)
    /// Whether `collectMetrics` asks CloudWatch for Duration percentiles (p50, p90, p99). moto 5.2 answers
    /// a percentile statistic with HTTP 500, so its tests turn this off and get the mean/maximum approximation.
    public var percentiles = true

    /// The alias the endpoint's traffic goes through.
    public static let alias = "live"
    /// CloudWatch period of `collectMetrics`, and the width of the buckets it writes: Lambda's metrics are
    /// standard resolution (one point a minute), so a finer period would not be finer data.
    public static let metricPeriod: Int64 = 60
    /// Applies when a version states no timeout; Lambda's own default (3 s) is too short for a model.
    public static let defaultTimeoutSeconds: Int64 = 60
    /// The body of a keep-warm `Invoke`. Lambda passes no HTTP headers to the function, so the payload is the
    /// only place to mark a warmup: a handler should answer it at once, without running the model.
    public static let warmupPayload = #"{"modeldeck-warmup": true}"#

    public init(target: Target, client: AWSClient) {
        self.target = target
        self.client = client
    }

    // MARK: Names

    /// `function_prefix` (default `modeldeck-`) + the endpoint's name.
    public func functionName(_ endpoint: String) -> String { (target.setting("function_prefix") ?? "") + endpoint }

    /// The description a published version carries: how the driver finds it again.
    static func description(of version: ModelVersion) -> String { "modeldeck \(version.id) \(version.digest)" }

    /// The ModelDeck version id in a description written by `description(of:)`, if it is one.
    static func versionID(inDescription text: String?) -> String? {
        let parts = (text ?? "").split(separator: " ")
        return parts.count == 3 && parts[0] == "modeldeck" ? String(parts[1]) : nil
    }

    // MARK: Provision

    /// Everything `CreateFunction` or an update needs, decided before any call.
    struct FunctionSpec {
        var name: String
        var role: String
        var description: String
        var packageType: String
        var code: LambdaAPI.Code
        var runtime: String?
        var handler: String?
        var memoryMB: Int
        var timeoutSeconds: Int
        var architecture: String
        var environment: [String: String]
    }

    func spec(for version: ModelVersion, on endpoint: Endpoint) throws -> FunctionSpec {
        let name = functionName(endpoint.name)
        guard (1...64).contains(name.count), name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }) else {
            throw ModelDeckError("Lambda function name '\(name)' (function_prefix + endpoint) must be 1–64 letters, digits, hyphens or underscores")
        }
        guard let role = target.config["role_arn"], !role.isEmpty else {
            throw ModelDeckError("target \(target.label) has no role_arn: Lambda needs an execution role for function '\(name)' (an IAM role Lambda can assume)")
        }
        let architecture = try Architecture.normalized(target.setting("architecture") ?? "x86_64")
        // The version's identity goes into the configuration too, so two versions with the same code still
        // publish two Lambda versions (Lambda publishes nothing when code and configuration are unchanged).
        let environment = ["MODELDECK_VERSION": version.id, "MODELDECK_DIGEST": version.digest, "MODELDECK_ENDPOINT": endpoint.name]
        var code = LambdaAPI.Code()
        let packageType: String
        if let image = version.image, version.command == nil {
            packageType = "Image"
            code.ImageUri = image
        } else {
            packageType = "Zip"
            guard let artifact = version.artifact else {
                throw ModelDeckError("version '\(version.id)' has no artifact: Lambda needs a zip package (a local file or s3://bucket/key) or a container image")
            }
            if artifact.hasPrefix("s3://") {
                let path = artifact.dropFirst("s3://".count)
                guard let slash = path.firstIndex(of: "/"), slash != path.startIndex, path.index(after: slash) != path.endIndex else {
                    throw ModelDeckError("version '\(version.id)' artifact \(artifact) is not s3://bucket/key")
                }
                code.S3Bucket = String(path[..<slash])
                code.S3Key = String(path[path.index(after: slash)...])
            } else if artifact.contains("://") {
                throw ModelDeckError("version '\(version.id)' artifact \(artifact): Lambda takes a zip from a local file or s3:// only")
            } else {
                guard let zip = FileManager.default.contents(atPath: artifact) else {
                    throw ModelDeckError("version '\(version.id)': cannot read its zip package \(artifact)")
                }
                // Versions are immutable: what is uploaded must be what `apply` hashed.
                let digest = "sha256:" + SHA256.hash(data: zip).map { String(format: "%02x", $0) }.joined()
                guard digest == version.digest else {
                    throw ModelDeckError("artifact \(artifact) of version '\(version.id)' has changed: it now has digest \(digest), "
                                         + "the registry has \(version.digest); versions are immutable: restore it or apply it as a new version")
                }
                code.ZipFile = zip.base64EncodedString()
            }
        }
        return FunctionSpec(name: name, role: role, description: Self.description(of: version), packageType: packageType, code: code,
                            // For zips: the target's runtime and handler, else LambdaTarget's defaults (provided.al2023, bootstrap).
                            runtime: packageType == "Zip" ? target.setting("runtime") : nil,
                            handler: packageType == "Zip" ? target.setting("handler") : nil,
                            memoryMB: endpoint.memoryMB, timeoutSeconds: Int(version.timeoutSeconds ?? Self.defaultTimeoutSeconds),
                            architecture: architecture, environment: environment)
    }

    /// Creates the function or updates its code and configuration, waits until Lambda has applied them, and
    /// publishes a version described as `modeldeck <id> <digest>` — unless one already is: then nothing changes.
    public func provision(_ version: ModelVersion, on endpoint: Endpoint) async throws {
        try FitCheck.require(version: version, endpoint: endpoint, target: target)
        let spec = try spec(for: version, on: endpoint)
        if let published = try await publishedVersions(spec.name) {
            // Published already, with the endpoint's memory and the version's timeout: nothing to do. When the
            // endpoint's memory changed, the version is published again (Lambda versions are immutable) and the
            // newest number carries the ModelDeck version from then on.
            let newest = published.filter { $0.Description == spec.description }.max { Self.number($0.Version) < Self.number($1.Version) }
            if let newest, newest.MemorySize == spec.memoryMB, newest.Timeout == spec.timeoutSeconds { return }
            // Waits out an update someone else started (Lambda refuses a second one meanwhile); an earlier
            // update that failed is no reason not to try this one.
            let current = try await waitUntilApplied(spec.name, failedIsFinal: false)
            guard current.PackageType ?? "Zip" == spec.packageType else {
                throw ModelDeckError("Lambda function '\(spec.name)' runs a \(current.PackageType ?? "Zip") package; version '\(version.id)' is a \(spec.packageType) package, and Lambda cannot change a function's package type (delete the function or use another endpoint)")
            }
            _ = try await call("UpdateFunctionCode", .PUT, "\(Self.path(spec.name))/code", LambdaAPI.UpdateFunctionCode(
                ZipFile: spec.code.ZipFile, S3Bucket: spec.code.S3Bucket, S3Key: spec.code.S3Key, ImageUri: spec.code.ImageUri,
                Architectures: [spec.architecture]))
            let updated = try await waitUntilApplied(spec.name)
            if updated.MemorySize != spec.memoryMB || updated.Timeout != spec.timeoutSeconds || updated.Role != spec.role
                || updated.Environment?.Variables ?? [:] != spec.environment
                || (spec.packageType == "Zip" && (updated.Runtime != spec.runtime || updated.Handler != spec.handler)) {
                _ = try await call("UpdateFunctionConfiguration", .PUT, "\(Self.path(spec.name))/configuration", LambdaAPI.UpdateFunctionConfiguration(
                    Role: spec.role, Runtime: spec.runtime, Handler: spec.handler, MemorySize: spec.memoryMB,
                    Timeout: spec.timeoutSeconds, Environment: .init(Variables: spec.environment)))
                _ = try await waitUntilApplied(spec.name)
            }
        } else {
            do {
                _ = try await call("CreateFunction", .POST, LambdaAPI.basePath, LambdaAPI.CreateFunction(
                    FunctionName: spec.name, Role: spec.role, PackageType: spec.packageType, Code: spec.code, Runtime: spec.runtime,
                    Handler: spec.handler, MemorySize: spec.memoryMB, Timeout: spec.timeoutSeconds, Architectures: [spec.architecture],
                    Environment: .init(Variables: spec.environment), Description: "ModelDeck endpoint \(endpoint.name)"))
            } catch let error as AWSError where error.kind == .conflict {
                // It exists after all (a create retried after a timeout Lambda had carried out, or one made
                // meanwhile): provision it as an existing function.
                return try await provision(version, on: endpoint)
            }
            _ = try await waitUntilApplied(spec.name)
        }
        let published = try await call("PublishVersion", .POST, "\(Self.path(spec.name))/versions", LambdaAPI.PublishVersion(Description: spec.description))
            .decode(LambdaAPI.FunctionConfiguration.self, operation: "lambda:PublishVersion")
        guard published.Description == spec.description else {
            throw ModelDeckError("Lambda returned version \(published.Version) of '\(spec.name)' (\(published.Description ?? "no description")) instead of publishing '\(version.id)': its code and configuration did not change")
        }
    }

    /// Polls `GetFunctionConfiguration` until the function is no longer `Pending` and its last update is not
    /// `InProgress`; unless `failedIsFinal` is false, a `Failed` state or update is an error with Lambda's reason.
    private func waitUntilApplied(_ name: String, failedIsFinal: Bool = true) async throws -> LambdaAPI.FunctionConfiguration {
        let deadline = ContinuousClock.now + updateTimeout
        while true {
            let current = try await functionConfiguration(name)
            if current.State == "Failed" && failedIsFinal {
                throw ModelDeckError("Lambda function '\(name)' failed: \(current.StateReason ?? "no reason given")")
            }
            if current.LastUpdateStatus == "Failed" && failedIsFinal {
                throw ModelDeckError("Lambda could not update function '\(name)': \(current.LastUpdateStatusReason ?? "no reason given")")
            }
            if current.State != "Pending" && current.LastUpdateStatus != "InProgress" { return current }
            guard ContinuousClock.now < deadline else {
                throw ModelDeckError("Lambda function '\(name)' is still \(current.State == "Pending" ? "Pending" : "updating") after \(updateTimeout); it continues on AWS's side")
            }
            try await Task.sleep(for: pollInterval)
        }
    }

    // MARK: Keep-warm

    /// `count` concurrent `Invoke` calls on the version's number (not the alias, so pings never count as the
    /// alias's traffic in CloudWatch), with `warmupPayload` and `X-Amz-Log-Type: Tail`. A ping is cold when
    /// its REPORT line has an `Init Duration`; its billed duration and memory come from the same line.
    public func ping(_ version: ModelVersion, of endpoint: Endpoint, count: Int) async throws -> [PingResult] {
        let name = functionName(endpoint.name)
        guard let number = try await versionNumbers(name, endpoint: endpoint.name)[version.id] else {
            throw ModelDeckError("version '\(version.id)' was never provisioned on Lambda function '\(name)'; nothing to keep warm")
        }
        let path = "\(Self.path(name))/invocations"
        // A cold start may take up to the function's timeout; an Invoke that timed out ran anyway.
        let client = AWSRetryPolicy.invoking(client, upToSeconds: version.timeoutSeconds ?? Self.defaultTimeoutSeconds)
        return try await sendConcurrently(count) {
            let started = ContinuousClock.now
            var status: Int
            var report: LambdaReport?
            do {
                let answer = try await client.send(.lambda, operation: "Invoke", method: .POST, path: path,
                                                   query: [(name: "Qualifier", value: number)],
                                                   headers: [(name: "X-Amz-Invocation-Type", value: "RequestResponse"),
                                                             (name: "X-Amz-Log-Type", value: "Tail"),
                                                             (name: "Content-Type", value: "application/json")],
                                                   body: Data(Self.warmupPayload.utf8))
                status = answer.status
                report = answer.header("X-Amz-Log-Result").flatMap(LambdaReport.parse(logResult:))
                // The function threw or crashed: Lambda still answers 200, and says so in this header.
                if answer.header("X-Amz-Function-Error") != nil { status = 500 }
            } catch let error as AWSError where error.status > 0 {
                status = error.status
            }
            // Billed as Lambda reports it; without a REPORT line, the round trip (an upper bound).
            return PingResult(status: status, coldStart: report?.coldStart ?? false,
                              milliseconds: (ContinuousClock.now - started).wholeMilliseconds,
                              billedMilliseconds: report?.billedMilliseconds, memoryMB: report?.memoryMB, refused: report?.refused ?? [])
        }
    }

    // MARK: Metrics

    /// One `GetMetricData` (more only past 500 queries) for the alias's invocations per executed version, in
    /// 60-second periods, written as 60-second buckets of each ModelDeck version with
    /// `MetricBucket.replaceObserved`: collecting an interval again replaces CloudWatch's figures and keeps
    /// the pings' warmup figures.
    public func collectMetrics(of endpoint: Endpoint, versions serving: [ModelVersion], from: Date, to: Date) async throws -> PlatformMetrics {
        let name = functionName(endpoint.name)
        // Every number that carries a ModelDeck version: after a memory change, the old one may still have served part of the interval.
        guard let versions = try await publishedVersions(name) else { return PlatformMetrics() }
        // Only versions that may have served in the window: CloudWatch bills every metric asked for.
        let asked = Set(serving.map(\.id))
        let ours = Self.modelDeckVersions(versions).filter { asked.contains($0.id) }
            .map { (number: $0.number, id: $0.id, memoryMB: $0.memoryMB ?? endpoint.memoryMB) }
        guard !ours.isEmpty else { return PlatformMetrics() }
        let dimensions = [(name: "FunctionName", value: name), (name: "Resource", value: "\(name):\(Self.alias)")]
        return try await CloudWatch.collect(LambdaStatistic.allCases.filter { percentiles || !$0.isPercentile }, namespace: "AWS/Lambda",
                                     series: ours.map { version in
                                         PlatformSeries(key: "v\(version.number)", version: version.id,
                                                        dimensions: dimensions + [(name: "ExecutedVersion", value: version.number)],
                                                        memoryMB: version.memoryMB)
                                     },
                                            endpoint: endpoint.name, from: from, to: to, period: Self.metricPeriod, client: client)
    }

    // MARK: Calls

    static func path(_ function: String) -> String { "\(LambdaAPI.basePath)/\(SigV4Signer.encode(function))" }

    func call<Body: Encodable>(_ operation: String, _ method: HTTPMethod, _ path: String, _ body: Body) async throws -> AWSResponse {
        try await client.send(.lambda, operation: operation, method: method, path: path,
                              headers: [(name: "Content-Type", value: "application/json")], body: try JSONEncoder().encode(body))
    }

    private func functionConfiguration(_ name: String) async throws -> LambdaAPI.FunctionConfiguration {
        try await client.send(.lambda, operation: "GetFunctionConfiguration", method: .GET, path: "\(Self.path(name))/configuration")
            .decode(LambdaAPI.FunctionConfiguration.self, operation: "lambda:GetFunctionConfiguration")
    }

    /// Every version of the function (`$LATEST` too), following `NextMarker`; nil when the function does not exist.
    func publishedVersions(_ name: String) async throws -> [LambdaAPI.FunctionConfiguration]? {
        var versions: [LambdaAPI.FunctionConfiguration] = []
        var marker: String?
        do {
            repeat {
                let page = try await client.send(.lambda, operation: "ListVersionsByFunction", method: .GET, path: "\(Self.path(name))/versions",
                                                 query: [(name: "MaxItems", value: "50")] + (marker.map { [(name: "Marker", value: $0)] } ?? []))
                    .decode(LambdaAPI.VersionList.self, operation: "lambda:ListVersionsByFunction")
                versions += page.Versions
                marker = page.NextMarker?.isEmpty == false ? page.NextMarker : nil
            } while marker != nil
        } catch let error as AWSError where error.kind == .notFound {
            return nil
        }
        // AWS always lists `$LATEST`; moto answers a missing function with an empty list instead of a 404.
        return versions.isEmpty ? nil : versions
    }

    /// The versions ModelDeck published (number, version id, memory), from their descriptions.
    func modelDeckVersions(_ name: String, endpoint: String) async throws -> [(number: String, id: String, memoryMB: Int?)] {
        guard let versions = try await publishedVersions(name) else {
            throw ModelDeckError("Lambda function '\(name)' does not exist: endpoint '\(endpoint)' has nothing provisioned on target \(target.label)")
        }
        return Self.modelDeckVersions(versions)
    }

    static func modelDeckVersions(_ versions: [LambdaAPI.FunctionConfiguration]) -> [(number: String, id: String, memoryMB: Int?)] {
        versions.compactMap { version in
            versionID(inDescription: version.Description).map { (number: version.Version, id: $0, memoryMB: version.MemorySize) }
        }
    }

    /// ModelDeck version id → the Lambda version number that serves it now: the newest one carrying it
    /// (an older one was published for an earlier memory size, or by a second daemon at the same moment).
    func versionNumbers(_ name: String, endpoint: String) async throws -> [String: String] {
        var numbers: [String: String] = [:]
        for version in try await modelDeckVersions(name, endpoint: endpoint) {
            if let seen = numbers[version.id], Self.number(seen) >= Self.number(version.number) { continue }
            numbers[version.id] = version.number
        }
        return numbers
    }

    /// A published version's number as a number (`$LATEST` sorts first).
    static func number(_ version: String) -> Int { Int(version) ?? -1 }
}
