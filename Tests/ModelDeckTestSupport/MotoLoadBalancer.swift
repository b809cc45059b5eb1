import Foundation
import ModelDeckTargets

/// What an ecs-fargate target needs that ModelDeck does not make, made in moto: a VPC with two subnets, a
/// security group, an Application Load Balancer and its HTTP listener (answering 404 where no rule matches).
public struct MotoLoadBalancer: Sendable {
    public var listenerARN: String
    public var subnets: [String]
    public var securityGroup: String

    /// The settings of an ecs-fargate target on this load balancer, as a deck's flow mapping entries.
    public var deckSettings: String {
        "listener_arn: '\(listenerARN)', subnets: '\(subnets.joined(separator: ","))', security_groups: \(securityGroup)"
    }

    public static func make(name: String) async throws -> MotoLoadBalancer {
        let client = AWSClient(configuration: try await Moto.shared.configuration())
        let ec2 = AWSService(signingName: "ec2", endpointPrefix: "ec2")
        func ec2Call(_ action: String, _ parameters: [(name: String, value: String)], _ element: String) async throws -> String {
            let answer = try await client.query(ec2, action: action, version: "2016-11-15", parameters: parameters)
            return try text(element, in: answer.body, action: action)
        }
        func elb(_ action: String, _ parameters: [(name: String, value: String)], _ element: String) async throws -> String {
            let answer = try await client.query(.elasticLoadBalancing, action: action, version: "2015-12-01", parameters: parameters)
            return try text(element, in: answer.body, action: action)
        }
        let vpc = try await ec2Call("CreateVpc", [(name: "CidrBlock", value: "10.0.0.0/16")], "vpcId")
        var subnets: [String] = []
        for (index, zone) in ["us-east-1a", "us-east-1b"].enumerated() {
            subnets.append(try await ec2Call("CreateSubnet", [(name: "VpcId", value: vpc), (name: "CidrBlock", value: "10.0.\(index + 1).0/24"),
                                                             (name: "AvailabilityZone", value: zone)], "subnetId"))
        }
        let group = try await ec2Call("CreateSecurityGroup", [(name: "GroupName", value: name), (name: "GroupDescription", value: "modeldeck test"),
                                                             (name: "VpcId", value: vpc)], "groupId")
        let balancer = try await elb("CreateLoadBalancer", [(name: "Name", value: name), (name: "Subnets.member.1", value: subnets[0]),
                                                           (name: "Subnets.member.2", value: subnets[1]),
                                                           (name: "SecurityGroups.member.1", value: group)], "LoadBalancerArn")
        let listener = try await elb("CreateListener", [
            (name: "LoadBalancerArn", value: balancer), (name: "Protocol", value: "HTTP"), (name: "Port", value: "80"),
            (name: "DefaultActions.member.1.Type", value: "fixed-response"),
            (name: "DefaultActions.member.1.FixedResponseConfig.StatusCode", value: "404"),
        ], "ListenerArn")
        return MotoLoadBalancer(listenerARN: listener, subnets: subnets, securityGroup: group)
    }

    /// The text of the first `<element>` of an XML answer.
    static func text(_ element: String, in body: Data, action: String) throws -> String {
        let xml = String(decoding: body, as: UTF8.self)
        guard let open = xml.range(of: "<\(element)>"), let close = xml.range(of: "</\(element)>", range: open.upperBound..<xml.endIndex) else {
            throw TestFailure("moto's \(action) answered no \(element): \(xml.prefix(300))")
        }
        return String(xml[open.upperBound..<close.lowerBound])
    }
}
