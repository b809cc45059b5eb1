import Foundation

extension AWSService {
    public static let ecs = AWSService(signingName: "ecs", endpointPrefix: "ecs")
    public static let elasticLoadBalancing = AWSService(signingName: "elasticloadbalancing", endpointPrefix: "elasticloadbalancing")
    public static let applicationAutoScaling = AWSService(signingName: "application-autoscaling", endpointPrefix: "application-autoscaling")
}

/// An Application Load Balancer listener's rules as ModelDeck reads and writes them (ELBv2's query protocol,
/// API version 2015-12-01, XML answers): the endpoint's weighted forward rule and each version's header rule.
/// https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_DescribeRules.html
struct LoadBalancerRules: Sendable {
    static let apiVersion = "2015-12-01"
    let client: AWSClient
    let listener: String

    /// One rule: its conditions (path pattern, header values) and where it forwards, with weights.
    struct Rule: Sendable {
        var arn: String
        var priority: Int?
        var pathPatterns: [String]
        var header: (name: String, values: [String])?
        var forward: [(targetGroup: String, weight: Int)]
    }

    /// The `<ActionResult>` element of a query call's answer.
    func call(_ action: String, _ parameters: [(name: String, value: String)]) async throws -> XMLElementTree {
        let answer = try await client.query(.elasticLoadBalancing, action: action, version: Self.apiVersion, parameters: parameters)
        guard let root = XMLElementTree.parse(answer.body), let result = root.first("\(action)Result") else {
            throw AWSError(kind: .badResponse, operation: "elasticloadbalancing:\(action)", status: answer.status, code: nil,
                           message: "answer is not the expected XML", attempts: 1)
        }
        return result
    }

    /// Every rule of the listener, page by page.
    func rules() async throws -> [Rule] {
        var rules: [Rule] = []
        var marker: String?
        repeat {
            var parameters = [(name: "ListenerArn", value: listener)]
            if let marker { parameters.append((name: "Marker", value: marker)) }
            let result = try await call("DescribeRules", parameters)
            for member in result.first("Rules")?.children(named: "member") ?? [] { rules.append(Self.rule(member)) }
            marker = result.first("NextMarker").map(\.text).flatMap { $0.isEmpty ? nil : $0 }
        } while marker != nil
        return rules
    }

    static func rule(_ member: XMLElementTree) -> Rule {
        var paths: [String] = [], header: (name: String, values: [String])?
        for condition in member.first("Conditions")?.children(named: "member") ?? [] {
            switch condition.first("Field")?.text {
            case "path-pattern":
                let values = condition.first("PathPatternConfig")?.first("Values") ?? condition.first("Values")
                paths += values?.children(named: "member").map(\.text) ?? []
            case "http-header":
                if let config = condition.first("HttpHeaderConfig") {
                    header = (config.first("HttpHeaderName")?.text ?? "", config.first("Values")?.children(named: "member").map(\.text) ?? [])
                }
            default: break
            }
        }
        var forward: [(targetGroup: String, weight: Int)] = []
        for action in member.first("Actions")?.children(named: "member") ?? [] where action.first("Type")?.text == "forward" {
            let groups = action.first("ForwardConfig")?.first("TargetGroups")?.children(named: "member") ?? []
            if groups.isEmpty, let single = action.first("TargetGroupArn")?.text {
                forward.append((single, 1))
            }
            for group in groups {
                forward.append((group.first("TargetGroupArn")?.text ?? "", group.first("Weight").flatMap { Int($0.text) } ?? 1))
            }
        }
        return Rule(arn: member.first("RuleArn")?.text ?? "", priority: member.first("Priority").flatMap { Int($0.text) },
                    pathPatterns: paths, header: header, forward: forward)
    }

    /// The form fields of a forward action to `groups` with their weights.
    static func forwardAction(_ groups: [(targetGroup: String, weight: Int)]) -> [(name: String, value: String)] {
        var fields = [(name: "Actions.member.1.Type", value: "forward")]
        for (index, group) in groups.enumerated() {
            let prefix = "Actions.member.1.ForwardConfig.TargetGroups.member.\(index + 1)"
            fields += [(name: "\(prefix).TargetGroupArn", value: group.targetGroup), (name: "\(prefix).Weight", value: "\(group.weight)")]
        }
        return fields
    }

    /// The form fields of a rule's conditions: a path pattern, and a header's value when given.
    static func conditions(path: String, header: (name: String, value: String)?) -> [(name: String, value: String)] {
        var fields = [(name: "Conditions.member.1.Field", value: "path-pattern"),
                      (name: "Conditions.member.1.PathPatternConfig.Values.member.1", value: path)]
        if let header {
            fields += [(name: "Conditions.member.2.Field", value: "http-header"),
                       (name: "Conditions.member.2.HttpHeaderConfig.HttpHeaderName", value: header.name),
                       (name: "Conditions.member.2.HttpHeaderConfig.Values.member.1", value: header.value)]
        }
        return fields
    }

    /// A priority no rule of the listener has: the lowest free one from 1 for header rules (so they are matched
    /// first), the highest free one from 50,000 down for the endpoints' weighted rules.
    static func freePriority(among rules: [Rule], low: Bool) -> Int? {
        let taken = Set(rules.compactMap(\.priority))
        let candidates = low ? stride(from: 1, through: 50_000, by: 1) : stride(from: 50_000, through: 1, by: -1)
        return candidates.first { !taken.contains($0) }
    }

    func create(path: String, header: (name: String, value: String)?, forward: [(targetGroup: String, weight: Int)],
                priority: Int) async throws {
        _ = try await call("CreateRule", [(name: "ListenerArn", value: listener), (name: "Priority", value: "\(priority)")]
                           + Self.conditions(path: path, header: header) + Self.forwardAction(forward))
    }

    func modify(_ rule: String, forward: [(targetGroup: String, weight: Int)]) async throws {
        _ = try await call("ModifyRule", [(name: "RuleArn", value: rule)] + Self.forwardAction(forward))
    }
}
