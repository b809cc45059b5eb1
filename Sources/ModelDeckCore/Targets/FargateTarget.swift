import Foundation

extension TargetKind {
    /// Amazon ECS on Fargate: a service per version behind load-balancer weights.
    public static let ecsFargate = TargetKind(declaring: "ecs-fargate")
}

/// Amazon ECS on AWS Fargate, as ModelDeck drives it (the driver is `FargateDriver` in ModelDeckTargets): each
/// version is a task definition and an ECS service, each behind its own target groups of the Application Load
/// Balancer listener the target names; the endpoint is a listener rule whose forward action weighs them.
///
/// Facts relied on, from AWS's documentation:
/// - Task sizes: each vCPU count allows a range of memory (`FargateSize`), up to 16 vCPU and 120 GB; no GPU;
///   tasks run as long as they like (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/fargate-tasks-services.html,
///   https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task_definition_parameters.html#task_size).
/// - An Application Load Balancer's forward action splits traffic between target groups by weight (0–999),
///   and a rule may match an HTTP header (https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-listeners.html,
///   https://docs.aws.amazon.com/elasticloadbalancing/latest/application/rule-condition-types.html).
/// - A cluster name is up to 255 letters, digits, hyphens and underscores
///   (https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_CreateCluster.html); `default` when none.
/// - Billed per vCPU-hour and GB-hour of running tasks, per second with a one-minute minimum
///   (https://aws.amazon.com/fargate/pricing/): by task time, not per invocation.
public enum FargateTarget {
    public static let descriptor = TargetDescriptor(
        kind: .ecsFargate,
        summary: "ECS services on Fargate, a service per version behind weighted load-balancer target groups",
        limits: TargetLimits(memoryMB: 512...122_880),
        packaging: .image,
        configKeys: [
            ConfigKey("listener_arn", meaning: "the Application Load Balancer listener whose rules route the endpoints (arn:aws:elasticloadbalancing:…:listener/app/…)",
                      required: true) { value in
                value.hasPrefix("arn:") && value.contains(":elasticloadbalancing:") && value.contains(":listener/app/") && !value.contains(" ")
                    ? nil : "must be an Application Load Balancer listener ARN, arn:aws:elasticloadbalancing:REGION:ACCOUNT:listener/app/NAME/ID/ID"
            },
            ConfigKey("subnets", meaning: "the subnets the tasks run in, comma-separated (subnet-…)", required: true) { idList($0, prefix: "subnet-") },
            ConfigKey("security_groups", meaning: "the security groups of the tasks, comma-separated (sg-…)", required: true) { idList($0, prefix: "sg-") },
            ConfigKey("cluster", meaning: "the ECS cluster the services run in", default: "default") { value in
                !value.isEmpty && value.count <= 255 && value.allSatisfy({ $0.isASCIIAlphanumeric || $0 == "-" || $0 == "_" })
                    ? nil : "must be 1–255 letters, digits, hyphens or underscores"
            },
            ConfigKey("cpu", meaning: "vCPUs of each task; by default the fewest Fargate allows for the endpoint's memory") { value in
                FargateSize.vcpu(value) == nil ? "is not a Fargate task size; use one of \(FargateSize.vcpuNames)" : nil
            },
            ConfigKey("execution_role_arn", meaning: "the task execution role ECS assumes to pull the image (arn:aws:iam::ACCOUNT:role/NAME)",
                      check: ConfigChecks.iamRoleARN),
            ConfigKey("container_port", meaning: "the port the version's image serves HTTP on", default: "8080", check: ConfigChecks.integer(in: 1...65_535)),
            ConfigKey("url", meaning: "where the listener answers, for pings (default: http:// and the load balancer's DNS name)") { value in
                (value.hasPrefix("http://") || value.hasPrefix("https://")) && !value.contains(" ") ? nil : "must be an http:// or https:// URL"
            },
            ConfigKey("architecture", meaning: "the instruction set the tasks run on", default: "x86_64", check: ConfigChecks.architecture),
        ],
        needsRegion: true,
        splitsTraffic: true,
        pricing: .tasks("ecs-fargate"),
        isRemote: true,
        metrics: .platform,
        checkEndpoint: { endpoint, target in
            FargateSize.problem(memoryMB: endpoint.memoryMB, cpu: target.config["cpu"]).map {
                "endpoint '\(endpoint.name)' on target \(target.label): \($0)"
            }
        }
    )

    /// Nil when `value` is a comma-separated list of AWS ids that start with `prefix`.
    @Sendable static func idList(_ value: String, prefix: String) -> String? {
        let ids = value.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        let good = !ids.isEmpty && ids.count <= 16 && ids.allSatisfy { id in
            id.hasPrefix(prefix) && id.count > prefix.count && id.count <= 64 && id.allSatisfy { $0.isASCIIAlphanumeric || $0 == "-" }
        }
        return good ? nil : "must be a comma-separated list of \(prefix)… ids"
    }
}

