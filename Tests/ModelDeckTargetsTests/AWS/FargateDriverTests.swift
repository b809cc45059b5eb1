import Foundation
import GRDB
import HTTPTypes
import ModelDeckCore
import ModelDeckTestSupport
import Testing
@testable import ModelDeckTargets

/// The ecs-fargate driver against moto: every step is checked through AWS's own answers (DescribeTaskDefinition,
/// DescribeServices, DescribeRules, DescribeScalableTargets), not through the driver's view of itself.
@Suite(.serialized) struct FargateDriverTests {
    /// A registry with an ecs-fargate target on a fresh load balancer, and an endpoint `name` on model `sentiment`.
    private func registry(endpoint name: String) async throws -> (Registry, FargateDriver, AWSClient) {
        let network = try await MotoLoadBalancer.make(name: name)
        let registry = try ImageDeck.registry(target: "{name: fg, kind: ecs-fargate, region: us-east-1, cluster: \(name), \(network.deckSettings)}",
                                              endpoint: "{name: \(name), model: sentiment, target: fg, memory: 2GB, min_instances: 2, max_instances: 5}")
        let target = try registry.read { db in try Target.fetchOne(db, key: "fg")! }
        let client = AWSClient(configuration: try await Moto.shared.configuration())
        var driver = FargateDriver(target: target, client: client)
        driver.pollInterval = .milliseconds(50)
        driver.runningTimeout = .seconds(20)
        return (registry, driver, client)
    }

