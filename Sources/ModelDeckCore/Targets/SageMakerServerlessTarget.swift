extension TargetKind {
    /// SageMaker serverless inference: a model and an endpoint config per version, one endpoint per endpoint.
    public static let sagemakerServerless = TargetKind(declaring: "sagemaker-serverless")
}

/// SageMaker serverless inference, as ModelDeck drives it (the driver is `SageMakerServerlessDriver`).
///
/// Facts relied on, from AWS's documentation
/// (https://docs.aws.amazon.com/sagemaker/latest/dg/serverless-endpoints.html):
/// - Memory 1,024 MB to 6,144 MB in 1 GB steps; `MaxConcurrency` up to 200 per endpoint; a container image up
///   to 10 GB; no GPU; 60 s per invocation; cold starts apply.
/// - Feature exclusions: a serverless endpoint takes a single production variant, so a new version replaces
///   the old one all at once (blue/green), never a weighted split.
/// - An endpoint name is 1–63 letters, digits and hyphens, starting with a letter or digit
///   (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CreateEndpoint.html); the driver shortens
///   longer derived names with a hash, so a prefix needs only the characters.
/// - Billed per GB-second of inference and per GB of data in and out
///   (https://aws.amazon.com/sagemaker/pricing/); the rates are in the price table (`PriceTableData`).
public enum SageMakerServerlessTarget {
    public static let descriptor = TargetDescriptor(
        kind: .sagemakerServerless,
        summary: "SageMaker serverless inference endpoints, one version at a time",
        limits: TargetLimits(memoryMB: 1_024...6_144, memoryStepMB: 1_024, maxImageBytes: 10 * TargetLimits.gb,
                             maxTimeoutSeconds: 60, maxConcurrencyPerInstance: 1, maxInstances: 200),
        packaging: .image,
        configKeys: [
            ConfigKey.sageMakerExecutionRole, ConfigKey.sageMakerRole, ConfigKey.sageMakerEndpointPrefix,
        ],
        needsRegion: true,
        splitsTraffic: false,
        pricing: .platform("sagemaker-serverless"),
        isRemote: true,
        metrics: .platform
    )
}

extension ConfigKey {
    /// The settings both SageMaker kinds take (serverless and real-time).
    static let sageMakerExecutionRole = ConfigKey("execution_role_arn", meaning: "the IAM role SageMaker assumes to pull the image and the model data",
                                                  required: true, satisfiedBy: ["role_arn"], check: ConfigChecks.iamRoleARN)
    static let sageMakerRole = ConfigKey("role_arn", meaning: "the same as execution_role_arn, which wins when both are given",
                                         check: ConfigChecks.iamRoleARN)
    static let sageMakerEndpointPrefix = ConfigKey("endpoint_prefix", meaning: "the start of each SageMaker endpoint's name", default: "modeldeck") { value in
        !value.isEmpty && value.count <= 63 && value.first.map(\.isASCIIAlphanumeric) == true
            && value.allSatisfy({ $0.isASCIIAlphanumeric || $0 == "-" })
            ? nil : "must be 1–63 letters, digits or hyphens, starting with a letter or digit"
    }
}