/// Fargate's task sizes: each vCPU count allows a range of memory, and only those pairs run
/// (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task_definition_parameters.html#task_size):
///
/// | vCPU | memory |
/// |---|---|
/// | 0.25 | 512 MB, 1 GB, 2 GB |
/// | 0.5 | 1–4 GB in 1 GB steps |
/// | 1 | 2–8 GB in 1 GB steps |
/// | 2 | 4–16 GB in 1 GB steps |
/// | 4 | 8–30 GB in 1 GB steps |
/// | 8 | 16–60 GB in 4 GB steps |
/// | 16 | 32–120 GB in 8 GB steps |
///
/// The fit check refuses any other pair; a cost estimate prices the smallest size that fits.
public enum FargateSize {
    /// (vCPU, allowed memory in MB).
    static let sizes: [(vcpu: Decimal, memoryMB: [Int])] = [
        (Decimal(string: "0.25")!, [512, 1_024, 2_048]),
        (Decimal(string: "0.5")!, Array(stride(from: 1_024, through: 4_096, by: 1_024))),
        (1, Array(stride(from: 2_048, through: 8_192, by: 1_024))),
        (2, Array(stride(from: 4_096, through: 16_384, by: 1_024))),
        (4, Array(stride(from: 8_192, through: 30_720, by: 1_024))),
        (8, Array(stride(from: 16_384, through: 61_440, by: 4_096))),
        (16, Array(stride(from: 32_768, through: 122_880, by: 8_192))),
    ]

    static var vcpuNames: String { sizes.map { "\($0.vcpu)" }.joined(separator: ", ") }

    /// The vCPU count `text` names (`0.25`, `1`, `16`), if Fargate has it.
    public static func vcpu(_ text: String) -> Decimal? {
        guard let value = Decimal(string: text, locale: Locale(identifier: "en_US_POSIX")),
              text.allSatisfy({ $0.isASCIIDigit || $0 == "." }) else { return nil }
        return sizes.first { $0.vcpu == value }?.vcpu
    }

    /// The smallest size whose memory is at least `memoryMB` (what a cost estimate prices).
    public static func smallest(fitting memoryMB: Int) -> (vcpu: Decimal, memoryMB: Int)? {
        for size in sizes {
            if let memory = size.memoryMB.first(where: { $0 >= memoryMB }) { return (size.vcpu, memory) }
        }
        return nil
    }

    /// The vCPUs of a task of exactly `memoryMB`: `cpu` when given, else the fewest that allow that memory; nil
    /// when the pair does not exist.
    public static func vcpu(memoryMB: Int, cpu: String?) -> Decimal? {
        if let cpu {
            guard let vcpu = vcpu(cpu), sizes.contains(where: { $0.vcpu == vcpu && $0.memoryMB.contains(memoryMB) }) else { return nil }
            return vcpu
        }
        return sizes.first { $0.memoryMB.contains(memoryMB) }?.vcpu
    }

    /// ECS's CPU units (1 vCPU = 1,024), as `RegisterTaskDefinition` takes them.
    public static func cpuUnits(_ vcpu: Decimal) -> Int { NSDecimalNumber(decimal: vcpu * 1_024).intValue }

    /// Why a task of `memoryMB` (with `cpu` vCPUs, or the fewest that fit) cannot run on Fargate, or nil.
    public static func problem(memoryMB: Int, cpu: String?) -> String? {
        guard vcpu(memoryMB: memoryMB, cpu: cpu) == nil else { return nil }
        let memory = Format.megabytes(memoryMB)
        if let cpu, let vcpu = vcpu(cpu), let size = sizes.first(where: { $0.vcpu == vcpu }) {
            return "Fargate has no task of \(cpu) vCPU with \(memory); \(cpu) vCPU takes \(choices(size.memoryMB))"
        }
        if let cpu, vcpu(cpu) == nil { return "cpu '\(cpu)' is not a Fargate task size; use one of \(vcpuNames)" }
        return "Fargate has no task with \(memory) of memory; it takes 512 MB, 1 GB, 2 GB, then whole GB up to 30 GB, 4 GB steps up to 60 GB and 8 GB steps up to 120 GB"
    }

    /// `1 GB–4 GB in 1 GB steps`, or the values themselves when they are not evenly spaced.
    private static func choices(_ memory: [Int]) -> String {
        let steps = Set(zip(memory, memory.dropFirst()).map { $1 - $0 })
        guard steps.count == 1, let step = steps.first, let first = memory.first, let last = memory.last else {
            return memory.map(Format.megabytes).joined(separator: ", ")
        }
        return "\(Format.megabytes(first))–\(Format.megabytes(last)) in \(Format.megabytes(step)) steps"
    }
}
