import AsyncHTTPClient
import Foundation
import ModelDeckCore
import NIOCore

/// The ecs-fargate driver: each ModelDeck version is an ECS task definition (the version's image, the
/// endpoint's CPU and memory, Fargate, awsvpc) and an ECS service on Fargate, registered with two target groups
/// of the target's Application Load Balancer listener:
///
/// - the version's *traffic* group, one of the forward targets of the endpoint's rule (path `/endpoints/NAME/*`),
///   whose weights are the endpoint's traffic split — canary, linear and rollback are `ModifyRule` calls;
/// - the version's *direct* group, behind a rule that also matches `X-ModelDeck-Version: <version id>` and so
///   comes first: keep-warm pings and `bench` reach one version, and their requests never count in the traffic
///   group's CloudWatch figures.
///
/// `min_instances` and `max_instances` become the service's desired count and its Application Auto Scaling
/// bounds while the version takes traffic; a version that left the traffic is scaled to zero.
///
/// Every name is derived from the registry (endpoint and version), so the driver keeps no state of its own: a
/// daemon killed with -9 finds the same services, groups and rules again.
public struct FargateDriver: TargetDriver {
    public let target: Target
    let client: AWSClient
    /// How often `DescribeServices` is polled while a service starts its first task, and for how long.
    public var pollInterval: Duration = .seconds(5)
    public var runningTimeout: Duration = .seconds(10 * 60)
    /// Whether `collectMetrics` asks for `TargetResponseTime` percentiles (moto 5.2 answers a percentile with HTTP 500).
    public var percentiles = true
    /// ALB metrics come once a minute; the buckets are as wide.
    public static let metricPeriod: Int64 = 60
    static let ecsPrefix = "AmazonEC2ContainerServiceV20141113"
    static let scalingPrefix = "AnyScaleFrontendService"
    /// The header a version's rule matches: the one the local gateway reads.
    static let versionHeader = "X-ModelDeck-Version"

    public init(target: Target, client: AWSClient) {
        self.target = target
        self.client = client
    }

    // MARK: Settings and names

