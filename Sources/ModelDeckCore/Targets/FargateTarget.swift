extension TargetKind {
    /// Amazon ECS on Fargate: a service per version behind load-balancer weights (no driver yet).
    public static let ecsFargate = TargetKind(declaring: "ecs-fargate")
}

/// Amazon ECS on AWS Fargate. ModelDeck has no driver for it yet: a target may be declared and fit-checked,
/// and a deploy to it fails saying so.
///
/// Facts relied on, from AWS's documentation:
/// - Task sizes from 512 MB up to 120 GB of memory (16 vCPU); no GPU; tasks run as long as they like
///   (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/fargate-tasks-services.html).
/// - An Application Load Balancer's forward action splits traffic between target groups by weight
///   (https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-listeners.html).
/// - A cluster name is up to 255 letters, digits, hyphens and underscores
///   (https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_CreateCluster.html); `default` when none.
/// - Billed per vCPU-hour and GB-hour of running tasks, per second with a one-minute minimum
///   (https://aws.amazon.com/fargate/pricing/): by task time, not per invocation.
public enum FargateTarget {
    public static let descriptor = TargetDescriptor(
        kind: .ecsFargate,
        summary: "ECS services on Fargate behind weighted load-balancer target groups (no driver yet)",
        limits: TargetLimits(memoryMB: 512...122_880),
        packaging: .image,
        configKeys: [
            ConfigKey("cluster", meaning: "the ECS cluster the services run in", default: "default") { value in
                !value.isEmpty && value.count <= 255 && value.allSatisfy({ $0.isASCIIAlphanumeric || $0 == "-" || $0 == "_" })
                    ? nil : "must be 1–255 letters, digits, hyphens or underscores"
            },
            ConfigKey("architecture", meaning: "the instruction set the tasks run on", default: "x86_64", check: ConfigChecks.architecture),
        ],
        needsRegion: true,
        splitsTraffic: true,
        pricing: .none,
        isRemote: true,
        metrics: .platform
    )
}