    private func routing(_ registry: Registry, _ name: String) throws -> (Endpoint, [String: ModelVersion]) {
        let endpoint = try #require(try registry.endpoint(named: name))
        return (endpoint, Dictionary(try registry.versions(model: endpoint.model).map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a }))
    }

    private func ecs(_ client: AWSClient, _ operation: String, _ body: [String: AnyEncodable]) async throws -> [String: Any] {
        let answer = try await client.json(.ecs, targetPrefix: FargateDriver.ecsPrefix, operation: operation, body)
        return try JSONSerialization.jsonObject(with: answer.body) as? [String: Any] ?? [:]
    }

    /// (desired, running) of each service named, from DescribeServices.
    private func counts(_ client: AWSClient, cluster: String, _ services: [String]) async throws -> [String: [Int]] {
        let answer = try await ecs(client, "DescribeServices", ["cluster": AnyEncodable(cluster), "services": AnyEncodable(services)])
        return (answer["services"] as? [[String: Any]] ?? []).reduce(into: [:]) { result, service in
            result[service["serviceName"] as? String ?? ""] = [service["desiredCount"] as? Int ?? -1, service["runningCount"] as? Int ?? -1]
        }
    }

    /// The endpoint rule's forward targets as target-group name → weight, from DescribeRules.
    private func weights(_ driver: FargateDriver, _ client: AWSClient, _ name: String) async throws -> [String: Int] {
        let rules = try await LoadBalancerRules(client: client, listener: driver.target.config["listener_arn"]!).rules()
        let rule = try #require(rules.first { $0.pathPatterns == ["/endpoints/\(name)/*"] && $0.header == nil })
        return Dictionary(rule.forward.map { (FargateDriver.targetGroupName(fromARN: $0.targetGroup), $0.weight) }, uniquingKeysWith: +)
    }

    @Test func aVersionIsATaskDefinitionAndAServiceAndACanaryAndARollbackMoveTheRuleWeights() async throws {
        let name = "fg-\(UUID().uuidString.prefix(8).lowercased())"
        let (registry, driver, client) = try await registry(endpoint: name)
        let (endpoint, versions) = try routing(registry, name)
        let v1 = try #require(versions["sentiment@v1"]), v2 = try #require(versions["sentiment@v2"])
        let s1 = driver.serviceName(endpoint: name, version: v1), s2 = driver.serviceName(endpoint: name, version: v2)
        let g1 = driver.targetGroupName(endpoint: name, version: v1, direct: false), g2 = driver.targetGroupName(endpoint: name, version: v2, direct: false)

        try await driver.setWeights(["sentiment@v1": 100], on: endpoint, versions: versions)
        // The task definition: the version's image, 2 GB with the fewest vCPUs Fargate allows for it (0.25), Fargate, awsvpc.
        let definition = try #require(try await ecs(client, "DescribeTaskDefinition", ["taskDefinition": AnyEncodable(s1)])["taskDefinition"] as? [String: Any])
        #expect(definition["cpu"] as? String == "256" && definition["memory"] as? String == "2048")
        #expect(definition["networkMode"] as? String == "awsvpc" && definition["requiresCompatibilities"] as? [String] == ["FARGATE"])
        #expect((definition["containerDefinitions"] as? [[String: Any]])?.first?["image"] as? String == v1.image)
        // The service runs min_instances tasks, between min_instances and max_instances when it scales.
        #expect(try await counts(client, cluster: name, [s1]) == [s1: [2, 2]])
        let scaling = try await client.json(.applicationAutoScaling, targetPrefix: FargateDriver.scalingPrefix, operation: "DescribeScalableTargets",
                                            ["ServiceNamespace": AnyEncodable("ecs"), "ResourceIds": AnyEncodable(["service/\(name)/\(s1)"])])
        let bounds = (try JSONSerialization.jsonObject(with: scaling.body) as? [String: Any])?["ScalableTargets"] as? [[String: Any]]
        #expect(bounds?.first?["MinCapacity"] as? Int == 2 && bounds?.first?["MaxCapacity"] as? Int == 5)
        #expect(try await weights(driver, client, name) == [g1: 100])
        #expect(try await driver.liveWeights(of: endpoint, versions: versions) == ["sentiment@v1": 100])

        // v2 provisioned: its group joins the rule at 0, which is no drift.
        try await driver.provision(v2, on: endpoint)
        #expect(try await weights(driver, client, name) == [g1: 100, g2: 0])
        #expect(try await driver.liveWeights(of: endpoint, versions: versions) == ["sentiment@v1": 100])

        // A canary: v2's service starts, then the rule sends it 10%.
        try await driver.setWeights(["sentiment@v1": 90, "sentiment@v2": 10], on: endpoint, versions: versions)
        #expect(try await weights(driver, client, name) == [g1: 90, g2: 10])
        #expect(try await counts(client, cluster: name, [s1, s2]) == [s1: [2, 2], s2: [2, 2]])
        #expect(try await driver.liveWeights(of: endpoint, versions: versions) == ["sentiment@v1": 90, "sentiment@v2": 10])
        // Each version has its own rule on the version header, ahead of the endpoint's (lower priority number).
        let rules = try await LoadBalancerRules(client: client, listener: driver.target.config["listener_arn"]!).rules()
        let pinned = rules.filter { $0.header?.name == "X-ModelDeck-Version" }
        #expect(Set(pinned.flatMap { $0.header?.values ?? [] }) == ["sentiment@v1", "sentiment@v2"])
        let endpointPriority = try #require(rules.first { $0.header == nil && $0.pathPatterns == ["/endpoints/\(name)/*"] }?.priority)
        #expect(pinned.allSatisfy { ($0.priority ?? .max) < endpointPriority })

        // A rollback: all of it back on v1, and v2's service scaled to zero.
        try await driver.setWeights(["sentiment@v1": 100], on: endpoint, versions: versions)
        #expect(try await weights(driver, client, name) == [g1: 100])
        #expect(try await counts(client, cluster: name, [s1, s2]) == [s1: [2, 2], s2: [0, 0]])

        // Again: nothing new (the task definition keeps its first revision).
        try await driver.setWeights(["sentiment@v1": 100], on: endpoint, versions: versions)
        let again = try #require(try await ecs(client, "DescribeTaskDefinition", ["taskDefinition": AnyEncodable(s1)])["taskDefinition"] as? [String: Any])
        #expect(again["revision"] as? Int == 1)
    }

    @Test func aRuleChangedOutsideModelDeckShowsAsDrift() async throws {
        let name = "fg-\(UUID().uuidString.prefix(8).lowercased())"
        let (registry, driver, client) = try await registry(endpoint: name)
        let (endpoint, versions) = try routing(registry, name)
        try await driver.setWeights(["sentiment@v1": 100], on: endpoint, versions: versions)
        // Someone points the rule at a group of their own.
        let rules = LoadBalancerRules(client: client, listener: driver.target.config["listener_arn"]!)
        let rule = try #require(driver.endpointRule(name, in: try await rules.rules()))
        let vpc = try await rules.call("DescribeTargetGroups", [(name: "TargetGroupArns.member.1", value: rule.forward[0].targetGroup)])
            .first("TargetGroups")?.children(named: "member").first?.first("VpcId")?.text ?? ""
        let theirs = try await rules.call("CreateTargetGroup", [(name: "Name", value: "theirs-\(name.suffix(8))"), (name: "Protocol", value: "HTTP"),
                                                                (name: "Port", value: "80"), (name: "VpcId", value: vpc), (name: "TargetType", value: "ip")])
            .first("TargetGroups")?.children(named: "member").first?.first("TargetGroupArn")?.text ?? ""
        try await rules.modify(rule.arn, forward: [(rule.forward[0].targetGroup, 50), (theirs, 50)])
        #expect(try await driver.liveWeights(of: endpoint, versions: versions) == ["sentiment@v1": 50, "elbv2:theirs-\(name.suffix(8))": 50])
        // The registry's weights put it back.
        try await driver.setWeights(["sentiment@v1": 100], on: endpoint, versions: versions)
        #expect(try await driver.liveWeights(of: endpoint, versions: versions) == ["sentiment@v1": 100])
    }

    @Test func cloudWatchFiguresOfEachTargetGroupBecomeTheVersionsBuckets() async throws {
        let name = "fg-\(UUID().uuidString.prefix(8).lowercased())"
        let (registry, made, client) = try await registry(endpoint: name)
        var driver = made
        driver.percentiles = false // moto 5.2 answers percentile statistics with HTTP 500
        let (endpoint, versions) = try routing(registry, name)
        try await driver.setWeights(["sentiment@v1": 90, "sentiment@v2": 10], on: endpoint, versions: versions)
        let rules = try await LoadBalancerRules(client: client, listener: driver.target.config["listener_arn"]!).rules()
        let groups = try #require(driver.endpointRule(name, in: rules)).forward.map(\.targetGroup)
        let balancer = FargateDriver.loadBalancerDimension(fromListener: driver.target.config["listener_arn"]!)
        #expect(balancer.hasPrefix("app/\(name)/"))
        let minute = Int64(Date().timeIntervalSince1970) / 60 * 60 - 120
        for (group, requests, errors, seconds) in [(groups[0], 30.0, 2.0, [(0.02, 29), (0.9, 1)]), (groups[1], 4.0, 0.0, [(0.05, 4)])] {
            try await CloudWatchFixture.put(client, namespace: "AWS/ApplicationELB",
                                            dimensions: [("TargetGroup", FargateDriver.dimension(fromARN: group)), ("LoadBalancer", balancer)],
                                            at: Date(timeIntervalSince1970: Double(minute + 5)),
                                            metrics: [("RequestCount", [(requests, 1)]), ("HTTPCode_Target_5XX_Count", [(errors, 1)]),
                                                      ("TargetResponseTime", seconds)])
        }
        let from = Date(timeIntervalSince1970: Double(minute - 60))
        let measured = try await driver.collectMetrics(of: endpoint, versions: [versions["sentiment@v1"]!, versions["sentiment@v2"]!], from: from, to: Date())
        #expect(measured.countsColdStarts, "task starts are the cold starts")
        try registry.replaceObserved(measured.buckets(rates: nil, taskRates: try TargetPricing.taskRates(for: driver.target, table: .standard)),
                                     platformCountsColdStarts: measured.countsColdStarts)
        let v1 = try #require(try registry.read { db in try MetricBucket.fetch(.init(endpoint: name, version: "sentiment@v1", start: minute, width: 60), db) })
        #expect(v1.requests == 30 && v1.errors == 2)
        #expect(abs((v1.latency.milliseconds(atPercentile: 100) ?? 0) - 900) <= 900 * LatencyHistogram.relativeAccuracy) // the slowest, in ms
        let v2 = try #require(try registry.read { db in try MetricBucket.fetch(.init(endpoint: name, version: "sentiment@v2", start: minute, width: 60), db) })
        #expect(v2.requests == 4 && v2.errors == 0)
        // moto's services start no tasks: no task time, so no cost and no cold starts here (FargateTaskTimeTests price them).
        #expect(v1.costMicros == 0 && v1.coldStarts == 0)
    }

    /// ECS's tasks, which moto's services never start, from a stand-in at the HTTP boundary: one task ran
    /// 30 s and stopped, another started 20 s before the end of the same minute and still runs. Both are cold
    /// starts; the minute is billed for 60 s (the first task's minimum) + 20 s, at 0.25 vCPU and 512 MB.
    /// Pings go to the target's `url` with the version header, marked as warmups.
    @Test func taskTimeAndTaskStartsComeFromECSAndPingsNameTheirVersion() async throws {
        let minute: Int64 = 1_750_000_020, listener = "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/lb/1/2"
        let group = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/md-scoring-v1/3"
        let ecs = FaultServer { _, head, body in
            let form = String(decoding: body, as: UTF8.self)
            switch head.headerFields[HTTPField.Name("X-Amz-Target")!] ?? "" {
            case "AmazonEC2ContainerServiceV20141113.ListTasks":
                return .ok(form.contains("RUNNING") ? #"{"taskArns": ["arn:aws:ecs:us-east-1:1:task/c/running"]}"# : #"{"taskArns": ["arn:aws:ecs:us-east-1:1:task/c/done"]}"#)
            case "AmazonEC2ContainerServiceV20141113.DescribeTasks":
                return .ok(#"{"tasks": [{"pullStartedAt": \#(minute + 5), "startedAt": \#(minute + 15), "stoppedAt": \#(minute + 35)}, {"startedAt": \#(minute + 40)}]}"#)
            default: break
            }
            if form.contains("Action=DescribeTargetGroups") {
                return .ok("<DescribeTargetGroupsResponse><DescribeTargetGroupsResult><TargetGroups><member><TargetGroupArn>\(group)</TargetGroupArn></member></TargetGroups></DescribeTargetGroupsResult></DescribeTargetGroupsResponse>")
            }
            if form.contains("Action=GetMetricData") {
                return .ok("<GetMetricDataResponse><GetMetricDataResult><MetricDataResults></MetricDataResults></GetMetricDataResult></GetMetricDataResponse>")
            }
            return .ok("{}")  // a ping
        }
        defer { ecs.stop() }
        let url = try await ecs.start()
        let configuration = AWSConfiguration(credentials: AWSCredentials(accessKeyID: "a", secretAccessKey: "b"), region: "us-east-1",
                                             endpointURL: url, profile: "test")
        let target = Target(name: "fg", kind: .ecsFargate, region: "us-east-1",
                            config: ["listener_arn": listener, "subnets": "subnet-1", "security_groups": "sg-1", "url": url])
        var driver = FargateDriver(target: target, client: AWSClient(configuration: configuration))
        driver.percentiles = false
        let endpoint = Endpoint(name: "scoring", model: "scorer", target: "fg", memoryMB: 512)
        let v1 = ModelVersion(model: "scorer", version: "v1", digest: "sha256:" + String(repeating: "1", count: 64), sizeBytes: 1,
                              image: "scorer:v1", memoryMB: 512)
        // The running task counts up to now: a window that ends with its minute, read long after.
        let measured = try await driver.collectMetrics(of: endpoint, versions: [v1], from: Date(timeIntervalSince1970: Double(minute)),
                                                       to: Date(timeIntervalSince1970: Double(minute + 60)))
        let period = try #require(measured.periods.first { $0.key.start == minute })
        #expect(period.figures.coldStarts == 2 && period.figures.taskMilliseconds == 30_000 + 20_000)
        let rates = try PriceTable.standard.taskRates(platform: "ecs-fargate", region: "us-east-1", architecture: "x86_64")
        let bucket = try #require(measured.buckets(rates: nil, taskRates: rates)[period.key])
        #expect(bucket.coldStarts == 2)
        // The stopped task: 30 s billed as the minute. The running one: its 20 s in this minute; having run far longer
        // than a minute by now, it owes no minimum.
        #expect(bucket.costMicros == Money.micros(rates.cost(billedMilliseconds: 60_000 + 20_000, vcpu: Decimal(string: "0.25")!, memoryMB: 512)))

        let pings = try await driver.ping(v1, of: endpoint, count: 2)
        #expect(pings.map(\.status) == [200, 200])
        let sent = ecs.requests.filter { $0.path == "/endpoints/scoring/invoke" }
        #expect(sent.count == 2)
        #expect(sent.allSatisfy {
            $0.headerFields[HTTPField.Name("X-ModelDeck-Version")!] == "scorer@v1" && $0.headerFields[HTTPField.Name("X-ModelDeck-Warmup")!] == "1"
        })
    }
}

