import Foundation
import GRDB
import HTTPTypes
@testable import ModelDeckTargets
import ModelDeckTestSupport
import Synchronization
import Testing

/// The real daemon driving an AWS target (moto's server on loopback) through the same intents and the same
/// target protocol as the local target: no driver-specific code in the daemon or the CLI.
@Suite(.serialized) struct AWSDaemonTests {
    static let role = "arn:aws:iam::123456789012:role/modeldeck-sagemaker"

    /// A local target (the daemon always runs one gateway) and a SageMaker serverless endpoint `name`.
    private func setUp(_ scratch: Scratch, endpoint name: String) throws {
        try applyDeck(scratch, target: "{name: sm, kind: sagemaker-serverless, region: us-east-1, execution_role_arn: '\(Self.role)', endpoint_prefix: \(name)}",
                      versionMemory: "1GB", endpoint: "{name: scoring, model: scorer, target: sm, memory: 2GB, max_instances: 4}")
    }

    /// A local target, `target`, the model `scorer` in v1 and v2 as images, and the endpoint `scoring`.
    func applyDeck(_ scratch: Scratch, target: String, versionMemory: String, endpoint: String) throws {
        let deck = scratch.file("deck.yaml", """
        targets:
          - {name: local, kind: local}
          - \(target)
        models:
          - name: scorer
            versions:
              - {version: v1, image: 123456789012.dkr.ecr.us-east-1.amazonaws.com/scorer:v1, digest: 'sha256:\(String(repeating: "1", count: 64))', size: 300MB, memory: \(versionMemory)}
              - {version: v2, image: 123456789012.dkr.ecr.us-east-1.amazonaws.com/scorer:v2, digest: 'sha256:\(String(repeating: "2", count: 64))', size: 300MB, memory: \(versionMemory)}
        endpoints:
          - \(endpoint)
        """)
        let apply = try CLI.run(["apply", "-f", deck, "--registry", scratch.registry])
        #expect(apply.status == 0, "\(apply.stderr)")
    }

    func awsEnvironment(_ scratch: Scratch) async throws -> [String: String] {
        [
            "AWS_ENDPOINT_URL": try await Moto.shared.baseURL(), "AWS_ACCESS_KEY_ID": "AKIDMODELDECKTEST",
            "AWS_SECRET_ACCESS_KEY": "modeldeck-test-secret", "AWS_REGION": "us-east-1", "HOME": scratch.path,
        ]
    }

