import Foundation
import HTTPTypes
import Synchronization
import GRDB
import ModelDeckCore
import ModelDeckTestSupport
import Testing
@testable import ModelDeckTargets

/// The sagemaker-serverless driver against moto: every step is checked through SageMaker's own answers
/// (DescribeModel, DescribeEndpointConfig, DescribeEndpoint), not through the driver's view of itself.
@Suite(.serialized) struct SageMakerDriverTests {
    /// A registry with a sagemaker-serverless target and an endpoint `name` on model `sentiment`, v1 and v2 as images.
    private func registry(endpoint name: String, role: Bool = true) throws -> (Registry, Target) {
        let folder = NSTemporaryDirectory() + "modeldeck-sm-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let deck = """
        targets:
          - name: sm
            kind: sagemaker-serverless
            region: us-east-1
            execution_role_arn: 'arn:aws:iam::123456789012:role/modeldeck-sagemaker'
        models:
          - name: sentiment
            versions:
              - {version: v1, image: 123456789012.dkr.ecr.us-east-1.amazonaws.com/sentiment:v1, artifact: 's3://models/sentiment/v1.tar.gz', digest: 'sha256:\(String(repeating: "a", count: 64))', size: 200MB, memory: 1GB}
              - {version: v2, image: 123456789012.dkr.ecr.us-east-1.amazonaws.com/sentiment:v2, digest: 'sha256:\(String(repeating: "b", count: 64))', size: 300MB, memory: 1GB}
              - {version: v3, image: 123456789012.dkr.ecr.us-east-1.amazonaws.com/sentiment:v3, digest: 'sha256:\(String(repeating: "c", count: 64))', size: 11GB, memory: 1GB}
        endpoints:
          - {name: \(name), model: sentiment, target: sm, memory: 2GB, max_instances: 5}
        """
        try deck.write(toFile: folder + "/deck.yaml", atomically: true, encoding: .utf8)
        let registry = try Registry(path: folder + "/registry.sqlite")
        try DeckApplier.apply(try DeckReader.read(path: folder + "/deck.yaml"), to: registry, source: "test")
        var target = try registry.read { db in try Target.fetchOne(db, key: "sm")! }
        // `apply` refuses a SageMaker target without an execution role; the driver still says so itself, for a
        // target written to the registry before that check existed.
        if !role { target.config["execution_role_arn"] = nil }
        return (registry, target)
    }

    private func driver(_ registry: Registry, _ target: Target, client: AWSClient) -> SageMakerServerlessDriver {
        var driver = SageMakerServerlessDriver(target: target, client: client)
        driver.pollInterval = .milliseconds(50)
        driver.inServiceTimeout = .seconds(20)
        return driver
    }

    private func describe(_ client: AWSClient, _ operation: String, _ body: [String: String]) async throws -> [String: Any] {
        let answer = try await client.json(.sagemaker, targetPrefix: "SageMaker", operation: operation, body)
        return try JSONSerialization.jsonObject(with: answer.body) as? [String: Any] ?? [:]
    }

    /// The endpoint and its model's versions, as the daemon hands them to the driver.
    private func routing(_ registry: Registry, _ name: String) throws -> (Endpoint, [String: ModelVersion]) {
        let endpoint = try #require(try registry.endpoint(named: name))
        return (endpoint, Dictionary(try registry.versions(model: endpoint.model).map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a }))
    }

    private func setWeights(_ driver: SageMakerServerlessDriver, _ weights: [String: Int], _ registry: Registry, _ name: String) async throws {
        let (endpoint, versions) = try routing(registry, name)
        try await driver.setWeights(weights, on: endpoint, versions: versions)
    }

    private func liveWeights(_ driver: SageMakerServerlessDriver, _ registry: Registry, _ name: String) async throws -> [String: Int] {
        let (endpoint, versions) = try routing(registry, name)
        return try await driver.liveWeights(of: endpoint, versions: versions)
    }

    private func version(_ registry: Registry, _ id: String) throws -> ModelVersion {
        try registry.read { db in try ModelVersion.fetchOne(db, key: id)! }
    }

    @Test func deployingAVersionCreatesModelConfigAndServerlessEndpoint() async throws {
        let name = "sm-\(UUID().uuidString.prefix(8).lowercased())"
        let (registry, target) = try registry(endpoint: name)
        let client = AWSClient(configuration: try await Moto.shared.configuration())
        let driver = driver(registry, target, client: client)
        let endpoint = try registry.read { db in try Endpoint.fetchOne(db, key: name)! }
        let v1 = try version(registry, "sentiment@v1")

        try await driver.provision(v1, on: endpoint)
        let model = try await describe(client, "DescribeModel", ["ModelName": driver.modelName(endpoint: name, version: v1)])
        let container = model["PrimaryContainer"] as? [String: Any]
        #expect(container?["Image"] as? String == v1.image)
        #expect(container?["ModelDataUrl"] as? String == "s3://models/sentiment/v1.tar.gz")
        #expect(model["ExecutionRoleArn"] as? String == "arn:aws:iam::123456789012:role/modeldeck-sagemaker")

        try await setWeights(driver, ["sentiment@v1": 100], registry, name)
        let live = try await describe(client, "DescribeEndpoint", ["EndpointName": driver.endpointName(name)])
        #expect(live["EndpointStatus"] as? String == "InService")
        let configName = try #require(live["EndpointConfigName"] as? String)
        let config = try await describe(client, "DescribeEndpointConfig", ["EndpointConfigName": configName])
        let variants = try #require(config["ProductionVariants"] as? [[String: Any]])
        #expect(variants.count == 1)
        #expect(variants.first?["VariantName"] as? String == "v1")
        #expect(variants.first?["ModelName"] as? String == driver.modelName(endpoint: name, version: v1))
        let serverless = variants.first?["ServerlessConfig"] as? [String: Any]
        #expect(serverless?["MemorySizeInMB"] as? Int == 2048)
        #expect(serverless?["MaxConcurrency"] as? Int == 5)
        #expect(try await liveWeights(driver, registry, name) == ["sentiment@v1": 100])

        // Again: nothing new is created, the endpoint keeps its config.
        let modelsBefore = try await describe(client, "ListModels", ["NameContains": name])["Models"] as? [Any]
        try await setWeights(driver, ["sentiment@v1": 100], registry, name)
        let modelsAfter = try await describe(client, "ListModels", ["NameContains": name])["Models"] as? [Any]
        #expect(modelsBefore?.count == 1 && modelsAfter?.count == 1)
        #expect(try await describe(client, "DescribeEndpoint", ["EndpointName": driver.endpointName(name)])["EndpointConfigName"] as? String == configName)

        // Keep-warm: InvokeEndpoint on the version's variant; the ping is counted apart from traffic.
        let pings = try await driver.ping(v1, of: endpoint, count: 2)
        #expect(pings.map(\.status) == [200, 200])
        #expect(pings.allSatisfy { !$0.recordedByTarget })
        // The daemon records what the driver returned, as warmups.
        let recorder = InvocationRecorder()
        let rates = try TargetPricing.rates(for: driver.target, table: .standard)
        for ping in pings { recorder.record(ping.invocation(endpoint: endpoint, version: v1.id, at: Date(), concurrent: 2, rates: rates)) }
        try recorder.flush(to: registry, instances: [], endpoints: [])
        let counted = try registry.read { db in
            try Row.fetchOne(db, sql: "SELECT SUM(warmups) AS warmups, SUM(requests) AS requests, SUM(warmup_cost_micros) AS cost FROM metric_buckets WHERE endpoint = ?", arguments: [name])
        }
        #expect(counted?["warmups"] as Int64? == 2)
        #expect(counted?["requests"] as Int64? == 0)
    }

    @Test func cloudWatchFiguresOfEachVariantBecomeTheVersionsBuckets() async throws {
        let name = "sm-\(UUID().uuidString.prefix(8).lowercased())"
        let (registry, target) = try registry(endpoint: name)
        let client = AWSClient(configuration: try await Moto.shared.configuration())
        var driver = driver(registry, target, client: client)
        driver.percentiles = false // moto 5.2 answers percentile statistics with HTTP 500
        // v1 took the traffic (as the daemon records it after routing), then a deploy of v2 began.
        try await setWeights(driver, ["sentiment@v1": 100], registry, name)
        try registry.write { db in try TrafficSplit.all(on: "sentiment@v1").save(db, endpoint: name) }
        _ = try Intents.deploy(registry, endpoint: name, version: "v2", strategy: .allAtOnce, bakeSeconds: 0, reason: nil)

        // What SageMaker would report for each variant two minutes ago: latencies in microseconds.
        let minute = (Int64(Date().timeIntervalSince1970) / 60 - 2) * 60
        for (variant, invocations, errors, setups, latencies) in [
            ("v1", 30.0, 2.0, 1, [(20_000.0, 29), (900_000.0, 1)]), ("v2", 4.0, 0.0, 0, [(50_000.0, 4)]),
        ] {
            try await CloudWatchFixture.put(client, namespace: "AWS/SageMaker",
                                            dimensions: [("EndpointName", driver.endpointName(name)), ("VariantName", variant)],
                                            at: Date(timeIntervalSince1970: Double(minute + 5)),
                                            metrics: [("Invocations", [(invocations, 1)]), ("Invocation5XXErrors", [(errors, 1)]),
                                                      ("ModelLatency", latencies), ("ModelSetupTime", setups > 0 ? [(3_000_000, setups)] : [])]
                                                .filter { !$0.samples.isEmpty })
        }
        let endpoint = try registry.read { db in try Endpoint.fetchOne(db, key: name)! }
        for _ in 0..<2 { // again: replaced, not doubled
            let from = Date(timeIntervalSince1970: Double(minute - 60))
            let serving = try registry.versions(ids: Array(registry.servingVersions(endpoint: name, since: from)))
            let measured = try await driver.collectMetrics(of: endpoint, versions: serving, from: from, to: Date())
            try registry.replaceObserved(measured.buckets(rates: try TargetPricing.rates(for: driver.target, table: .standard)),
                                         platformCountsColdStarts: measured.countsColdStarts)
        }
        let v1 = try #require(try registry.read { db in try MetricBucket.fetch(.init(endpoint: name, version: "sentiment@v1", start: minute, width: 60), db) })
        #expect(v1.requests == 30 && v1.errors == 2 && v1.coldStarts == 1)
        #expect(abs((v1.latency.milliseconds(atPercentile: 99) ?? 0) - 900) <= 900 * LatencyHistogram.relativeAccuracy) // the slowest, in milliseconds
        #expect(v1.costMicros > 0)
        let v2 = try #require(try registry.read { db in try MetricBucket.fetch(.init(endpoint: name, version: "sentiment@v2", start: minute, width: 60), db) })
        #expect(v2.requests == 4 && v2.errors == 0 && v2.coldStarts == 0)
        #expect(abs((v2.latency.milliseconds(atPercentile: 50) ?? 0) - 50) <= 50 * LatencyHistogram.relativeAccuracy)
    }

    @Test func anEndpointMissingOnSageMakerHasNoLiveWeights() async throws {
        let name = "sm-\(UUID().uuidString.prefix(8).lowercased())"
        let (registry, target) = try registry(endpoint: name)
        let driver = driver(registry, target, client: AWSClient(configuration: try await Moto.shared.configuration()))
        #expect(try await liveWeights(driver, registry, name) == [:])
    }

    @Test func whatSageMakerServerlessCannotDoIsRefusedBeforeAnyCall() async throws {
        let server = FaultServer([.error(status: 500, type: nil, body: "{}")])
        defer { server.stop() }
        let configuration = AWSConfiguration(credentials: AWSCredentials(accessKeyID: "a", secretAccessKey: "b"), region: "us-east-1",
                                             endpointURL: try await server.start(), profile: "test")
        let client = AWSClient(configuration: configuration, retry: AWSRetryPolicy(maxAttempts: 1))

        let name = "sm-refused"
        let (registry, target) = try registry(endpoint: name)
        let split = await #expect(throws: ModelDeckError.self) {
            try await setWeights(driver(registry, target, client: client), ["sentiment@v1": 90, "sentiment@v2": 10], registry, name)
        }
        #expect(split?.message.contains("serves one version of an endpoint at a time") == true)

        let (noRole, noRoleTarget) = try self.registry(endpoint: name, role: false)
        let endpoint = try noRole.read { db in try Endpoint.fetchOne(db, key: name)! }
        let role = await #expect(throws: ModelDeckError.self) {
            try await driver(noRole, noRoleTarget, client: client).provision(try version(noRole, "sentiment@v1"), on: endpoint)
        }
        #expect(role?.message.contains("no execution_role_arn") == true)

        // An 11 GB image is over SageMaker's 10 GB: the fit check refuses it.
        let endpointWithRole = try registry.read { db in try Endpoint.fetchOne(db, key: name)! }
        let image = await #expect(throws: ModelDeckError.self) {
            try await driver(registry, target, client: client).provision(try version(registry, "sentiment@v3"), on: endpointWithRole)
        }
        #expect(image?.message.contains("image is 11") == true)
        #expect(server.requests.isEmpty)
    }

    @Test func longNamesAreShortenedWithoutMeeting() {
        let long = String(repeating: "endpoint", count: 10)
        let a = SageMakerServerlessDriver.name(["md", long, "v1"])
        let b = SageMakerServerlessDriver.name(["md", long, "v2"])
        #expect(a.count <= 63 && b.count <= 63 && a != b)
        #expect(SageMakerServerlessDriver.name(["md", "sentiment_batch", "v1.2"]) == "md-sentiment-batch-v1-2")
    }
}

/// Replacing the version of a live endpoint is `UpdateEndpoint`, which moto (5.2) does not implement. This
/// stand-in answers as SageMaker documents it — an endpoint `Updating` with a pending deployment, then
/// `InService` on the new config — at the HTTP boundary, so the driver's calls and bodies can be checked.
@Suite struct SageMakerUpdateTests {
    /// A SageMaker that knows one endpoint on `oldConfig`; it updates after two Describes, or fails.
    final class StandIn: Sendable {
        let oldConfig: String
        let fail: Bool
        let describesAfterUpdate = Mutex(0)
        let updatedTo = Mutex<String?>(nil)

        init(oldConfig: String, fail: Bool = false) {
            self.oldConfig = oldConfig
            self.fail = fail
        }

        func answer(_ head: HTTPRequest, _ body: Data) -> FaultServer.Answer {
            let operation = head.headerFields[HTTPField.Name("X-Amz-Target")!]?.split(separator: ".").last.map(String.init) ?? ""
            let fields = (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] ?? [:]
            switch operation {
            case "DescribeModel":
                return .ok(#"{"ModelName": "\#(fields["ModelName"] as? String ?? "")"}"#)
            case "DescribeEndpointConfig":
                return .error(status: 400, type: nil, body: #"{"__type": "ValidationException", "message": "Could not find endpoint configuration"}"#)
            case "CreateEndpointConfig":
                return .ok(#"{"EndpointConfigArn": "arn:aws:sagemaker:us-east-1:123456789012:endpoint-config/x"}"#)
            case "UpdateEndpoint":
                updatedTo.withLock { $0 = fields["EndpointConfigName"] as? String }
                return .ok(#"{"EndpointArn": "arn:aws:sagemaker:us-east-1:123456789012:endpoint/x"}"#)
            case "DescribeEndpoint":
                guard let target = updatedTo.withLock({ $0 }) else {
                    return .ok(#"{"EndpointName": "e", "EndpointConfigName": "\#(oldConfig)", "EndpointStatus": "InService"}"#)
                }
                let seen = describesAfterUpdate.withLock { count in count += 1; return count }
                if seen < 3 {
                    return .ok(#"{"EndpointName": "e", "EndpointConfigName": "\#(oldConfig)", "EndpointStatus": "Updating", "PendingDeploymentSummary": {"EndpointConfigName": "\#(target)"}}"#)
                }
                if fail {
                    return .ok(#"{"EndpointName": "e", "EndpointConfigName": "\#(oldConfig)", "EndpointStatus": "Failed", "FailureReason": "Image pull failed: 123456789012.dkr.ecr.us-east-1.amazonaws.com/sentiment:v2 not found"}"#)
                }
                return .ok(#"{"EndpointName": "e", "EndpointConfigName": "\#(target)", "EndpointStatus": "InService"}"#)
            default:
                return .error(status: 400, type: nil, body: #"{"__type": "UnknownOperationException", "message": "\#(operation)"}"#)
            }
        }
    }

    private func setUp(fail: Bool) async throws -> (SageMakerServerlessDriver, FaultServer, StandIn, Endpoint, ModelVersion, ModelVersion) {
        let registry = try ImageDeck.registry(target: "{name: sm, kind: sagemaker-serverless, region: us-east-1, execution_role_arn: 'arn:aws:iam::123456789012:role/r'}",
                                              endpoint: "{name: scoring, model: sentiment, target: sm, memory: 1GB, max_instances: 3}")
        let (target, endpoint, v1, v2) = try registry.read { db in
            (try Target.fetchOne(db, key: "sm")!, try Endpoint.fetchOne(db, key: "scoring")!,
             try ModelVersion.fetchOne(db, key: "sentiment@v1")!, try ModelVersion.fetchOne(db, key: "sentiment@v2")!)
        }
        let probe = SageMakerServerlessDriver(target: target,
                                              client: AWSClient(configuration: AWSConfiguration(credentials: AWSCredentials(accessKeyID: "a", secretAccessKey: "b"), region: "us-east-1", endpointURL: "http://127.0.0.1:1", profile: "t")))
        let standIn = StandIn(oldConfig: probe.configName(endpoint: endpoint, version: v1), fail: fail)
        let server = FaultServer { _, head, body in standIn.answer(head, body) }
        let configuration = AWSConfiguration(credentials: AWSCredentials(accessKeyID: "a", secretAccessKey: "b"), region: "us-east-1",
                                             endpointURL: try await server.start(), profile: "test")
        var driver = SageMakerServerlessDriver(target: target, client: AWSClient(configuration: configuration))
        driver.pollInterval = .milliseconds(10)
        return (driver, server, standIn, endpoint, v1, v2)
    }

    @Test func aNewVersionReplacesTheOldWithUpdateEndpointAndWaitsForInService() async throws {
        let (driver, server, standIn, endpoint, v1, v2) = try await setUp(fail: false)
        defer { server.stop() }
        try await driver.setWeights(["sentiment@v2": 100], on: endpoint, versions: [v1.id: v1, v2.id: v2])

        let operations = server.requests.compactMap { $0.headerFields[HTTPField.Name("X-Amz-Target")!] }
        #expect(operations.filter { $0 == "SageMaker.UpdateEndpoint" }.count == 1)
        #expect(!operations.contains("SageMaker.CreateEndpoint"))
        #expect(standIn.updatedTo.withLock { $0 } == driver.configName(endpoint: endpoint, version: v2))
        #expect(standIn.describesAfterUpdate.withLock { $0 } == 3) // waited through Updating to InService
        let created = server.bodies.compactMap { try? JSONSerialization.jsonObject(with: $0) as? [String: Any] }
            .first { $0["ProductionVariants"] != nil }
        let variant = (created?["ProductionVariants"] as? [[String: Any]])?.first
        #expect(variant?["VariantName"] as? String == "v2")
        #expect((variant?["ServerlessConfig"] as? [String: Any])?["MaxConcurrency"] as? Int == 3)
    }

    @Test func aCreateThatSageMakerHadAlreadyCarriedOutIsNotAFailure() async throws {
        let (_, server, _, endpoint, v1, _) = try await setUp(fail: false)
        server.stop()
        // A CreateModel that timed out but was carried out: the retry hears "already existing".
        let retried = FaultServer { _, head, _ in
            switch head.headerFields[HTTPField.Name("X-Amz-Target")!] ?? "" {
            case "SageMaker.DescribeModel":
                return .error(status: 400, type: nil, body: #"{"__type": "ValidationException", "message": "Could not find model"}"#)
            case "SageMaker.CreateModel":
                return .error(status: 400, type: nil, body: #"{"__type": "ValidationException", "message": "Cannot create already existing model \"m\"."}"#)
            default:
                return .error(status: 400, type: nil, body: #"{"__type": "UnknownOperationException", "message": "no"}"#)
            }
        }
        defer { retried.stop() }
        // In a folder of its own: a registry straight in /tmp (writable by others) is refused.
        let registry = try Registry(path: NSTemporaryDirectory() + "modeldeck-smr-\(UUID().uuidString)/registry.sqlite")
        let target = Target(name: "sm", kind: .sagemakerServerless, region: "us-east-1", config: ["execution_role_arn": "arn:aws:iam::1:role/r"])
        let configuration = AWSConfiguration(credentials: AWSCredentials(accessKeyID: "a", secretAccessKey: "b"), region: "us-east-1",
                                             endpointURL: try await retried.start(), profile: "test")
        let driver = SageMakerServerlessDriver(target: target, client: AWSClient(configuration: configuration))
        try await driver.provision(v1, on: endpoint)
        #expect(retried.requests.count == 2)
    }

    @Test func aFailedUpdateSaysWhy() async throws {
        let (driver, server, _, endpoint, v1, v2) = try await setUp(fail: true)
        defer { server.stop() }
        let error = await #expect(throws: ModelDeckError.self) {
            try await driver.setWeights(["sentiment@v2": 100], on: endpoint, versions: [v1.id: v1, v2.id: v2])
        }
        #expect(error?.message.contains("failed: Image pull failed") == true)
    }
}