/// Task time and task starts per period, and their price: Fargate bills per second with a one-minute minimum.
struct FargateTaskTimeTests {
    let t0 = Date(timeIntervalSince1970: 1_800_000_000) // a minute boundary (1,800,000,000 = 30,000,000 × 60)

    func at(_ seconds: Double) -> Date { t0.addingTimeInterval(seconds) }

    @Test func aTaskIsSpreadOverThePeriodsItRanInAndStartsInItsFirst() {
        let periods = FargateTaskTime.periods([FargateTask(billedFrom: at(30), stopped: at(150))], from: t0, to: at(300), now: at(300), seconds: 60)
        let start = Int64(t0.timeIntervalSince1970)
        #expect(periods[start]?.taskMilliseconds == 30_000 && periods[start + 60]?.taskMilliseconds == 60_000 && periods[start + 120]?.taskMilliseconds == 30_000)
        #expect(periods[start]?.coldStarts == 1 && periods[start + 60]?.coldStarts == 0)
        #expect(periods[start]?.startedTaskLifetimes == [120_000])
        #expect(periods[start + 180] == nil)
    }

    @Test func aRunningTaskCountsUpToNowAndOneStartedBeforeTheWindowIsNoColdStart() {
        let start = Int64(t0.timeIntervalSince1970)
        let periods = FargateTaskTime.periods([FargateTask(billedFrom: at(-600), stopped: nil)], from: t0, to: at(120), now: at(90), seconds: 60)
        #expect(periods[start]?.taskMilliseconds == 60_000 && periods[start + 60]?.taskMilliseconds == 30_000)
        #expect(periods.values.allSatisfy { $0.coldStarts == 0 && $0.startedTaskLifetimes.isEmpty })
    }

    @Test func aShortTaskIsBilledTheMinuteAndAnOddOneIsRoundedUpToTheSecond() throws {
        let rates = try PriceTable.standard.taskRates(platform: "ecs-fargate", region: "us-east-1", architecture: "x86_64")
        // 0.25 vCPU and 512 MB for one minute: (0.25 × 0.04048 + 0.5 × 0.004445) / 60 = $0.000205708…
        var short = PeriodFigures()
        short.taskMilliseconds = 10_000
        short.startedTaskLifetimes = [10_000]
        short.taskVCPU = Decimal(string: "0.25")!
        #expect(short.bucket(memoryMB: 512, rates: nil, taskRates: rates).costMicros == 206)
        // 61.2 s is billed as 62 s.
        var odd = short
        odd.taskMilliseconds = 61_200
        odd.startedTaskLifetimes = [61_200]
        #expect(odd.bucket(memoryMB: 512, rates: nil, taskRates: rates).costMicros == Money.micros(rates.cost(billedMilliseconds: 62_000, vcpu: Decimal(string: "0.25")!, memoryMB: 512)))
        // Without task rates (another kind) task time costs nothing.
        #expect(short.bucket(memoryMB: 512, rates: nil).costMicros == 0)
    }
}
