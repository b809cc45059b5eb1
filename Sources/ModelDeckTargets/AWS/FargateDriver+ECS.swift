import AsyncHTTPClient
import Foundation
import ModelDeckCore
import NIOCore

// ECS: the cluster, task definitions, services and their tasks.
extension FargateDriver {
    func ecs(_ operation: String, _ body: [String: AnyEncodable]) async throws -> AWSResponse {
        try await client.json(.ecs, targetPrefix: Self.ecsPrefix, operation: operation, body)
    }

    struct ServiceDescription: Decodable {
        var serviceName: String
        var status: String
        var desiredCount: Int
        var runningCount: Int
    }

    /// The services named (missing ones left out, all of them when the cluster is missing), ten a call as
    /// `DescribeServices` takes them.
    func describeServices(_ names: [String]) async throws -> [ServiceDescription] {
        struct Answer: Decodable { var services: [ServiceDescription] }
        var found: [ServiceDescription] = []
        for start in stride(from: 0, to: names.count, by: 10) {
            let chunk = Array(names[start..<min(start + 10, names.count)])
            do {
                found += try await ecs("DescribeServices", ["cluster": AnyEncodable(cluster), "services": AnyEncodable(chunk)])
                    .decode(Answer.self, operation: "ecs:DescribeServices").services
            } catch let error as AWSError where error.code == "ClusterNotFoundException" {
                return []
            }
        }
        return found
    }

    /// Makes the target's cluster when ECS has no active one of that name (an account has no `default` until made).
    func ensureCluster() async throws {
        struct Answer: Decodable { struct Cluster: Decodable { var status: String }; var clusters: [Cluster] }
        let found = try await ecs("DescribeClusters", ["clusters": AnyEncodable([cluster])]).decode(Answer.self, operation: "ecs:DescribeClusters")
        if !found.clusters.contains(where: { $0.status == "ACTIVE" }) {
            _ = try await ecs("CreateCluster", ["clusterName": AnyEncodable(cluster)])
        }
    }

    /// The task definition of `family` for this image and size: the latest revision when it matches, else a new one.
    func ensureTaskDefinition(family: String, image: String, version: ModelVersion, endpoint: Endpoint) async throws -> String {
        struct Answer: Decodable {
            struct Definition: Decodable {
                struct Container: Decodable { var image: String }
                var taskDefinitionArn: String
                var cpu: String?
                var memory: String?
                var containerDefinitions: [Container]
            }
            var taskDefinition: Definition
        }
        let cpu = "\(FargateSize.cpuUnits(try vcpu(endpoint)))", memory = "\(endpoint.memoryMB)"
        do {
            let current = try await ecs("DescribeTaskDefinition", ["taskDefinition": AnyEncodable(family)])
                .decode(Answer.self, operation: "ecs:DescribeTaskDefinition").taskDefinition
            if current.cpu == cpu, current.memory == memory, current.containerDefinitions.first?.image == image { return current.taskDefinitionArn }
        } catch let error as AWSError where error.code == "ClientException" || error.kind == .notFound {
            // No revision yet (ECS answers a ClientException).
        }
        var body: [String: AnyEncodable] = [
            "family": AnyEncodable(family), "requiresCompatibilities": AnyEncodable(["FARGATE"]), "networkMode": AnyEncodable("awsvpc"),
            "cpu": AnyEncodable(cpu), "memory": AnyEncodable(memory),
            "runtimePlatform": AnyEncodable(["operatingSystemFamily": "LINUX",
                                             "cpuArchitecture": setting("architecture") == "arm64" ? "ARM64" : "X86_64"]),
            "containerDefinitions": AnyEncodable([[
                "name": AnyEncodable("model"), "image": AnyEncodable(image), "essential": AnyEncodable(true),
                "portMappings": AnyEncodable([["containerPort": containerPort]]),
                "environment": AnyEncodable([["name": "PORT", "value": "\(containerPort)"], ["name": "MODELDECK_VERSION", "value": version.id],
                                             ["name": "MODELDECK_ENDPOINT", "value": endpoint.name]]),
            ]]),
        ]
        if let role = target.config["execution_role_arn"] { body["executionRoleArn"] = AnyEncodable(role) }
        struct Registered: Decodable { struct Definition: Decodable { var taskDefinitionArn: String }; var taskDefinition: Definition }
        return try await ecs("RegisterTaskDefinition", body).decode(Registered.self, operation: "ecs:RegisterTaskDefinition").taskDefinition.taskDefinitionArn
    }