    @Test func aDeployThroughTheCLIBecomesAServerlessEndpointOnSageMaker() async throws {
        let scratch = Scratch()
        defer { scratch.cleanUp() }
        let prefix = "md\(UUID().uuidString.prefix(6).lowercased())"
        try setUp(scratch, endpoint: prefix)
        let daemon = try BackgroundCommand("daemon", registry: scratch.registry, environment: try await awsEnvironment(scratch))
        defer { daemon.stop() }

        let deploy = try CLI.run(["deploy", "scoring", "v1", "--bake", "0s", "--reason", "first", "--registry", scratch.registry])
        #expect(deploy.status == 0, "\(deploy.stderr)")
        let settled = try await waitUntil(60) { try deploymentState(scratch.registry, id: 1)?.state == "succeeded" }
        #expect(settled, "\(String(describing: try? deploymentState(scratch.registry, id: 1)))")

        // Asked of SageMaker itself: the endpoint serves v1's model on the endpoint's memory and concurrency.
        let client = AWSClient(configuration: try await Moto.shared.configuration())
        func describe(_ operation: String, _ body: [String: String]) async throws -> [String: Any] {
            let answer = try await client.json(.sagemaker, targetPrefix: "SageMaker", operation: operation, body)
            return try JSONSerialization.jsonObject(with: answer.body) as? [String: Any] ?? [:]
        }
        let endpoint = try await describe("DescribeEndpoint", ["EndpointName": "\(prefix)-scoring"])
        #expect(endpoint["EndpointStatus"] as? String == "InService")
        let config = try await describe("DescribeEndpointConfig", ["EndpointConfigName": endpoint["EndpointConfigName"] as? String ?? ""])
        let variant = (config["ProductionVariants"] as? [[String: Any]])?.first
        #expect(variant?["VariantName"] as? String == "v1")
        #expect((variant?["ServerlessConfig"] as? [String: Any])?["MemorySizeInMB"] as? Int == 2048)
        let model = try await describe("DescribeModel", ["ModelName": variant?["ModelName"] as? String ?? ""])
        #expect((model["PrimaryContainer"] as? [String: Any])?["Image"] as? String == "123456789012.dkr.ecr.us-east-1.amazonaws.com/scorer:v1")

        // A canary cannot split a serverless endpoint's traffic: refused before anything is written. (The daemon
        // keeps writing its own rows meanwhile — heartbeat, keep-warm state — so the intents are compared.)
        let intents = { try dump(registryAt: scratch.registry)?.filter { line in
            ["deployments:", "traffic:", "events:", "endpoints:", "model_versions:", "targets:"].contains { line.hasPrefix($0) }
        } }
        let before = try intents()
        let canary = try CLI.run(["deploy", "scoring", "v2", "--strategy", "canary:10%:1m", "--registry", scratch.registry])
        #expect(canary.status != 0)
        #expect(canary.stderr.contains("serves one version of an endpoint at a time"))
        let after = try intents()
        #expect(after == before, "changed: \(Set(after ?? []).symmetricDifference(before ?? []))")

        // Ping now: InvokeEndpoint through the daemon's keep-warm loop, counted as a warmup, not as traffic.
        let ping = try CLI.run(["ping", "scoring", "--registry", scratch.registry])
        #expect(ping.status == 0, "\(ping.stderr)\(ping.stdout)")
        #expect(try await waitUntil(30) { try !events(scratch.registry, kinds: "ping.sent").isEmpty })
        let counts = try registryQueue(scratch.registry).read { db in
            try Row.fetchOne(db, sql: "SELECT SUM(warmups) AS warmups, SUM(requests) AS requests FROM metric_buckets WHERE endpoint = 'scoring'")
        }
        #expect(counts?["warmups"] as Int64? == 1)
        #expect(counts?["requests"] as Int64? == 0)
    }

    @Test func aTargetAppliedWhileTheDaemonRunsIsDrivenWithoutARestart() async throws {
        let scratch = Scratch()
        defer { scratch.cleanUp() }
        let local = try CLI.run(["apply", "-f", scratch.file("local.yaml", "targets:\n  - {name: local, kind: local}\n"),
                                 "--registry", scratch.registry])
        #expect(local.status == 0, "\(local.stderr)")
        let daemon = try BackgroundCommand("daemon", registry: scratch.registry, environment: try await awsEnvironment(scratch))
        defer { daemon.stop() }

        // Now the SageMaker target, its model and endpoint arrive, and a deploy right after.
        let prefix = "md\(UUID().uuidString.prefix(6).lowercased())"
        try setUp(scratch, endpoint: prefix)
        let deploy = try CLI.run(["deploy", "scoring", "v1", "--bake", "0s", "--registry", scratch.registry])
        #expect(deploy.status == 0, "\(deploy.stderr)")
        let settled = try await waitUntil(60) { try deploymentState(scratch.registry, id: 1)?.state == "succeeded" }
        #expect(settled, "\(String(describing: try? deploymentState(scratch.registry, id: 1)))")
        let client = AWSClient(configuration: try await Moto.shared.configuration())
        let answer = try await client.json(.sagemaker, targetPrefix: "SageMaker", operation: "DescribeEndpoint",
                                           ["EndpointName": "\(prefix)-scoring"])
        #expect(String(decoding: answer.body, as: UTF8.self).contains("InService"))
    }

    @Test func withoutCredentialsADeployFailsAndSaysWhyWhileTheLocalTargetRuns() async throws {
        let scratch = Scratch()
        defer { scratch.cleanUp() }
        try setUp(scratch, endpoint: "nocreds")
        // An empty home, and a secret without its key id: the credentials chain finds nothing usable.
        var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("AWS_") }
        environment["HOME"] = scratch.path
        environment["AWS_SECRET_ACCESS_KEY"] = "modeldeck-test-secret"
        let daemon = try BackgroundCommand("daemon", registry: scratch.registry, environment: environment, replacing: true)
        defer { daemon.stop() }
        #expect(daemon.port > 0) // the local gateway listens regardless

