import Foundation
import GRDB
import HTTPTypes
import ModelDeckCore
import ModelDeckTestSupport
import Synchronization
import Testing
@testable import ModelDeckTargets

/// The aws-lambda driver against moto: every step is checked through Lambda's and CloudWatch's own answers
/// (GetAlias, ListVersionsByFunction, GetFunctionConfiguration), not through the driver's view of itself.
/// Each test uses its own function prefix, since moto is shared.
@Suite(.serialized) struct LambdaDriverTests {
    static let role = "arn:aws:iam::123456789012:role/modeldeck-lambda"
    static let bucket = "modeldeck-lambda-artifacts"

    /// A registry with an aws-lambda target and an endpoint `name` on model `sentiment`: v1, v2 and v3 are zip
    /// packages (real zips, written by Python's zipfile), v4 an 11 GB image, v5 a zip on S3, v6 a 2 GB image;
    /// endpoints `name` (512 MB) and `images` (1 GB).
    private func registry(prefix: String, endpoint name: String = "sentiment", role: Bool = true) throws -> (Registry, Target) {
        let folder = NSTemporaryDirectory() + "modeldeck-lambda-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        for version in ["v1", "v2", "v3"] { try Self.zip(folder: folder, name: "\(version).zip", bootstrap: "#!/bin/sh\necho \(version)\n") }
        let deck = """
        targets:
          - name: lambda
            kind: aws-lambda
            region: us-east-1
            function_prefix: \(prefix)
            architecture: arm64
            role_arn: '\(Self.role)'
        models:
          - name: sentiment
            versions:
              - {version: v1, artifact: v1.zip, command: [./bootstrap], memory: 256MB, timeout: 30s}
              - {version: v2, artifact: v2.zip, command: [./bootstrap], memory: 256MB, timeout: 45s}
              - {version: v3, artifact: v3.zip, command: [./bootstrap], memory: 256MB}
              - {version: v4, image: 123456789012.dkr.ecr.us-east-1.amazonaws.com/sentiment:v4, digest: 'sha256:\(String(repeating: "d", count: 64))', size: 11GB, memory: 256MB}
              - {version: v5, artifact: 's3://\(Self.bucket)/sentiment/v5.zip', command: [./bootstrap], digest: 'sha256:\(String(repeating: "e", count: 64))', size: 1KB, memory: 256MB}
              - {version: v6, image: 123456789012.dkr.ecr.us-east-1.amazonaws.com/sentiment:v6, digest: 'sha256:\(String(repeating: "f", count: 64))', size: 2GB, memory: 256MB}
        endpoints:
          - {name: \(name), model: sentiment, target: lambda, memory: 512MB}
          - {name: images, model: sentiment, target: lambda, memory: 1GB}
        """
        try deck.write(toFile: folder + "/deck.yaml", atomically: true, encoding: .utf8)
        let registry = try Registry(path: folder + "/registry.sqlite")
        try DeckApplier.apply(try DeckReader.read(path: folder + "/deck.yaml"), to: registry, source: "test")
        var target = try registry.read { db in try Target.fetchOne(db, key: "lambda")! }
        // `apply` refuses a Lambda target without role_arn; the driver still says so itself, for a target
        // written to the registry before that check existed.
        if !role { target.config["role_arn"] = nil }
        return (registry, target)
    }

    /// A real zip (Foundation cannot write one): `python3 -m zipfile -c`, with `bootstrap` as its only file.
    static func zip(folder: String, name: String, bootstrap: String) throws {
        let source = folder + "/bootstrap"
        try bootstrap.write(toFile: source, atomically: true, encoding: .utf8)
        let python = Process()
        python.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        python.arguments = ["python3", "-m", "zipfile", "-c", folder + "/" + name, source]
        python.currentDirectoryURL = URL(fileURLWithPath: folder)
        try python.run()
        python.waitUntilExit()
        guard python.terminationStatus == 0 else { throw TestFailure("python3 -m zipfile failed with \(python.terminationStatus)") }
    }

    /// moto checks that a function's role exists in IAM.
    private func createRole(_ client: AWSClient) async throws {
        #expect(try await Moto.shared.lambdaRole() == Self.role)
    }

    private func driver(_ registry: Registry, _ target: Target, client: AWSClient) -> LambdaDriver {
        var driver = LambdaDriver(target: target, client: client)
        driver.pollInterval = .milliseconds(50)
        driver.updateTimeout = .seconds(20)
        driver.percentiles = false  // moto 5.2 answers a percentile statistic with HTTP 500
        return driver
    }

    private func lambda(_ client: AWSClient, _ operation: String, _ path: String) async throws -> [String: Any] {
        let answer = try await client.send(.lambda, operation: operation, method: .GET, path: path)
        return try JSONSerialization.jsonObject(with: answer.body) as? [String: Any] ?? [:]
    }

    /// Published versions (not `$LATEST`) as number → description, from ListVersionsByFunction.
    private func published(_ client: AWSClient, _ function: String) async throws -> [String: String] {
        let versions = try await lambda(client, "ListVersionsByFunction", "/2015-03-31/functions/\(function)/versions")["Versions"] as? [[String: Any]] ?? []
        return versions.reduce(into: [String: String]()) { result, version in
            let number = version["Version"] as? String ?? ""
            if number != "$LATEST" { result[number] = version["Description"] as? String ?? "" }
        }
    }

    private func version(_ registry: Registry, _ id: String) throws -> ModelVersion {
        try registry.read { db in try ModelVersion.fetchOne(db, key: id)! }
    }