    /// The service's desired count and its scaling bounds: `min_instances` (at least one)…`max_instances` while
    /// it takes traffic, zero when it does not.
    func scale(_ service: String, endpoint: Endpoint, serving: Bool) async throws {
        let low = serving ? Self.desiredCount(endpoint) : 0, high = serving ? max(endpoint.maxInstances, low) : 0
        _ = try await client.json(.applicationAutoScaling, targetPrefix: Self.scalingPrefix, operation: "RegisterScalableTarget", [
            "ServiceNamespace": AnyEncodable("ecs"), "ResourceId": AnyEncodable("service/\(cluster)/\(service)"),
            "ScalableDimension": AnyEncodable("ecs:service:DesiredCount"), "MinCapacity": AnyEncodable(low), "MaxCapacity": AnyEncodable(high),
        ])
        _ = try await ecs("UpdateService", ["cluster": AnyEncodable(cluster), "service": AnyEncodable(service), "desiredCount": AnyEncodable(low)])
    }

    /// Waits until `service` runs a task, so no traffic is sent where nothing answers.
    func waitRunning(_ service: String) async throws {
        let deadline = ContinuousClock.now + runningTimeout
        while true {
            guard let found = try await describeServices([service]).first, found.status == "ACTIVE" else {
                throw ModelDeckError("ECS service \(service) disappeared from cluster \(cluster) while it was starting")
            }
            if found.runningCount > 0 { return }
            guard ContinuousClock.now < deadline else {
                throw ModelDeckError("ECS service \(service) runs no task after \(runningTimeout) (desired \(found.desiredCount)); check its events in the ECS console")
            }
            try await Task.sleep(for: pollInterval)
        }
    }

    /// The service's tasks, running and recently stopped (ECS shows stopped tasks for about an hour), as billed.
    func tasks(of service: String) async throws -> [FargateTask] {
        struct Listed: Decodable { var taskArns: [String]; var nextToken: String? }
        struct Described: Decodable {
            struct Task: Decodable { var pullStartedAt: Double?; var startedAt: Double?; var stoppedAt: Double? }
            var tasks: [Task]
        }
        var arns: [String] = []
        for status in ["RUNNING", "STOPPED"] {
            var token: String?
            repeat {
                var body = ["cluster": AnyEncodable(cluster), "serviceName": AnyEncodable(service), "desiredStatus": AnyEncodable(status)]
                if let token { body["nextToken"] = AnyEncodable(token) }
                let page = try await ecs("ListTasks", body).decode(Listed.self, operation: "ecs:ListTasks")
                arns += page.taskArns
                token = page.nextToken
            } while token != nil
        }
        var tasks: [FargateTask] = []
        for start in stride(from: 0, to: arns.count, by: 100) {
            let described = try await ecs("DescribeTasks", ["cluster": AnyEncodable(cluster), "tasks": AnyEncodable(Array(arns[start..<min(start + 100, arns.count)]))])
                .decode(Described.self, operation: "ecs:DescribeTasks")
            for task in described.tasks {
                guard let from = task.pullStartedAt ?? task.startedAt else { continue }  // not started: not billed
                tasks.append(FargateTask(billedFrom: Date(timeIntervalSince1970: from), stopped: task.stoppedAt.map { Date(timeIntervalSince1970: $0) }))
            }
        }
        return tasks
    }
}