    func setting(_ key: String) -> String? { target.descriptor.value(key, of: target) }
    var cluster: String { setting("cluster") ?? "default" }
    var listener: String { setting("listener_arn") ?? "" }
    var rules: LoadBalancerRules { LoadBalancerRules(client: client, listener: listener) }
    var containerPort: Int { setting("container_port").flatMap(Int.init) ?? 8080 }
    func list(_ key: String) -> [String] {
        (setting(key) ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    /// The ECS service and task definition family of `version` on `endpoint` (letters, digits, hyphens; ≤ 63).
    func serviceName(endpoint: String, version: ModelVersion) -> String {
        SageMakerServerlessDriver.name(["md", endpoint, version.version, String(version.digest.dropFirst("sha256:".count).prefix(8))])
    }

    /// Target group names are at most 32 characters: `md-ENDPOINT-VERSION` (traffic) and `mdv-…` (direct).
    func targetGroupName(endpoint: String, version: ModelVersion, direct: Bool) -> String {
        SageMakerServerlessDriver.name([direct ? "mdv" : "md", endpoint, version.version], limit: 32)
    }

    static func path(_ endpoint: String) -> String { "/endpoints/\(endpoint)/*" }

    /// The vCPUs of `endpoint`'s tasks: the target's `cpu`, else the fewest Fargate allows for its memory.
    func vcpu(_ endpoint: Endpoint) throws -> Decimal {
        guard let vcpu = FargateSize.vcpu(memoryMB: endpoint.memoryMB, cpu: target.config["cpu"]) else {
            throw ModelDeckError(FargateSize.problem(memoryMB: endpoint.memoryMB, cpu: target.config["cpu"]) ?? "no Fargate task size for \(endpoint.memoryMB) MB")
        }
        return vcpu
    }

    /// The desired task count of a version that takes traffic (a service with no task answers nothing: at least one).
    static func desiredCount(_ endpoint: Endpoint) -> Int { max(endpoint.minInstances, 1) }

    // MARK: TargetDriver

    public func provision(_ version: ModelVersion, on endpoint: Endpoint) async throws {
        try FitCheck.require(version: version, endpoint: endpoint, target: target)
        guard let image = version.image else { throw ModelDeckError("version '\(version.id)' has no container image") }
        let family = serviceName(endpoint: endpoint.name, version: version)
        let taskDefinition = try await ensureTaskDefinition(family: family, image: image, version: version, endpoint: endpoint)
        let balancer = try await loadBalancer()
        let traffic = try await ensureTargetGroup(targetGroupName(endpoint: endpoint.name, version: version, direct: false), vpc: balancer.vpc)
        let direct = try await ensureTargetGroup(targetGroupName(endpoint: endpoint.name, version: version, direct: true), vpc: balancer.vpc)

        // Both groups must belong to a listener rule before a service may register with them.
        var current = try await rules.rules()
        if !current.contains(where: { $0.header?.values == [version.id] && $0.pathPatterns == [Self.path(endpoint.name)] }) {
            guard let priority = LoadBalancerRules.freePriority(among: current, low: true) else { throw noPriority }
            try await rules.create(path: Self.path(endpoint.name), header: (Self.versionHeader, version.id), forward: [(direct, 1)], priority: priority)
            current = try await rules.rules()
        }
        if let rule = endpointRule(endpoint.name, in: current) {
            if !rule.forward.contains(where: { $0.targetGroup == traffic }) {
                try await rules.modify(rule.arn, forward: rule.forward + [(traffic, 0)])  // in the rule, no traffic yet
            }
        } else {
            // The endpoint's first version: nothing was served before, so it takes the rule's whole weight.
            guard let priority = LoadBalancerRules.freePriority(among: current, low: false) else { throw noPriority }
            try await rules.create(path: Self.path(endpoint.name), header: nil, forward: [(traffic, 100)], priority: priority)
        }

        let service = try await describeServices([family]).first
        if service == nil || service?.status == "INACTIVE" {
            try await ensureCluster()
            let loadBalancers = [traffic, direct].map {
                ["targetGroupArn": AnyEncodable($0), "containerName": AnyEncodable("model"), "containerPort": AnyEncodable(containerPort)]
            }
            _ = try await ecs("CreateService", [
                "cluster": AnyEncodable(cluster), "serviceName": AnyEncodable(family), "taskDefinition": AnyEncodable(taskDefinition),
                "desiredCount": AnyEncodable(Self.desiredCount(endpoint)), "launchType": AnyEncodable("FARGATE"),
                "loadBalancers": AnyEncodable(loadBalancers),
                "networkConfiguration": AnyEncodable(["awsvpcConfiguration": [
                    "subnets": AnyEncodable(list("subnets")), "securityGroups": AnyEncodable(list("security_groups")),
                    "assignPublicIp": AnyEncodable("DISABLED"),
                ]]),
                "tags": AnyEncodable([["key": "modeldeck:endpoint", "value": endpoint.name], ["key": "modeldeck:version", "value": version.id]]),
            ])
        }
        try await scale(family, endpoint: endpoint, serving: true)
    }

    public func setWeights(_ weights: [String: Int], on endpoint: Endpoint, versions: [String: ModelVersion]) async throws {
        for (id, weight) in weights.sorted(by: { $0.key < $1.key }) where weight > 0 {
            guard let version = versions[id] else { throw ModelDeckError("no version '\(id)' of endpoint '\(endpoint.name)' in the registry") }
            try await provision(version, on: endpoint)
            try await waitRunning(serviceName(endpoint: endpoint.name, version: version))
        }
        let groups = try await targetGroupARNs(weights.keys.sorted().compactMap { versions[$0] }, endpoint: endpoint.name)
        guard let rule = endpointRule(endpoint.name, in: try await rules.rules()) else {
            throw ModelDeckError("the listener has no rule for endpoint '\(endpoint.name)' (path \(Self.path(endpoint.name))); deploy a version first")
        }
        // The registry's weights, and nothing else: a group added outside ModelDeck leaves the rule.
        let forward = weights.keys.sorted().compactMap { id in groups[id].map { (targetGroup: $0, weight: weights[id] ?? 0) } }
        if forward.map(\.targetGroup) != rule.forward.map(\.targetGroup) || forward.map(\.weight) != rule.forward.map(\.weight) {
            try await rules.modify(rule.arn, forward: forward)
        }
        // Versions out of the traffic are scaled to zero; named at 0% (a step of a rollout) they stay at their minimum.
        let idle = versions.values.filter { weights[$0.id] == nil }.map { serviceName(endpoint: endpoint.name, version: $0) }
        for service in try await describeServices(idle) where service.status == "ACTIVE" && service.desiredCount > 0 {
            try await scale(service.serviceName, endpoint: endpoint, serving: false)
        }
    }

    public func liveWeights(of endpoint: Endpoint, versions known: [String: ModelVersion]) async throws -> [String: Int] {
        guard let rule = endpointRule(endpoint.name, in: try await rules.rules()) else { return [:] }
        let byName = Dictionary(known.values.map { (targetGroupName(endpoint: endpoint.name, version: $0, direct: false), $0.id) },
                                uniquingKeysWith: { a, _ in a })
        let total = rule.forward.reduce(0) { $0 + $1.weight }
        var weights: [String: Int] = [:]
        for group in rule.forward {
            let name = Self.targetGroupName(fromARN: group.targetGroup)
            // A group made outside ModelDeck shows under its own name, so the registry's weights are enforced.
            weights[byName[name] ?? "elbv2:\(name)", default: 0] += total > 0 ? (group.weight * 100 + total / 2) / total : 0
        }
        // A group at 0 takes nothing (a version provisioned for a canary waits there), as the registry's splits drop it.
        return weights.filter { $0.value > 0 }
    }

    /// `count` concurrent requests to the version's own rule (`X-ModelDeck-Version`), marked as warmups
    /// (`X-ModelDeck-Warmup: 1`) for the model server. Fargate does not say whether a request waited for a task to
    /// start; task starts come from ECS instead (`collectMetrics`).
    public func ping(_ version: ModelVersion, of endpoint: Endpoint, count: Int) async throws -> [PingResult] {
        let base: String
        if let url = target.config["url"] { base = url.hasSuffix("/") ? String(url.dropLast()) : url } else { base = "http://" + (try await loadBalancer().dnsName) }
        let url = base + "/endpoints/\(endpoint.name)/invoke"
        return try await sendConcurrently(count) {
            var request = HTTPClientRequest(url: url)
            request.method = .POST
            request.headers.add(name: "Content-Type", value: "application/json")
            request.headers.add(name: "X-ModelDeck-Warmup", value: "1")
            request.headers.add(name: Self.versionHeader, value: version.id)
            request.body = .bytes(ByteBuffer(string: #"{"modeldeck-warmup": true}"#))
            let started = ContinuousClock.now
            let response = try await HTTPClient.shared.execute(request, timeout: .seconds(60))
            _ = try? await response.body.collect(upTo: 1 << 20)
            return PingResult(status: Int(response.status.code), coldStart: false, milliseconds: (ContinuousClock.now - started).wholeMilliseconds)
        }
    }

    // MARK: Metrics

    /// CloudWatch's per-target-group figures of each version's traffic group (namespace `AWS/ApplicationELB`,
    /// dimensions `TargetGroup` and `LoadBalancer`): `RequestCount`, `HTTPCode_Target_5XX_Count` and
    /// `TargetResponseTime` (seconds; p50/p90/p99, maximum, sum), and each service's running task time and task
    /// starts from ECS (`FargateTaskTime`): the task time is what the endpoint burns, the starts its cold starts.
    /// https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-cloudwatch-metrics.html
    public func collectMetrics(of endpoint: Endpoint, versions serving: [ModelVersion], from: Date, to: Date) async throws -> PlatformMetrics {
        let versions = serving.sorted { $0.id < $1.id }
        let groups = try await targetGroupARNs(versions, endpoint: endpoint.name)
        let balancer = Self.loadBalancerDimension(fromListener: listener)
        let series = versions.enumerated().compactMap { index, version in
            groups[version.id].map {
                PlatformSeries(key: "v\(index)", version: version.id,
                               dimensions: [(name: "TargetGroup", value: Self.dimension(fromARN: $0)), (name: "LoadBalancer", value: balancer)],
                               memoryMB: endpoint.memoryMB)
            }
        }
        var metrics = try await CloudWatch.collect(LoadBalancerStatistic.allCases.filter { percentiles || !$0.isPercentile },
                                                   namespace: "AWS/ApplicationELB", series: series, endpoint: endpoint.name,
                                                   from: from, to: to, period: Self.metricPeriod, client: client)
        let vcpu = try vcpu(endpoint)
        var index = Dictionary(metrics.periods.enumerated().map { ($1.key, $0) }, uniquingKeysWith: { a, _ in a })
        for version in versions {
            let tasks = try await tasks(of: serviceName(endpoint: endpoint.name, version: version))
            for (start, time) in FargateTaskTime.periods(tasks, from: from, to: to, now: Date(), seconds: Self.metricPeriod) {
                let key = MetricBucket.Key(endpoint: endpoint.name, version: version.id, start: start, width: Self.metricPeriod)
                if index[key] == nil {
                    index[key] = metrics.periods.count
                    metrics.periods.append(PlatformMetrics.Period(key: key, figures: PeriodFigures(), memoryMB: endpoint.memoryMB))
                }
                let at = index[key]!
                metrics.periods[at].figures.taskMilliseconds += time.taskMilliseconds
                metrics.periods[at].figures.startedTaskLifetimes += time.startedTaskLifetimes
                metrics.periods[at].figures.coldStarts += time.coldStarts
                metrics.periods[at].figures.taskVCPU = vcpu
            }
        }
        metrics.countsColdStarts = true
        return metrics
    }
}
