import AsyncHTTPClient
import Foundation
import ModelDeckCore
import NIOCore

// The Application Load Balancer: listener rules, target groups and their CloudWatch statistics.
extension FargateDriver {
    var noPriority: ModelDeckError { ModelDeckError("the listener \(listener) has no free rule priority (50,000 rules)") }

    /// The endpoint's weighted rule: its path, and no header condition.
    func endpointRule(_ endpoint: String, in rules: [LoadBalancerRules.Rule]) -> LoadBalancerRules.Rule? {
        rules.first { $0.header == nil && $0.pathPatterns == [Self.path(endpoint)] }
    }

    /// The listener's load balancer: its VPC (where target groups are made) and DNS name (where pings go).
    func loadBalancer() async throws -> (vpc: String, dnsName: String) {
        let listeners = try await rules.call("DescribeListeners", [(name: "ListenerArns.member.1", value: listener)])
        guard let arn = listeners.first("Listeners")?.children(named: "member").first?.first("LoadBalancerArn")?.text else {
            throw ModelDeckError("no listener \(listener) in \(target.region ?? "the region")")
        }
        let balancers = try await rules.call("DescribeLoadBalancers", [(name: "LoadBalancerArns.member.1", value: arn)])
        guard let balancer = balancers.first("LoadBalancers")?.children(named: "member").first,
              let vpc = balancer.first("VpcId")?.text, let dns = balancer.first("DNSName")?.text else {
            throw ModelDeckError("the load balancer of listener \(listener) is gone")
        }
        return (vpc, dns)
    }

    /// The ARN of the target group `name`, made (HTTP to the container port, IP targets as Fargate needs) if missing.
    func ensureTargetGroup(_ name: String, vpc: String) async throws -> String {
        if let arn = try await targetGroupARN(name) { return arn }
        let made = try await rules.call("CreateTargetGroup", [
            (name: "Name", value: name), (name: "Protocol", value: "HTTP"), (name: "Port", value: "\(containerPort)"),
            (name: "VpcId", value: vpc), (name: "TargetType", value: "ip"),
        ])
        guard let arn = made.first("TargetGroups")?.children(named: "member").first?.first("TargetGroupArn")?.text else {
            throw ModelDeckError("CreateTargetGroup \(name) answered no ARN")
        }
        return arn
    }

    func targetGroupARN(_ name: String) async throws -> String? {
        do {
            let found = try await rules.call("DescribeTargetGroups", [(name: "Names.member.1", value: name)])
            return found.first("TargetGroups")?.children(named: "member").first?.first("TargetGroupArn")?.text
        } catch let error as AWSError where error.kind == .notFound {
            return nil
        }
    }

    /// Version id → the ARN of its traffic group, for the versions that have one.
    func targetGroupARNs(_ versions: [ModelVersion], endpoint: String) async throws -> [String: String] {
        var arns: [String: String] = [:]
        for version in versions {
            arns[version.id] = try await targetGroupARN(targetGroupName(endpoint: endpoint, version: version, direct: false))
        }
        return arns
    }

    /// `arn:…:targetgroup/NAME/ID` → `NAME`.
    static func targetGroupName(fromARN arn: String) -> String {
        let parts = dimension(fromARN: arn).split(separator: "/")
        return parts.count >= 2 ? String(parts[1]) : arn
    }

    /// `arn:…:targetgroup/NAME/ID` → `targetgroup/NAME/ID`, CloudWatch's `TargetGroup` dimension.
    static func dimension(fromARN arn: String) -> String {
        arn.split(separator: ":", maxSplits: 5, omittingEmptySubsequences: false).last.map(String.init) ?? arn
    }

    /// `arn:…:listener/app/NAME/LB-ID/LISTENER-ID` → `app/NAME/LB-ID`, CloudWatch's `LoadBalancer` dimension.
    static func loadBalancerDimension(fromListener arn: String) -> String {
        let resource = dimension(fromARN: arn).split(separator: "/").map(String.init)
        return resource.count >= 4 ? resource[1...3].joined(separator: "/") : arn
    }
}

/// The CloudWatch statistics of an ALB target group the Fargate driver reads, per period.
enum LoadBalancerStatistic: String, PlatformStatistic {
    case requests, errors, p50, p90, p99, maximum, sum

    var name: String { rawValue }
    /// Cold starts are task starts, from ECS, not from these.
    static let countsColdStarts = false

    var metric: String {
        switch self {
        case .requests: "RequestCount"
        // 4xx are the caller's; ModelDeck counts server-side failures, as the local gateway does.
        case .errors: "HTTPCode_Target_5XX_Count"
        case .p50, .p90, .p99, .maximum, .sum: "TargetResponseTime"
        }
    }

    var stat: String {
        switch self {
        case .requests, .errors, .sum: "Sum"
        case .p50, .p90, .p99: rawValue
        case .maximum: "Maximum"
        }
    }

    var isPercentile: Bool { [.p50, .p90, .p99].contains(self) }

    /// `TargetResponseTime` is in seconds; `PeriodFigures` keeps milliseconds.
    func set(_ value: Double, in figures: inout PeriodFigures) {
        switch self {
        case .requests: figures.invocations = value
        case .errors: figures.errors = value
        case .p50: figures.p50 = value * 1_000
        case .p90: figures.p90 = value * 1_000
        case .p99: figures.p99 = value * 1_000
        case .maximum: figures.maximum = value * 1_000
        case .sum: figures.sum = value * 1_000
        }
    }
}