        let deploy = try CLI.run(["deploy", "scoring", "v1", "--bake", "0s", "--registry", scratch.registry])
        #expect(deploy.status == 0, "\(deploy.stderr)")
        #expect(try await waitUntil(30) { try deploymentState(scratch.registry, id: 1)?.state == "failed" })
        let alarm = try deploymentState(scratch.registry, id: 1)?.alarm ?? ""
        #expect(alarm.contains("target 'sm' (sagemaker-serverless): AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID is not"), "\(alarm)")
        // Said once when the daemon started, where the dashboard's :events shows it.
        let said = try events(scratch.registry, kinds: "target.unavailable").map(\.message)
        #expect(said.count == 1 && said.first?.hasPrefix("target 'sm' (sagemaker-serverless) cannot be driven: AWS_SECRET_ACCESS_KEY is set") == true, "\(said)")
        // The secret itself is nowhere: not in the deployment, not in any event.
        #expect(!alarm.contains("modeldeck-test-secret"))
        #expect(try !events(scratch.registry).contains { $0.message.contains("modeldeck-test-secret") })
    }

    /// SageMaker as a stand-in at the HTTP boundary (moto has no `UpdateEndpoint` and never fails an
    /// endpoint): once created, the endpoint stays in `status`, with `reason`.
    static func sageMakerStandIn(status: String, reason: String? = nil) -> (FaultServer, Flag) {
        let created = Flag()
        let server = FaultServer { _, head, _ in
            switch head.headerFields[HTTPField.Name("X-Amz-Target")!] ?? "" {
            case "SageMaker.DescribeModel": return .ok("{}")
            case "SageMaker.DescribeEndpointConfig":
                return .error(status: 400, type: nil, body: #"{"__type": "ValidationException", "message": "Could not find it"}"#)
            case "SageMaker.DescribeEndpoint":
                guard created.isSet else {
                    return .error(status: 400, type: nil, body: #"{"__type": "ValidationException", "message": "Could not find it"}"#)
                }
                let failure = reason.map { #", "FailureReason": "\#($0)""# } ?? ""
                return .ok(#"{"EndpointName": "x", "EndpointConfigName": "x", "EndpointStatus": "\#(status)"\#(failure)}"#)
            case "SageMaker.CreateEndpoint":
                created.set()
                return .ok("{}")
            default: return .ok("{}")
            }
        }
        return (server, created)
    }

    final class Flag: Sendable {
        private let value = Mutex(false)
        var isSet: Bool { value.withLock { $0 } }
        func set() { value.withLock { $0 = true } }
    }

    /// A registry with the local endpoint `sentiment` and a SageMaker endpoint `slow` on `images@v1`.
    private func standInDeck(_ scratch: Scratch) throws {
        let images = scratch.file("images.yaml", """
        models:
          - name: images
            versions:
              - {version: v1, image: 1.dkr.ecr.us-east-1.amazonaws.com/images:v1, digest: 'sha256:\(String(repeating: "9", count: 64))', size: 100MB, memory: 1GB}
        """)
        #expect(try CLI.run(["apply", "-f", images, "--registry", scratch.registry]).status == 0)
        let deck = scratch.file("deck.yaml", remoteDeck(replacements: [
            ("  - name: lambda-eu\n    kind: aws-lambda\n    region: eu-central-1\n    role_arn: arn:aws:iam::123456789012:role/modeldeck-lambda",
             "  - {name: sm, kind: sagemaker-serverless, region: us-east-1, execution_role_arn: 'arn:aws:iam::123456789012:role/r'}"),
        ]) + "  - {name: slow, model: images, target: sm, memory: 1GB}\n")
        let apply = try CLI.run(["apply", "-f", deck, "--registry", scratch.registry])
        #expect(apply.status == 0, "\(apply.stderr)")
    }

    @Test func aDeployWhoseTrafficCannotMoveDoesNotSucceedAndSaysWhy() async throws {
        let scratch = Scratch()
        defer { scratch.cleanUp() }
        let (sagemaker, _) = Self.sageMakerStandIn(status: "Failed", reason: "Image pull failed: images:v1 not found")
        defer { sagemaker.stop() }
        try standInDeck(scratch)
        let daemon = try BackgroundCommand("daemon", registry: scratch.registry, environment: [
            "AWS_ENDPOINT_URL": try await sagemaker.start(), "AWS_ACCESS_KEY_ID": "a", "AWS_SECRET_ACCESS_KEY": "b",
            "AWS_REGION": "us-east-1", "HOME": scratch.path,
        ])
        defer { daemon.stop() }
        #expect(try CLI.run(["deploy", "slow", "v1", "--bake", "0s", "--registry", scratch.registry]).status == 0)
        // A zero bake would end at the next tick; with the traffic never moved it must not.
        let noted = try await waitUntil(20) { try deploymentState(scratch.registry, id: 1)?.alarm?.contains("cannot route") == true }
        let state = try deploymentState(scratch.registry, id: 1)
        #expect(noted, "\(String(describing: state))")
        try await Task.sleep(for: .seconds(2))
        let later = try deploymentState(scratch.registry, id: 1)
        #expect(later?.state == "baking", "\(String(describing: later))")
        #expect(later?.alarm?.contains("Image pull failed: images:v1 not found") == true, "\(String(describing: later))")
    }

    @Test func aSlowCloudUpdateDoesNotHoldUpAnotherEndpointsDeploy() async throws {
        let scratch = Scratch()
        defer { scratch.cleanUp() }
        // SageMaker as a stand-in whose endpoint never leaves Creating (real ones take minutes).
        let (sagemaker, created) = Self.sageMakerStandIn(status: "Creating")
        defer { sagemaker.stop() }
        try standInDeck(scratch)
        let daemon = try BackgroundCommand("daemon", registry: scratch.registry, environment: [
            "AWS_ENDPOINT_URL": try await sagemaker.start(), "AWS_ACCESS_KEY_ID": "a", "AWS_SECRET_ACCESS_KEY": "b",
            "AWS_REGION": "us-east-1", "HOME": scratch.path,
        ])
        defer { daemon.stop() }
        #expect(try CLI.run(["deploy", "slow", "v1", "--bake", "0s", "--registry", scratch.registry]).status == 0)
        #expect(await waitUntil(20) { created.isSet }) // the slow update is under way
        #expect(try CLI.run(["deploy", "sentiment", "v2", "--bake", "0s", "--registry", scratch.registry]).status == 0)
        #expect(try await waitUntil(30) { try deploymentState(scratch.registry, id: 2)?.state == "succeeded" })
        let slow = try deploymentState(scratch.registry, id: 1)
        // Still waiting for InService: a zero bake does not end before the traffic has moved.
        #expect(slow?.state == "baking", "\(String(describing: slow))")
    }

    /// The same daemon and CLI on an aws-lambda target: a deploy publishes a version behind the alias `live`,
    /// a canary routes its share through the alias, and a rollback flips the alias back — asked of Lambda itself.
    @Test func aCanaryAndARollbackThroughTheCLIMoveTheLambdaAlias() async throws {
        let scratch = Scratch()
        defer { scratch.cleanUp() }
        let role = try await Moto.shared.lambdaRole()
        let prefix = "md\(UUID().uuidString.prefix(6).lowercased())-"
        try applyDeck(scratch, target: "{name: aws, kind: aws-lambda, region: us-east-1, role_arn: '\(role)', function_prefix: \(prefix)}",
                      versionMemory: "512MB", endpoint: "{name: scoring, model: scorer, target: aws, memory: 1GB}")
        let daemon = try BackgroundCommand("daemon", registry: scratch.registry, environment: try await awsEnvironment(scratch))
        defer { daemon.stop() }

        let client = AWSClient(configuration: try await Moto.shared.configuration())
        func lambda(_ path: String) async throws -> [String: Any] {
            let answer = try await client.send(.lambda, operation: "Get", method: .GET, path: "/2015-03-31/functions/\(prefix)scoring\(path)")
            return try JSONSerialization.jsonObject(with: answer.body) as? [String: Any] ?? [:]
        }
        func numbers() async throws -> [String: String] {
            (try await lambda("/versions")["Versions"] as? [[String: Any]] ?? []).reduce(into: [:]) { result, version in
                if let description = version["Description"] as? String, description.hasPrefix("modeldeck ") {
                    result[String(description.split(separator: " ")[1])] = version["Version"] as? String
                }
            }
        }
        func routed() async throws -> (version: String?, additional: [String: Double]) {
            let alias = try await lambda("/aliases/live")
            return (alias["FunctionVersion"] as? String,
                    (alias["RoutingConfig"] as? [String: Any])?["AdditionalVersionWeights"] as? [String: Double] ?? [:])
        }

        #expect(try CLI.run(["deploy", "scoring", "v1", "--bake", "0s", "--registry", scratch.registry]).status == 0)
        #expect(try await waitUntil(60) { try deploymentState(scratch.registry, id: 1)?.state == "succeeded" })
        let v1 = try #require(try await numbers()["scorer@v1"])
        #expect(try await routed().version == v1)

        #expect(try CLI.run(["deploy", "scoring", "v2", "--strategy", "canary:10%:5m", "--registry", scratch.registry]).status == 0)
        #expect(try await waitUntil(60) { try deploymentState(scratch.registry, id: 2)?.weight == 10 })
        var alias = (version: String?.none, additional: [String: Double]())
        for _ in 0..<100 where alias.additional.isEmpty {  // the registry's weight comes first, then the driver's call
            alias = try await routed()
            try await Task.sleep(for: .milliseconds(100))
        }
        let v2 = try #require(try await numbers()["scorer@v2"])
        #expect(alias.version == v1 && alias.additional == [v2: 0.1])

        #expect(try CLI.run(["rollback", "scoring", "--reason", "canary looks wrong", "--registry", scratch.registry]).status == 0)
        for _ in 0..<100 where !alias.additional.isEmpty {
            alias = try await routed()
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(alias.version == v1 && alias.additional.isEmpty)
        // The registry records the routing once the platform has taken it, so it may follow a moment later.
        #expect(try await waitUntil(30) { try desiredWeights(scratch.registry, endpoint: "scoring") == ["scorer@v1": 100] })
    }

    /// The same daemon and CLI on an ecs-fargate target: a deploy makes v1 a task definition and a service behind
    /// the endpoint's listener rule, a canary starts v2's service and gives its target group 10% of the rule, and a
    /// rollback puts the rule back on v1 and scales v2 to zero — asked of ECS and ELBv2 themselves.
    @Test func aCanaryAndARollbackThroughTheCLIMoveTheLoadBalancerWeights() async throws {
        let scratch = Scratch()
        defer { scratch.cleanUp() }
        let name = "md\(UUID().uuidString.prefix(6).lowercased())"
        let network = try await MotoLoadBalancer.make(name: name)
        try applyDeck(scratch, target: "{name: fg, kind: ecs-fargate, region: us-east-1, cluster: \(name), \(network.deckSettings)}",
                      versionMemory: "1GB", endpoint: "{name: scoring, model: scorer, target: fg, memory: 2GB, min_instances: 1, max_instances: 3}")
        let daemon = try BackgroundCommand("daemon", registry: scratch.registry, environment: try await awsEnvironment(scratch))
        defer { daemon.stop() }

        let client = AWSClient(configuration: try await Moto.shared.configuration())
        let rules = LoadBalancerRules(client: client, listener: network.listenerARN)
        /// The endpoint rule's weights by target group name, from DescribeRules.
        func weights() async throws -> [String: Int] {
            let rule = try await rules.rules().first { $0.header == nil && $0.pathPatterns == ["/endpoints/scoring/*"] }
            return Dictionary((rule?.forward ?? []).map { (FargateDriver.targetGroupName(fromARN: $0.targetGroup), $0.weight) }, uniquingKeysWith: +)
        }
        /// Service name → desired count, from DescribeServices (every service of the cluster).
        func desired() async throws -> [String: Int] {
            let listed = try await client.json(.ecs, targetPrefix: FargateDriver.ecsPrefix, operation: "ListServices", ["cluster": name])
            let arns = (try JSONSerialization.jsonObject(with: listed.body) as? [String: Any])?["serviceArns"] as? [String] ?? []
            guard !arns.isEmpty else { return [:] }
            let described = try await client.json(.ecs, targetPrefix: FargateDriver.ecsPrefix, operation: "DescribeServices",
                                                   ["cluster": AnyEncodable(name), "services": AnyEncodable(arns)])
            let services = (try JSONSerialization.jsonObject(with: described.body) as? [String: Any])?["services"] as? [[String: Any]] ?? []
            return services.reduce(into: [:]) { $0[$1["serviceName"] as? String ?? ""] = $1["desiredCount"] as? Int }
        }

        #expect(try CLI.run(["deploy", "scoring", "v1", "--bake", "0s", "--registry", scratch.registry]).status == 0)
        #expect(try await waitUntil(60) { try deploymentState(scratch.registry, id: 1)?.state == "succeeded" },
                "\(String(describing: try? deploymentState(scratch.registry, id: 1)))")
        #expect(try await weights() == ["md-scoring-v1": 100])
        let v1Service = try #require(try await desired().keys.first { $0.hasPrefix("md-scoring-v1-") })
        let definition = try await client.json(.ecs, targetPrefix: FargateDriver.ecsPrefix, operation: "DescribeTaskDefinition", ["taskDefinition": v1Service])
        let task = (try JSONSerialization.jsonObject(with: definition.body) as? [String: Any])?["taskDefinition"] as? [String: Any]
        #expect(task?["memory"] as? String == "2048" && task?["cpu"] as? String == "256")

        #expect(try CLI.run(["deploy", "scoring", "v2", "--strategy", "canary:10%:5m", "--registry", scratch.registry]).status == 0)
        #expect(try await waitUntil(60) { try deploymentState(scratch.registry, id: 2)?.weight == 10 })
        var routed: [String: Int] = [:]
        for _ in 0..<100 where routed["md-scoring-v2"] != 10 {  // the registry's weight comes first, then the driver's call
            routed = try await weights()
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(routed == ["md-scoring-v1": 90, "md-scoring-v2": 10])
        let canary = try await desired()
        #expect(canary.count == 2 && canary.values.allSatisfy { $0 == 1 }, "\(canary)")

        // `get endpoints -o wide` shows the endpoint like any other, through the same generic rows.
        let wide = try CLI.run(["get", "endpoints", "-o", "wide", "--registry", scratch.registry])
        #expect(wide.status == 0, "\(wide.stderr)")
        let row = try #require(wide.stdout.split(separator: "\n").first { $0.hasPrefix("scoring") })
        #expect(row.contains("fg") && row.contains("v2"), "\(wide.stdout)")

        #expect(try CLI.run(["rollback", "scoring", "--reason", "canary looks wrong", "--registry", scratch.registry]).status == 0)
        for _ in 0..<100 where routed != ["md-scoring-v1": 100] {
            routed = try await weights()
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(routed == ["md-scoring-v1": 100])
        var after: [String: Int] = [:]
        for _ in 0..<100 where after.values.filter({ $0 == 0 }).count != 1 {
            after = try await desired()
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(after[v1Service] == 1 && after.filter { $0.key != v1Service }.values.allSatisfy { $0 == 0 }, "\(after)")
        // The registry records the routing once the platform has taken it, so it may follow a moment later.
        #expect(try await waitUntil(30) { try desiredWeights(scratch.registry, endpoint: "scoring") == ["scorer@v1": 100] })
    }

    /// The same daemon and CLI on a sagemaker-realtime target (moto, with `UpdateEndpoint` stood in for at the HTTP
    /// boundary: `MotoWithUpdateEndpoint`): a deploy makes the endpoint, a canary adds v2's variant at 10% with one
    /// `UpdateEndpoint`, and a rollback moves the weights back — asked of SageMaker itself (DescribeEndpoint).
    @Test func aCanaryAndARollbackThroughTheCLIMoveTheRealtimeVariantsWeights() async throws {
        let scratch = Scratch()
        defer { scratch.cleanUp() }
        let prefix = "md\(UUID().uuidString.prefix(6).lowercased())"
        let aws = MotoWithUpdateEndpoint()
        defer { aws.stop() }
        var environment = try await awsEnvironment(scratch)
        environment["AWS_ENDPOINT_URL"] = try await aws.start()
        try applyDeck(scratch, target: "{name: rt, kind: sagemaker-realtime, region: us-east-1, execution_role_arn: '\(Self.role)', instance_type: ml.t2.medium, endpoint_prefix: \(prefix)}",
                      versionMemory: "1GB", endpoint: "{name: scoring, model: scorer, target: rt, memory: 2GB}")
        let daemon = try BackgroundCommand("daemon", registry: scratch.registry, environment: environment)
        defer { daemon.stop() }

        let client = AWSClient(configuration: try await Moto.shared.configuration())
        func variants() async throws -> [String: Double] {
            let answer = try await client.json(.sagemaker, targetPrefix: "SageMaker", operation: "DescribeEndpoint", ["EndpointName": "\(prefix)-scoring"])
            let endpoint = try JSONSerialization.jsonObject(with: answer.body) as? [String: Any] ?? [:]
            return (endpoint["ProductionVariants"] as? [[String: Any]] ?? []).reduce(into: [:]) { result, variant in
                result[variant["VariantName"] as? String ?? "?"] = variant["CurrentWeight"] as? Double ?? 0
            }
        }
        func waitForVariants(_ expected: [String: Double]) async throws -> [String: Double] {
            var seen: [String: Double] = [:]
            for _ in 0..<300 {  // the registry's weight comes first, then the driver's calls
                seen = (try? await variants()) ?? [:]
                if seen == expected { break }
                try await Task.sleep(for: .milliseconds(100))
            }
            return seen
        }

        #expect(try CLI.run(["deploy", "scoring", "v1", "--bake", "0s", "--registry", scratch.registry]).status == 0)
        #expect(try await waitUntil(60) { try deploymentState(scratch.registry, id: 1)?.state == "succeeded" })
        #expect(try await waitForVariants(["v1": 100]) == ["v1": 100])

        let canary = try CLI.run(["deploy", "scoring", "v2", "--strategy", "canary:10%:5m", "--registry", scratch.registry])
        #expect(canary.status == 0, "\(canary.stderr)")
        #expect(try await waitUntil(60) { try deploymentState(scratch.registry, id: 2)?.weight == 10 })
        #expect(try await waitForVariants(["v1": 90, "v2": 10]) == ["v1": 90, "v2": 10])

        // Every view reads it through the generic paths: the endpoint's row names its target and both versions.
        let wide = try CLI.run(["get", "endpoints", "-o", "wide", "--registry", scratch.registry])
        let row = try #require(wide.stdout.split(separator: "\n").first { $0.hasPrefix("scoring") }, "\(wide.stdout)\(wide.stderr)")
        #expect(row.contains(" rt ") && row.contains("v1=90%,v2=10%") && row.contains("scorer@v2 shifting 10%"), "\(wide.stdout)")
        let burn = try CLI.run(["cost", "burn", "--registry", scratch.registry])
        #expect(burn.stdout.contains("sagemaker-realtime 1 × ml.t2.medium us-east-1"), "\(burn.stdout)")

        #expect(try CLI.run(["rollback", "scoring", "--reason", "canary looks wrong", "--registry", scratch.registry]).status == 0)
        #expect(try await waitForVariants(["v1": 100, "v2": 0]) == ["v1": 100, "v2": 0])
        // The registry records the routing once the platform has taken it, so it may follow a moment later.
        #expect(try await waitUntil(30) { try desiredWeights(scratch.registry, endpoint: "scoring") == ["scorer@v1": 100] })
        // One new config for the canary, and no other: the rollback moved weights on the variants there were.
        let operations = aws.operations
        #expect(operations.filter { $0 == "UpdateEndpoint" }.count == 1, "\(operations)")
        #expect(operations.filter { $0 == "CreateEndpointConfig" }.count == 2, "\(operations)")
        #expect(operations.contains("UpdateEndpointWeightsAndCapacities"), "\(operations)")
    }
}
