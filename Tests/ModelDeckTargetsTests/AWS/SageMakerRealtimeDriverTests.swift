import Foundation
import GRDB
import HTTPTypes
import ModelDeckCore
import ModelDeckTestSupport
import Testing
@testable import ModelDeckTargets

/// The sagemaker-realtime driver against moto (with `UpdateEndpoint` stood in for: `MotoWithUpdateEndpoint`):
/// every step is checked through SageMaker's own answers — DescribeEndpoint's variants and weights,
/// DescribeEndpointConfig's variants on their instances — not through the driver's view of itself.
@Suite(.serialized) struct SageMakerRealtimeDriverTests {
    static let role = "arn:aws:iam::123456789012:role/modeldeck-sagemaker"

    /// A registry with a sagemaker-realtime target on 2 × ml.t2.medium and an endpoint `name`, v1 and v2 as images.
    private func registry(endpoint name: String) throws -> (Registry, Target) {
        let folder = NSTemporaryDirectory() + "modeldeck-smrt-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try """
        targets:
          - {name: rt, kind: sagemaker-realtime, region: us-east-1, execution_role_arn: '\(Self.role)', instance_type: ml.t2.medium, instance_count: 2}
        models:
          - name: sentiment
            versions:
              - {version: v1, image: 123456789012.dkr.ecr.us-east-1.amazonaws.com/sentiment:v1, digest: 'sha256:\(String(repeating: "a", count: 64))', size: 200MB, memory: 1GB}
              - {version: v2, image: 123456789012.dkr.ecr.us-east-1.amazonaws.com/sentiment:v2, digest: 'sha256:\(String(repeating: "b", count: 64))', size: 300MB, memory: 1GB}
              - {version: v3, image: 123456789012.dkr.ecr.us-east-1.amazonaws.com/sentiment:v3, digest: 'sha256:\(String(repeating: "c", count: 64))', size: 300MB, memory: 6GB}
        endpoints:
          - {name: \(name), model: sentiment, target: rt, memory: 2GB}
        """.write(toFile: folder + "/deck.yaml", atomically: true, encoding: .utf8)
        let registry = try Registry(path: folder + "/registry.sqlite")
        try DeckApplier.apply(try DeckReader.read(path: folder + "/deck.yaml"), to: registry, source: "test")
        return (registry, try registry.read { db in try Target.fetchOne(db, key: "rt")! })
    }

    private func routing(_ registry: Registry, _ name: String) throws -> (Endpoint, [String: ModelVersion]) {
        let endpoint = try #require(try registry.endpoint(named: name))
        return (endpoint, Dictionary(try registry.versions(model: endpoint.model).map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a }))
    }

    private func describe(_ client: AWSClient, _ operation: String, _ body: [String: String]) async throws -> [String: Any] {
        let answer = try await client.json(.sagemaker, targetPrefix: "SageMaker", operation: operation, body)
        return try JSONSerialization.jsonObject(with: answer.body) as? [String: Any] ?? [:]
    }

    /// DescribeEndpoint's variants as (name → CurrentWeight), and the config the endpoint is on.
    private func live(_ client: AWSClient, _ sagemakerName: String) async throws -> (weights: [String: Double], config: String) {
        let endpoint = try await describe(client, "DescribeEndpoint", ["EndpointName": sagemakerName])
        #expect(endpoint["EndpointStatus"] as? String == "InService")
        var weights: [String: Double] = [:]
        for variant in endpoint["ProductionVariants"] as? [[String: Any]] ?? [] {
            weights[variant["VariantName"] as? String ?? "?"] = (variant["CurrentWeight"] as? Double) ?? 0
        }
        return (weights, endpoint["EndpointConfigName"] as? String ?? "")
    }

    @Test func aCanaryIsOneNewConfigWithBothVariantsAndEveryLaterStepOnlyMovesTheirWeights() async throws {
        let name = "rt-\(UUID().uuidString.prefix(8).lowercased())"
        let (registry, target) = try registry(endpoint: name)
        let aws = MotoWithUpdateEndpoint()
        defer { aws.stop() }
        let client = AWSClient(configuration: AWSConfiguration(credentials: AWSCredentials(accessKeyID: "AKIDMODELDECKTEST", secretAccessKey: "modeldeck-test-secret"),
                                                               region: "us-east-1", endpointURL: try await aws.start(), profile: "test"))
        var driver = SageMakerRealtimeDriver(target: target, client: client)
        driver.pollInterval = .milliseconds(50)
        driver.inServiceTimeout = .seconds(20)
        let (endpoint, versions) = try routing(registry, name)
        let sagemakerName = driver.endpointName(name)

        // The first version: a config with one variant on the target's instances, and the endpoint on it.
        try await driver.setWeights(["sentiment@v1": 100], on: endpoint, versions: versions)
        let first = try await live(client, sagemakerName)
        #expect(first.weights == ["v1": 100])
        let firstConfig = try await describe(client, "DescribeEndpointConfig", ["EndpointConfigName": first.config])
        let variant = (firstConfig["ProductionVariants"] as? [[String: Any]])?.first
        #expect(variant?["InstanceType"] as? String == "ml.t2.medium")
        #expect(variant?["InitialInstanceCount"] as? Int == 2)
        #expect(variant?["ModelName"] as? String == driver.hosting.modelName(endpoint: name, version: versions["sentiment@v1"]!))
        #expect(try await driver.liveWeights(of: endpoint, versions: versions) == ["sentiment@v1": 100])

        // A canary: UpdateEndpoint to a config that holds both variants, 90/10.
        try await driver.setWeights(["sentiment@v1": 90, "sentiment@v2": 10], on: endpoint, versions: versions)
        let canary = try await live(client, sagemakerName)
        #expect(canary.weights == ["v1": 90, "v2": 10])
        #expect(canary.config != first.config)
        let both = try await describe(client, "DescribeEndpointConfig", ["EndpointConfigName": canary.config])
        let variants = both["ProductionVariants"] as? [[String: Any]] ?? []
        #expect(Set(variants.compactMap { $0["VariantName"] as? String }) == ["v1", "v2"])
        #expect(variants.allSatisfy { $0["InstanceType"] as? String == "ml.t2.medium" && $0["InitialInstanceCount"] as? Int == 2 })
        #expect(try await driver.liveWeights(of: endpoint, versions: versions) == ["sentiment@v1": 90, "sentiment@v2": 10])

        // A linear step, then a rollback: weights only, on the same config.
        try await driver.setWeights(["sentiment@v1": 50, "sentiment@v2": 50], on: endpoint, versions: versions)
        let linear = try await live(client, sagemakerName)
        #expect(linear.weights == ["v1": 50, "v2": 50] && linear.config == canary.config)
        try await driver.setWeights(["sentiment@v1": 100], on: endpoint, versions: versions)
        let rolledBack = try await live(client, sagemakerName)
        #expect(rolledBack.weights == ["v1": 100, "v2": 0] && rolledBack.config == canary.config)
        #expect(try await driver.liveWeights(of: endpoint, versions: versions) == ["sentiment@v1": 100])
        // Asked again: nothing to do, nothing called but the Describe.
        let before = aws.operations.count
        try await driver.setWeights(["sentiment@v1": 100], on: endpoint, versions: versions)
        #expect(Array(aws.operations.dropFirst(before)) == ["DescribeEndpoint"])

        let operations = aws.operations
        #expect(operations.filter { $0 == "CreateEndpointConfig" }.count == 2)
        #expect(operations.filter { $0 == "CreateEndpoint" }.count == 1)
        #expect(operations.filter { $0 == "UpdateEndpoint" }.count == 1)
        #expect(operations.filter { $0 == "UpdateEndpointWeightsAndCapacities" }.count == 2)
    }

    @Test func aVersionTooBigForTheInstanceIsRefusedBeforeAnyCall() async throws {
        let name = "rt-\(UUID().uuidString.prefix(8).lowercased())"
        let (registry, target) = try registry(endpoint: name)
        let server = FaultServer([.error(status: 500, type: nil, body: "{}")])
        defer { server.stop() }
        let client = AWSClient(configuration: AWSConfiguration(credentials: AWSCredentials(accessKeyID: "a", secretAccessKey: "b"),
                                                               region: "us-east-1", endpointURL: try await server.start(), profile: "t"))
        let driver = SageMakerRealtimeDriver(target: target, client: client)
        let (endpoint, versions) = try routing(registry, name)
        let error = await #expect(throws: ModelDeckError.self) {
            try await driver.setWeights(["sentiment@v3": 100], on: endpoint, versions: versions)
        }
        // v3 needs 6 GB; an ml.t2.medium has 4 GiB (the endpoint asks 2 GB of it).
        #expect(error?.message.contains("sentiment@v3") == true, "\(error?.message ?? "")")
        let operations = server.requests.compactMap { $0.headerFields[HTTPField.Name("X-Amz-Target")!] }
        #expect(!operations.contains { $0.hasPrefix("SageMaker.Create") }, "\(operations)")
    }

    /// Each variant's figures: Invocations, ModelLatency and 5XX from `AWS/SageMaker`; CPU and memory from
    /// `/aws/sagemaker/Endpoints`. A minute with utilization is a minute the instances ran: priced by the hour.
    @Test func eachVariantsFiguresAndItsInstanceHoursBecomeTheVersionsBuckets() async throws {
        let name = "rt-\(UUID().uuidString.prefix(8).lowercased())"
        let (registry, target) = try registry(endpoint: name)
        let client = AWSClient(configuration: try await Moto.shared.configuration())
        var driver = SageMakerRealtimeDriver(target: target, client: client)
        driver.percentiles = false // moto 5.2 answers percentile statistics with HTTP 500
        let (endpoint, versions) = try routing(registry, name)
        let minute = (Int64(Date().timeIntervalSince1970) / 60 - 2) * 60
        let at = Date(timeIntervalSince1970: Double(minute + 5))
        let dimensions = [("EndpointName", driver.endpointName(name)), ("VariantName", "v1")]
        try await CloudWatchFixture.put(client, namespace: "AWS/SageMaker", dimensions: dimensions, at: at,
                                        metrics: [("Invocations", [(40, 1)]), ("Invocation5XXErrors", [(3, 1)]), ("ModelLatency", [(30_000, 40)])])
        try await CloudWatchFixture.put(client, namespace: "/aws/sagemaker/Endpoints", dimensions: dimensions, at: at,
                                        metrics: [("CPUUtilization", [(150, 1)]), ("MemoryUtilization", [(42, 1)])])
        // v2 ran (its instances reported) but served nothing.
        try await CloudWatchFixture.put(client, namespace: "/aws/sagemaker/Endpoints", dimensions: [dimensions[0], ("VariantName", "v2")], at: at,
                                        metrics: [("CPUUtilization", [(1, 1)])])

        let measured = try await driver.collectMetrics(of: endpoint, versions: [versions["sentiment@v1"]!, versions["sentiment@v2"]!],
                                                       from: Date(timeIntervalSince1970: Double(minute - 60)), to: Date())
        let v1Figures = measured.periods.filter { $0.key.version == "sentiment@v1" }.map(\.figures)
        #expect(v1Figures.compactMap(\.cpuUtilization) == [150] && v1Figures.compactMap(\.memoryUtilization) == [42])
        let perHour = try #require(TargetPricing.instanceRate(for: target, table: .standard))
        #expect(perHour.count == 2 && perHour.rate.perHour == Decimal(string: "0.056"))
        #expect(TargetPricing.label(of: target, table: .standard) == "sagemaker-realtime 2 × ml.t2.medium us-east-1")
        let buckets = measured.buckets(rates: try TargetPricing.rates(for: target, table: .standard), perInstanceHour: perHour.rate.perHour)
        let v1 = try #require(buckets[MetricBucket.Key(endpoint: name, version: "sentiment@v1", start: minute, width: 60)])
        #expect(v1.requests == 40 && v1.errors == 3 && v1.instances == 2)
        #expect(abs((v1.latency.milliseconds(atPercentile: 50) ?? 0) - 30) <= 30 * LatencyHistogram.relativeAccuracy)
        // 2 instances × 1 minute × $0.056 an hour = $0.0018666… → 1,867 µ$; invocations add nothing.
        #expect(v1.costMicros == 1_867)
        let v2 = try #require(buckets[MetricBucket.Key(endpoint: name, version: "sentiment@v2", start: minute, width: 60)])
        #expect(v2.requests == 0 && v2.costMicros == 1_867)

        // Stored as the platform's figures, twice: replaced, not doubled.
        for _ in 0..<2 { try registry.replaceObserved(buckets, platformCountsColdStarts: measured.countsColdStarts) }
        let stored = try #require(try registry.bucket(at: MetricBucket.Key(endpoint: name, version: "sentiment@v1", start: minute, width: 60)))
        #expect(stored.costMicros == 1_867 && stored.requests == 40 && stored.instances == 2)
        #expect(stored.cpuUtilizationPercent == 150 && stored.memoryUtilizationPercent == 42)
        let idle = try #require(try registry.bucket(at: MetricBucket.Key(endpoint: name, version: "sentiment@v2", start: minute, width: 60)))
        #expect(idle.cpuUtilizationPercent == 1 && idle.memoryUtilizationPercent == nil)
    }

    @Test func liveWeightsAreEachVariantsShareOfTheSum() {
        typealias Variant = SageMakerHosting.EndpointDescription.Variant
        func variant(_ name: String, _ weight: Double?) -> Variant {
            Variant(VariantName: name, CurrentWeight: weight, DesiredWeight: nil, CurrentInstanceCount: 1, DesiredInstanceCount: 1)
        }
        #expect(SageMakerRealtimeDriver.percents([variant("v1", 0.9), variant("v2", 0.1)]) == ["v1": 90, "v2": 10])
        #expect(SageMakerRealtimeDriver.percents([variant("v1", 3), variant("v2", 1)]) == ["v1": 75, "v2": 25])
        #expect(SageMakerRealtimeDriver.percents([variant("v1", 100), variant("v2", nil)]) == ["v1": 100])
        #expect(SageMakerRealtimeDriver.percents([variant("v1", 0), variant("v2", 0)]).isEmpty)
        #expect(SageMakerRealtimeDriver.percents([variant("v1", .infinity), variant("v2", 1)]).isEmpty)
        #expect(SageMakerRealtimeDriver.percents([variant("v1", -5), variant("v2", 1)]) == ["v2": 100])
    }
}