    private func endpoint(_ registry: Registry, _ name: String = "sentiment") throws -> Endpoint {
        try registry.read { db in try Endpoint.fetchOne(db, key: name)! }
    }

    /// The endpoint's model's versions by id, as the daemon hands them to the driver.
    private func versions(_ registry: Registry, _ name: String = "sentiment") throws -> [String: ModelVersion] {
        Dictionary(try registry.versions(model: try endpoint(registry, name).model).map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
    }

    private func setWeights(_ driver: LambdaDriver, _ weights: [String: Int], _ registry: Registry, _ name: String = "sentiment") async throws {
        try await driver.setWeights(weights, on: try endpoint(registry, name), versions: try versions(registry, name))
    }

    private func liveWeights(_ driver: LambdaDriver, _ registry: Registry, _ name: String = "sentiment") async throws -> [String: Int] {
        try await driver.liveWeights(of: try endpoint(registry, name), versions: try versions(registry, name))
    }

    /// What the daemon does once a minute: the serving versions' figures collected, priced and stored.
    private func collect(_ driver: LambdaDriver, _ registry: Registry, from: Date, to: Date) async throws {
        let endpoint = try endpoint(registry)
        let serving = try registry.versions(ids: Array(registry.servingVersions(endpoint: endpoint.name, since: from)))
        let measured = try await driver.collectMetrics(of: endpoint, versions: serving, from: from, to: to)
        try registry.replaceObserved(measured.buckets(rates: try TargetPricing.rates(for: driver.target, table: .standard)),
                                     platformCountsColdStarts: measured.countsColdStarts)
    }

    /// A registry with its own function prefix, a client for moto with the execution role in place, and the driver.
    private func onMoto() async throws -> (prefix: String, registry: Registry, client: AWSClient, driver: LambdaDriver) {
        let prefix = Self.prefix()
        let (registry, target) = try registry(prefix: prefix)
        let client = AWSClient(configuration: try await Moto.shared.configuration())
        try await createRole(client)
        return (prefix, registry, client, driver(registry, target, client: client))
    }

    private static func prefix() -> String { "md-\(UUID().uuidString.prefix(8).lowercased())-" }

    /// Issue #15, item 8: a zip overwritten after apply is refused before upload, with both digests (no AWS call).
    @Test func aZipChangedAfterApplyIsNotUploadedUnderItsOldDigest() throws {
        let (registry, target) = try registry(prefix: Self.prefix())
        let configuration = AWSConfiguration(credentials: AWSCredentials(accessKeyID: "AKID", secretAccessKey: "secret", sessionToken: nil),
                                             region: "us-east-1", endpointURL: "http://127.0.0.1:9", profile: "test")
        let driver = driver(registry, target, client: AWSClient(configuration: configuration))
        let v3 = try version(registry, "sentiment@v3")
        _ = try driver.spec(for: v3, on: try endpoint(registry))
        let zip = try #require(v3.artifact)
        try Self.zip(folder: URL(fileURLWithPath: zip).deletingLastPathComponent().path, name: "v3.zip", bootstrap: "#!/bin/sh\necho changed\n")
        #expect {
            try driver.spec(for: v3, on: try endpoint(registry))
        } throws: { error in
            let message = (error as? ModelDeckError)?.message ?? ""
            return message.contains("has changed: it now has digest sha256:") && message.contains("the registry has \(v3.digest)")
        }
    }

    // MARK: The issue's scenario

    @Test func deployCanaryRollbackPingAndMetricsAsLambdaAndCloudWatchSeeThem() async throws {
        let (prefix, registry, client, driver) = try await onMoto()
        let function = prefix + "sentiment"
        let endpoint = try endpoint(registry)
        let v1 = try version(registry, "sentiment@v1"), v2 = try version(registry, "sentiment@v2")

        // Create + deploy v1.
        try await driver.provision(v1, on: endpoint)
        let afterV1 = try await published(client, function)
        #expect(afterV1.count == 1)
        let n1 = try #require(afterV1.first { $0.value == "modeldeck sentiment@v1 \(v1.digest)" }?.key)
        let config = try await lambda(client, "GetFunctionConfiguration", "/2015-03-31/functions/\(function)/configuration")
        #expect(config["MemorySize"] as? Int == 512)
        #expect(config["Timeout"] as? Int == 30)
        #expect(config["Runtime"] as? String == "provided.al2023")
        #expect(config["Handler"] as? String == "bootstrap")
        #expect(config["Architectures"] as? [String] == ["arm64"])
        #expect(config["Role"] as? String == Self.role)
        #expect(config["LastUpdateStatus"] as? String == "Successful")

        try await setWeights(driver, ["sentiment@v1": 100], registry, "sentiment")
        var alias = try await lambda(client, "GetAlias", "/2015-03-31/functions/\(function)/aliases/live")
        #expect(alias["FunctionVersion"] as? String == n1)
        #expect(((alias["RoutingConfig"] as? [String: Any])?["AdditionalVersionWeights"] as? [String: Any] ?? [:]).isEmpty)

        // Canary v2 at 10%: v1 stays the alias's version, v2 takes 0.1 through the routing config.
        try await driver.provision(v2, on: endpoint)
        let afterV2 = try await published(client, function)
        let n2 = try #require(afterV2.first { $0.value == "modeldeck sentiment@v2 \(v2.digest)" }?.key)
        #expect(afterV2.count == 2 && n2 != n1)
        let v2Config = try await lambda(client, "GetFunctionConfiguration", "/2015-03-31/functions/\(function)/configuration")
        #expect(v2Config["Timeout"] as? Int == 45)
        #expect((v2Config["Environment"] as? [String: Any])?["Variables"] as? [String: String] == [
            "MODELDECK_VERSION": "sentiment@v2", "MODELDECK_DIGEST": v2.digest, "MODELDECK_ENDPOINT": "sentiment"])

        try await setWeights(driver, ["sentiment@v1": 90, "sentiment@v2": 10], registry, "sentiment")
        alias = try await lambda(client, "GetAlias", "/2015-03-31/functions/\(function)/aliases/live")
        #expect(alias["FunctionVersion"] as? String == n1)
        #expect((alias["RoutingConfig"] as? [String: Any])?["AdditionalVersionWeights"] as? [String: Double] == [n2: 0.1])
        #expect(try await liveWeights(driver, registry, "sentiment") == ["sentiment@v1": 90, "sentiment@v2": 10])

        // Roll back: v1 alone, no additional version.
        try await setWeights(driver, ["sentiment@v1": 100, "sentiment@v2": 0], registry, "sentiment")
        alias = try await lambda(client, "GetAlias", "/2015-03-31/functions/\(function)/aliases/live")
        #expect(alias["FunctionVersion"] as? String == n1)
        #expect(((alias["RoutingConfig"] as? [String: Any])?["AdditionalVersionWeights"] as? [String: Any] ?? [:]).isEmpty)
        #expect(try await liveWeights(driver, registry, "sentiment") == ["sentiment@v1": 100])

        // Provisioning v1 again publishes nothing; a new driver (a restarted daemon) finds the same numbers.
        try await driver.provision(v1, on: endpoint)
        #expect(try await published(client, function) == afterV2)
        let restarted = self.driver(registry, driver.target, client: client)
        #expect(try await liveWeights(restarted, registry, "sentiment") == ["sentiment@v1": 100])

        // Keep-warm: moto invokes without a log tail, so no REPORT line: no cold start is claimed, and each ping
        // is priced from its round trip (an upper bound) on the endpoint's 512 MB, as a warmup.
        let pings = try await driver.ping(v2, of: endpoint, count: 3)
        #expect(pings.map(\.status) == [200, 200, 200])
        #expect(pings.allSatisfy { !$0.coldStart && !$0.recordedByTarget && $0.billedMilliseconds == nil })
        // The daemon records what the driver returned, as warmups.
        let recorder = InvocationRecorder()
        let rates = try TargetPricing.rates(for: driver.target, table: .standard)
        for ping in pings { recorder.record(ping.invocation(endpoint: endpoint, version: v2.id, at: Date(), concurrent: 3, rates: rates)) }
        try recorder.flush(to: registry, instances: [], endpoints: [])
        let counted = try registry.read { db in
            try Row.fetchOne(db, sql: """
                SELECT SUM(warmups) AS warmups, SUM(warmup_cold_starts) AS cold, SUM(requests) AS requests, SUM(mb_ms) AS mbMs
                FROM metric_buckets WHERE endpoint = 'sentiment' AND version_id = 'sentiment@v2'
                """)
        }
        #expect(counted?["warmups"] as Int64? == 3)
        #expect(counted?["cold"] as Int64? == 0)
        #expect(counted?["requests"] as Int64? == 0)
        #expect(counted?["mbMs"] as Int64? == Int64(pings.reduce(0) { $0 + $1.milliseconds }) * 512)
    }

    @Test func metricsFromCloudWatchReplaceEarlierCollectionsAndKeepWarmups() async throws {
        let (prefix, registry, client, driver) = try await onMoto()
        let function = prefix + "sentiment"
        let endpoint = try endpoint(registry)
        try await driver.provision(try version(registry, "sentiment@v1"), on: endpoint)
        try await driver.provision(try version(registry, "sentiment@v2"), on: endpoint)
        try await setWeights(driver, ["sentiment@v1": 90, "sentiment@v2": 10], registry, "sentiment")
        // The traffic as the daemon records it once routed: metrics are read for the versions serving.
        try registry.write { db in try TrafficSplit(["sentiment@v1": 90, "sentiment@v2": 10], endpoint: "sentiment").save(db, endpoint: "sentiment") }
        let numbers = try await published(client, function).reduce(into: [String: String]()) { $0[LambdaDriver.versionID(inDescription: $1.value)!] = $1.key }

        // What Lambda would report for the alias, per executed version, two minutes ago.
        let minute = (Int64(Date().timeIntervalSince1970) / 60 - 2) * 60
        func put(_ number: String, invocations: Int, errors: Int, throttles: Int, durations: [(Double, Int)]) async throws {
            try await CloudWatchFixture.put(client, namespace: "AWS/Lambda",
                                            dimensions: [("FunctionName", function), ("Resource", "\(function):live"), ("ExecutedVersion", number)],
                                            at: Date(timeIntervalSince1970: Double(minute + 5)),
                                            metrics: [("Invocations", [(Double(invocations), 1)]), ("Errors", [(Double(errors), 1)]),
                                                      ("Throttles", [(Double(throttles), 1)]), ("Duration", durations)])
        }
        try await put(numbers["sentiment@v1"]!, invocations: 40, errors: 2, throttles: 1, durations: [(10, 10), (20, 10), (30, 10), (100, 10)])
        try await put(numbers["sentiment@v2"]!, invocations: 5, errors: 0, throttles: 0, durations: [(50, 4), (250, 1)])

        // A ping's warmup figures already sit in v1's minute: collecting must keep them.
        let v1Key = MetricBucket.Key(endpoint: "sentiment", version: "sentiment@v1", start: minute, width: 60)
        var warm = MetricBucket()
        warm.warmups = 2
        warm.warmupCostMicros = 7
        try registry.write { db in try warm.merge(into: v1Key, db) }

        let from = Date(timeIntervalSince1970: Double(minute - 300)), to = Date(timeIntervalSince1970: Double(minute + 300))
        try await collect(driver, registry, from: from, to: to)
        try await collect(driver, registry, from: from, to: to)

        let v1 = try #require(try registry.read { db in try MetricBucket.fetch(v1Key, db) })
        #expect(v1.requests == 41)  // 40 invocations + 1 throttled
        #expect(v1.errors == 3)     // 2 errors + 1 throttled
        #expect(v1.latency.count == 40)
        #expect(v1.warmups == 2 && v1.warmupCostMicros == 7)
        // Without percentiles the histogram keeps CloudWatch's maximum and mean: here p99 (rank 40 of 40) is the maximum.
        #expect(abs((v1.latency.milliseconds(atPercentile: 99) ?? 0) - 100) <= 100 * LatencyHistogram.relativeAccuracy)
        let mean = v1.latency.meanMilliseconds ?? 0
        #expect(abs(mean - 40) <= 40 * LatencyHistogram.relativeAccuracy)
        // 40 requests × $0.20/M + 1,600 ms × 0.5 GB × $0.0000133334 (arm64) = 8 µ$ + 10.7 µ$.
        #expect(v1.costMicros == 19)

        let v2 = try #require(try registry.read { db in
            try MetricBucket.fetch(.init(endpoint: "sentiment", version: "sentiment@v2", start: minute, width: 60), db)
        })
        #expect(v2.requests == 5 && v2.errors == 0)
        #expect(abs((v2.latency.milliseconds(atPercentile: 99) ?? 0) - 250) <= 250 * LatencyHistogram.relativeAccuracy)
        #expect(abs((v2.latency.milliseconds(atPercentile: 50) ?? 0) - 50) <= 50 * LatencyHistogram.relativeAccuracy)
        let rows = try registry.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM metric_buckets WHERE endpoint = 'sentiment'") }
        #expect(rows == 2)
    }

    @Test func s3PackagesAndImagesReachLambdaAndAMemoryChangePublishesAgain() async throws {
        let (prefix, registry, client, driver) = try await onMoto()

        // The zip on S3 (moto's S3: Lambda reads the object when the function is created).
        let v1Zip = try #require(try version(registry, "sentiment@v1").artifact)
        let zip = try #require(FileManager.default.contents(atPath: v1Zip))
        let s3 = AWSService(signingName: "s3", endpointPrefix: "s3")
        do { _ = try await client.send(s3, operation: "CreateBucket", method: .PUT, path: "/\(Self.bucket)") } catch let error as AWSError where error.kind == .conflict || error.code?.hasPrefix("BucketAlready") == true {}
        _ = try await client.send(s3, operation: "PutObject", method: .PUT, path: "/\(Self.bucket)/sentiment/v5.zip", body: zip)
        try await driver.provision(try version(registry, "sentiment@v5"), on: try endpoint(registry))
        let zipped = try await lambda(client, "GetFunctionConfiguration", "/2015-03-31/functions/\(prefix)sentiment/configuration")
        #expect(zipped["PackageType"] as? String == "Zip")
        #expect(zipped["CodeSize"] as? Int == zip.count)

        // An image: PackageType Image, no runtime.
        let images = try endpoint(registry, "images")
        let v6 = try version(registry, "sentiment@v6")
        try await driver.provision(v6, on: images)
        let function = try await lambda(client, "GetFunction", "/2015-03-31/functions/\(prefix)images")
        #expect((function["Code"] as? [String: Any])?["ImageUri"] as? String == v6.image)
        #expect((function["Configuration"] as? [String: Any])?["PackageType"] as? String == "Image")
        #expect((function["Configuration"] as? [String: Any])?["MemorySize"] as? Int == 1024)

        // Lambda cannot turn an image function into a zip one: said before any change.
        let packageType = await #expect(throws: ModelDeckError.self) { try await driver.provision(try version(registry, "sentiment@v1"), on: images) }
        #expect(packageType?.message.contains("cannot change a function's package type") == true)

        // The endpoint now gets 2 GB: v6 is published again with it, and the alias follows the new number.
        try await setWeights(driver, ["sentiment@v6": 100], registry, "images")
        var bigger = images
        bigger.memoryMB = 2_048
        try await driver.provision(v6, on: bigger)
        let numbers = try await published(client, "\(prefix)images").filter { $0.value == LambdaDriver.description(of: v6) }.keys.sorted { Int($0)! < Int($1)! }
        #expect(numbers.count == 2)
        let newest = try #require(numbers.last)
        let republished = try await lambda(client, "GetFunctionConfiguration", "/2015-03-31/functions/\(prefix)images/configuration?Qualifier=\(newest)")
        #expect(republished["MemorySize"] as? Int == 2_048)
        try await setWeights(driver, ["sentiment@v6": 100], registry, "images")
        let alias = try await lambda(client, "GetAlias", "/2015-03-31/functions/\(prefix)images/aliases/live")
        #expect(alias["FunctionVersion"] as? String == newest)
        #expect(try await liveWeights(driver, registry, "images") == ["sentiment@v6": 100])
        try await driver.provision(v6, on: bigger)
        #expect(try await published(client, "\(prefix)images").count == 2)  // and again: nothing new
    }

    // MARK: Faults

    @Test func missingCredentialsSayWhatToSet() throws {
        let home = NSTemporaryDirectory() + "modeldeck-nohome-" + UUID().uuidString
        let error = #expect(throws: ModelDeckError.self) { try AWSConfiguration.resolve(environment: [:], home: home) }
        #expect(error?.message.contains("no AWS credentials: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set") == true)
    }

    @Test func liveWeightsOfAnEndpointNeverDeployedIsNotFoundWithTheFunctionNamed() async throws {
        let prefix = Self.prefix()
        let (registry, target) = try registry(prefix: prefix)
        let driver = driver(registry, target, client: AWSClient(configuration: try await Moto.shared.configuration()))
        let error = await #expect(throws: AWSError.self) { try await liveWeights(driver, registry, "sentiment") }
        #expect(error?.kind == .notFound)
        #expect(error?.description.contains("Lambda function '\(prefix)sentiment' does not exist: endpoint 'sentiment' was never deployed to target 'lambda' (aws-lambda)") == true)
        let unknown = await #expect(throws: ModelDeckError.self) { try await setWeights(driver, ["sentiment@v1": 100], registry, "sentiment") }
        #expect(unknown?.message.contains("does not exist") == true)
    }

    @Test func aVersionNeverProvisionedCannotTakeTraffic() async throws {
        let (prefix, registry, client, driver) = try await onMoto()
        try await driver.provision(try version(registry, "sentiment@v1"), on: try endpoint(registry))
        #expect(try await liveWeights(driver, registry, "sentiment") == [:])  // a function without its alias routes nothing yet
        let error = await #expect(throws: ModelDeckError.self) {
            try await setWeights(driver, ["sentiment@v1": 90, "sentiment@v3": 10], registry, "sentiment")
        }
        #expect(error?.message.contains("version 'sentiment@v3' was never provisioned on Lambda function '\(prefix)sentiment'") == true)
        let missing = await #expect(throws: AWSError.self) {
            try await lambda(client, "GetAlias", "/2015-03-31/functions/\(prefix)sentiment/aliases/live")
        }
        #expect(missing?.kind == .notFound)  // nothing half-done
    }

    @Test func whatLambdaCannotRunIsRefusedBeforeAnyCall() async throws {
        let server = FaultServer([.error(status: 500, type: nil, body: "{}")])
        defer { server.stop() }
        let configuration = AWSConfiguration(credentials: AWSCredentials(accessKeyID: "a", secretAccessKey: "b"), region: "us-east-1",
                                             endpointURL: try await server.start(), profile: "test")
        let client = AWSClient(configuration: configuration, retry: AWSRetryPolicy(maxAttempts: 1))
        let (registry, target) = try registry(prefix: "md-refused-")
        let endpoint = try endpoint(registry)

        let image = await #expect(throws: ModelDeckError.self) {
            try await driver(registry, target, client: client).provision(try version(registry, "sentiment@v4"), on: endpoint)
        }
        #expect(image?.message.contains("image is 11") == true)

        let three = await #expect(throws: ModelDeckError.self) {
            try await setWeights(driver(registry, target, client: client), ["sentiment@v1": 80, "sentiment@v2": 10, "sentiment@v3": 10], registry)
        }
        #expect(three?.message.contains("a Lambda alias routes to at most two versions") == true)

        let (noRole, noRoleTarget) = try self.registry(prefix: "md-refused-", role: false)
        let role = await #expect(throws: ModelDeckError.self) {
            try await driver(noRole, noRoleTarget, client: client).provision(try version(noRole, "sentiment@v1"), on: try self.endpoint(noRole))
        }
        #expect(role?.message.contains("has no role_arn") == true)
        #expect(server.requests.isEmpty)
    }

    // MARK: What moto cannot answer (a log tail, percentiles, paged lists): AWS's answer shapes from a fault server

    private func faultClient(_ server: FaultServer) async throws -> AWSClient {
        AWSClient(configuration: AWSConfiguration(credentials: AWSCredentials(accessKeyID: "a", secretAccessKey: "b"), region: "us-east-1",
                                                  endpointURL: try await server.start(), profile: "test"),
                  retry: AWSRetryPolicy(maxAttempts: 1))
    }

    private static func versionsJSON(_ versions: [(number: String, description: String)], next: String?) -> String {
        let items = versions.map { #"{"FunctionName": "f", "Version": "\#($0.number)", "Description": "\#($0.description)", "MemorySize": 512, "Timeout": 30}"# }
        return #"{"Versions": [\#(items.joined(separator: ", "))]\#(next.map { #", "NextMarker": "\#($0)""# } ?? "")}"#
    }

    @Test func pingsReadColdStartsAndFunctionErrorsFromTheLogTail() async throws {
        let (registry, target) = try registry(prefix: "md-fault-")
        let v1 = try version(registry, "sentiment@v1")
        let cold = "START RequestId: a1 Version: 3\nEND RequestId: a1\nREPORT RequestId: a1\tDuration: 12.34 ms\tBilled Duration: 1200 ms\tMemory Size: 512 MB\tMax Memory Used: 40 MB\tInit Duration: 1187.20 ms\t\n"
        let warm = "REPORT RequestId: b2\tDuration: 2.10 ms\tBilled Duration: 3 ms\tMemory Size: 512 MB\tMax Memory Used: 41 MB\t\n"
        let server = FaultServer { index, head, _ in
            if head.method == .get { return .ok(Self.versionsJSON([("$LATEST", ""), ("3", LambdaDriver.description(of: v1))], next: nil)) }
            return index == 1
                ? .answer(status: 200, headers: ["X-Amz-Log-Result": Data(cold.utf8).base64EncodedString(), "X-Amz-Executed-Version": "3"], body: "{}")
                : .answer(status: 200, headers: ["X-Amz-Log-Result": Data(warm.utf8).base64EncodedString(), "X-Amz-Function-Error": "Unhandled"],
                          body: #"{"errorMessage": "model failed to load"}"#)
        }
        defer { server.stop() }
        let driver = driver(registry, target, client: try await faultClient(server))

        let pings = try await driver.ping(v1, of: try endpoint(registry), count: 2)
        #expect(pings.filter(\.coldStart).map(\.status) == [200])
        #expect(pings.compactMap(\.billedMilliseconds).sorted() == [3, 1_200] && pings.allSatisfy { $0.memoryMB == 512 })
        // The daemon records what the driver returned, as warmups.
        let recorder = InvocationRecorder()
        let rates = try TargetPricing.rates(for: driver.target, table: .standard)
        for ping in pings { recorder.record(ping.invocation(endpoint: try endpoint(registry), version: v1.id, at: Date(), concurrent: 2, rates: rates)) }
        try recorder.flush(to: registry, instances: [], endpoints: [])
        #expect(pings.filter { !$0.coldStart }.map(\.status) == [500])
        let invokes = server.requests.filter { $0.method == .post }
        #expect(invokes.count == 2)
        #expect(invokes.allSatisfy { $0.path == "/2015-03-31/functions/md-fault-sentiment/invocations?Qualifier=3" && $0.headerFields[HTTPField.Name("X-Amz-Log-Type")!] == "Tail" })
        #expect(server.bodies.filter { !$0.isEmpty }.allSatisfy { $0 == Data(LambdaDriver.warmupPayload.utf8) })

        let counted = try registry.read { db in
            try Row.fetchOne(db, sql: """
                SELECT SUM(warmups) AS warmups, SUM(warmup_cold_starts) AS cold, SUM(mb_ms) AS mbMs, SUM(warmup_cost_micros) AS cost,
                       SUM(requests) AS requests, SUM(errors) AS errors
                FROM metric_buckets WHERE endpoint = 'sentiment'
                """)
        }
        #expect(counted?["warmups"] as Int64? == 2)
        #expect(counted?["cold"] as Int64? == 1)
        #expect(counted?["mbMs"] as Int64? == Int64(512 * 1_203))  // billed durations, as Lambda reported them
        // 2 × $0.20/M + 1,203 ms × 0.5 GB × $0.0000133334 (arm64) = 0.4 µ$ + 8.02 µ$, stored in whole micro-dollars.
        #expect(counted?["cost"] as Int64? == 8)
        #expect(counted?["requests"] as Int64? == 0 && counted?["errors"] as Int64? == 0)  // pings are never traffic
    }

    @Test func provisionWaitsWhileLambdaUpdatesAndStopsAtAFailedUpdate() async throws {
        let (registry, target) = try registry(prefix: "md-fault-")
        let v1 = try version(registry, "sentiment@v1")
        let configurationReads = Mutex(0)
        let reason = "Lambda was unable to configure your environment variables because the environment variables you have provided exceeded the 4KB limit."
        let server = FaultServer { _, head, _ in
            let path = head.path ?? ""
            if head.method == .get && path.contains("/versions") {
                return .ok(Self.versionsJSON([("$LATEST", ""), ("1", LambdaDriver.description(of: v1))], next: nil))
            }
            if head.method == .get {
                // Before the code update: a failed update of someone else's (no reason to stop); then two polls
                // in progress, then done; after the configuration update: failed.
                let read = configurationReads.withLock { $0 += 1; return $0 }
                let status = [1: "Failed", 2: "InProgress", 3: "InProgress", 4: "Successful"][read] ?? "Failed"
                return .ok(#"{"FunctionName": "f", "Version": "$LATEST", "PackageType": "Zip", "State": "Active", "MemorySize": 512, "Timeout": 30, "LastUpdateStatus": "\#(status)", "LastUpdateStatusReason": "\#(reason)"}"#)
            }
            return .ok("{}")
        }
        defer { server.stop() }
        let driver = driver(registry, target, client: try await faultClient(server))
        let error = await #expect(throws: ModelDeckError.self) {
            try await driver.provision(try version(registry, "sentiment@v2"), on: try endpoint(registry))
        }
        #expect(error?.message == "Lambda could not update function 'md-fault-sentiment': \(reason)")
        #expect(configurationReads.withLock { $0 } == 5)
        #expect(server.requests.filter { $0.method == .put }.map(\.path) == [
            "/2015-03-31/functions/md-fault-sentiment/code", "/2015-03-31/functions/md-fault-sentiment/configuration"])
        #expect(!server.requests.contains { $0.method == .post })  // nothing published
    }

    @Test func percentilesAndPagedListsFromAWSBecomeBuckets() async throws {
        let (registry, target) = try registry(prefix: "md-fault-")
        let v1 = try version(registry, "sentiment@v1"), v2 = try version(registry, "sentiment@v2")
        @Sendable func series(_ id: String, _ value: Double) -> String {
            "<member><Timestamps><member>2026-11-23T09:06:00Z</member></Timestamps><Values><member>\(value)</member></Values><Id>\(id)</Id><StatusCode>Complete</StatusCode></member>"
        }
        @Sendable func page(_ members: [String], next: String?) -> String {
            """
            <GetMetricDataResponse xmlns="http://monitoring.amazonaws.com/doc/2010-08-01/"><GetMetricDataResult><MetricDataResults>\(members.joined())</MetricDataResults>\(next.map { "<NextToken>\($0)</NextToken>" } ?? "")<Messages/></GetMetricDataResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></GetMetricDataResponse>
            """
        }
        let server = FaultServer { _, head, body in
            let path = head.path ?? ""
            if head.method == .get {
                return path.contains("Marker=m2")
                    ? .ok(Self.versionsJSON([("2", LambdaDriver.description(of: v2))], next: nil))
                    : .ok(Self.versionsJSON([("$LATEST", ""), ("1", LambdaDriver.description(of: v1))], next: "m2"))
            }
            return String(decoding: body, as: UTF8.self).contains("NextToken=t2")
                ? .ok(page([series("v2_invocations", 10), series("v2_p99", 900), series("v2_maximum", 950)], next: nil))
                : .ok(page([series("v1_invocations", 1_000), series("v1_errors", 4), series("v1_throttles", 6), series("v1_p50", 20),
                            series("v1_p90", 80), series("v1_p99", 400), series("v1_maximum", 1_500), series("v1_sum", 40_000),
                            series("v1_concurrency", 7)], next: "t2"))
        }
        defer { server.stop() }
        try registry.write { db in try TrafficSplit(["sentiment@v1": 90, "sentiment@v2": 10], endpoint: "sentiment").save(db, endpoint: "sentiment") }
        let driver = LambdaDriver(target: target, client: try await faultClient(server))  // percentiles on
        let start = Date(timeIntervalSince1970: 1_795_424_760)
        try await collect(driver, registry, from: start, to: start.addingTimeInterval(60))

        let form = String(decoding: try #require(server.bodies.first { !$0.isEmpty }), as: UTF8.self)
        #expect(form.contains("Action=GetMetricData") && form.contains("MetricStat.Stat=p99") && form.contains("Value=md-fault-sentiment%3Alive"))
        #expect(server.requests.filter { $0.method == .get }.count == 2)  // both pages of ListVersionsByFunction
        #expect(server.requests.filter { $0.method == .post }.count == 2)  // both pages of GetMetricData

        let one = try #require(try registry.read { db in
            try MetricBucket.fetch(.init(endpoint: "sentiment", version: "sentiment@v1", start: 1_795_424_760, width: 60), db)
        })
        #expect(one.requests == 1_006 && one.errors == 10 && one.maxInFlight == 7)
        for (percentile, value) in [(50.0, 20.0), (90, 80), (99, 400), (100, 1_500)] {
            #expect(abs((one.latency.milliseconds(atPercentile: percentile) ?? 0) - value) <= value * LatencyHistogram.relativeAccuracy)
        }
        let two = try #require(try registry.read { db in
            try MetricBucket.fetch(.init(endpoint: "sentiment", version: "sentiment@v2", start: 1_795_424_760, width: 60), db)
        })
        // Of 10 requests the 10th is both the p99 and the maximum (HdrHistogram's ranking): it shows the maximum,
        // the nine below the p99.
        #expect(two.requests == 10 && two.latency.count == 10)
        #expect(abs((two.latency.milliseconds(atPercentile: 99) ?? 0) - 950) <= 950 * LatencyHistogram.relativeAccuracy)
        #expect(abs((two.latency.milliseconds(atPercentile: 90) ?? 0) - 900) <= 900 * LatencyHistogram.relativeAccuracy)
    }

    // MARK: Pure parts

    @Test func reportLineGivesBilledDurationAndColdStart() throws {
        let cold = """
        START RequestId: 6d1f3a0e-2b8c-4a57-9a53-0b1f0e7b2c11 Version: 3
        END RequestId: 6d1f3a0e-2b8c-4a57-9a53-0b1f0e7b2c11
        REPORT RequestId: 6d1f3a0e-2b8c-4a57-9a53-0b1f0e7b2c11\tDuration: 12.34 ms\tBilled Duration: 13 ms\tMemory Size: 128 MB\tMax Memory Used: 40 MB\tInit Duration: 180.55 ms\t

        """
        #expect(LambdaReport.parse(log: cold) == LambdaReport(durationMilliseconds: 12.34, billedMilliseconds: 13, memoryMB: 128,
                                                              maxMemoryUsedMB: 40, initMilliseconds: 180.55))
        let warm = "REPORT RequestId: 0b1f\tDuration: 1.71 ms\tBilled Duration: 2 ms\tMemory Size: 512 MB\tMax Memory Used: 71 MB\t\nXRAY TraceId: 1-5e8f-abc\tSegmentId: 6d7e\tSampled: true\n"
        #expect(LambdaReport.parse(log: warm)?.coldStart == false)
        #expect(LambdaReport.parse(log: warm)?.billedMilliseconds == 2)
        // Spaces instead of tabs (a copy from a console) read the same.
        let spaced = "REPORT RequestId: 9a1c Duration: 1002.10 ms Billed Duration: 1003 ms Memory Size: 3008 MB Max Memory Used: 2210 MB Init Duration: 4021.77 ms"
        #expect(LambdaReport.parse(log: spaced) == LambdaReport(durationMilliseconds: 1002.10, billedMilliseconds: 1003, memoryMB: 3008,
                                                                maxMemoryUsedMB: 2210, initMilliseconds: 4021.77))
        #expect(LambdaReport.parse(logResult: Data(cold.utf8).base64EncodedString())?.initMilliseconds == 180.55)
        #expect(LambdaReport.parse(log: "START RequestId: 1 Version: $LATEST\n") == nil)
        #expect(LambdaReport.parse(logResult: "not base64!") == nil)
    }

    @Test func aliasWeightsRoundToWholePercents() {
        func alias(_ version: String, _ additional: [String: Double]?) -> LambdaAPI.Alias {
            LambdaAPI.Alias(Name: "live", FunctionVersion: version, RoutingConfig: additional.map { .init(AdditionalVersionWeights: $0) })
        }
        let ids = ["1": "m@v1", "2": "m@v2"]
        #expect(LambdaDriver.weights(alias("1", ["2": 0.1]), ids: ids, function: "f") == ["m@v1": 90, "m@v2": 10])
        #expect(LambdaDriver.weights(alias("1", ["2": 0.07]), ids: ids, function: "f") == ["m@v1": 93, "m@v2": 7])
        #expect(LambdaDriver.weights(alias("2", nil), ids: ids, function: "f") == ["m@v2": 100])
        #expect(LambdaDriver.weights(alias("2", [:]), ids: ids, function: "f") == ["m@v2": 100])
        #expect(LambdaDriver.weights(alias("7", ["1": 0.5]), ids: ids, function: "f") == ["lambda:f:7": 50, "m@v1": 50])
    }

    @Test func percentilesBecomeAHistogramWithTheSamePercentiles() {
        var figures = PeriodFigures()
        figures.invocations = 1_000
        (figures.p50, figures.p90, figures.p99, figures.maximum) = (20, 80, 400, 1_500)
        let histogram = figures.latency(count: 1_000)
        #expect(histogram.count == 1_000)
        #expect(abs((histogram.milliseconds(atPercentile: 50) ?? 0) - 20) <= 20 * LatencyHistogram.relativeAccuracy)
        #expect(abs((histogram.milliseconds(atPercentile: 90) ?? 0) - 80) <= 80 * LatencyHistogram.relativeAccuracy)
        #expect(abs((histogram.milliseconds(atPercentile: 99) ?? 0) - 400) <= 400 * LatencyHistogram.relativeAccuracy)
        #expect(abs((histogram.milliseconds(atPercentile: 100) ?? 0) - 1_500) <= 1_500 * LatencyHistogram.relativeAccuracy)
        // Few requests: still exactly `count`, percentiles never below CloudWatch's.
        let small = figures.latency(count: 3)
        #expect(small.count == 3)
        #expect(abs((small.milliseconds(atPercentile: 50) ?? 0) - 20) <= 20 * LatencyHistogram.relativeAccuracy)
        #expect(abs((small.milliseconds(atPercentile: 99) ?? 0) - 1_500) <= 1_500 * LatencyHistogram.relativeAccuracy)
        #expect(PeriodFigures().latency(count: 0).count == 0)
    }

    @Test func getMetricDataAnswerIsReadInAWSsShape() throws {
        let xml = """
        <GetMetricDataResponse xmlns="http://monitoring.amazonaws.com/doc/2010-08-01/">
          <GetMetricDataResult>
            <MetricDataResults>
              <member>
                <Timestamps><member>2026-11-23T09:06:00Z</member><member>2026-11-23T09:07:00Z</member></Timestamps>
                <Label>Invocations</Label>
                <Values><member>40.0</member><member>3.0</member></Values>
                <Id>v1_invocations</Id>
                <StatusCode>Complete</StatusCode>
              </member>
              <member><Timestamps/><Label>Errors</Label><Values/><Id>v1_errors</Id><StatusCode>Complete</StatusCode></member>
            </MetricDataResults>
            <NextToken>page-2</NextToken>
            <Messages/>
          </GetMetricDataResult>
          <ResponseMetadata><RequestId>0f1e</RequestId></ResponseMetadata>
        </GetMetricDataResponse>
        """
        let page = try CloudWatch.parsePage(Data(xml.utf8))
        #expect(page.nextToken == "page-2")
        #expect(page.points["v1_invocations"]?.map(\.value) == [40, 3])
        #expect(page.points["v1_invocations"]?.first?.start == Date(timeIntervalSince1970: 1_795_424_760))
        #expect(page.points["v1_errors"]?.isEmpty == true)
        #expect(throws: (any Error).self) { try CloudWatch.parsePage(Data("<html>oops</html>".utf8)) }

        let form = CloudWatch.parameters([CloudWatch.Query(id: "v3_p99", namespace: "AWS/Lambda", metric: "Duration",
                                                           dimensions: [(name: "FunctionName", value: "f")], periodSeconds: 60, stat: "p99")],
                                         from: Date(timeIntervalSince1970: 0), to: Date(timeIntervalSince1970: 60), nextToken: "t")
        let byName = Dictionary(form.map { ($0.name, $0.value) }, uniquingKeysWith: { a, _ in a })
        #expect(byName["MetricDataQueries.member.1.MetricStat.Stat"] == "p99")
        #expect(byName["MetricDataQueries.member.1.MetricStat.Metric.Dimensions.member.1.Value"] == "f")
        #expect(byName["StartTime"] == "1970-01-01T00:00:00Z")
        #expect(byName["NextToken"] == "t")
    }
}
