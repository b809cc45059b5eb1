extension TargetKind {
    /// AWS Lambda: one function per endpoint, a published version per ModelDeck version, an alias for traffic.
    public static let awsLambda = TargetKind(declaring: "aws-lambda")
}

/// AWS Lambda, as ModelDeck drives it (the driver is `LambdaDriver` in ModelDeckTargets).
///
/// Facts relied on, from AWS's documentation:
/// - Memory 128 MB to 10,240 MB in 1 MB steps; CPU grows with memory. Timeout up to 900 s (15 minutes).
///   Deployment package: 50 MB zipped (direct upload), 250 MB unzipped including layers; a container image
///   up to 10 GB. No GPU. (https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html)
/// - An execution environment serves one request at a time: concurrency means more environments, each of
///   which may cold-start (https://docs.aws.amazon.com/lambda/latest/dg/lambda-concurrency.html).
/// - An alias points at one version and may send a weighted share to a second one
///   (`RoutingConfig.AdditionalVersionWeights`), which is how a canary splits traffic
///   (https://docs.aws.amazon.com/lambda/latest/dg/configuring-alias-routing.html).
/// - A function name is 1–64 letters, digits, hyphens or underscores; `Handler` is up to 128 characters
///   without spaces (https://docs.aws.amazon.com/lambda/latest/api/API_CreateFunction.html).
/// - Billed per request and per GB-second of duration, per 1 ms, x86_64 or arm64 at different prices
///   (https://aws.amazon.com/lambda/pricing/); the rates are in the price table (`PriceTableData`).
public enum LambdaTarget {
    /// The longest `function_prefix`: a function name is at most 64 characters and the endpoint adds at least one.
    public static let maxFunctionPrefix = 63

    public static let descriptor = TargetDescriptor(
        kind: .awsLambda,
        summary: "AWS Lambda functions, a version per model version behind the alias 'live'",
        limits: TargetLimits(memoryMB: 128...10_240, maxZippedBytes: 50 * TargetLimits.mb, maxUnzippedBytes: 250 * TargetLimits.mb,
                             maxImageBytes: 10 * TargetLimits.gb, maxTimeoutSeconds: 900, maxConcurrencyPerInstance: 1),
        // A zip with its `bootstrap` (the version's command) or a container image.
        packaging: .commandOrImage,
        configKeys: [
            ConfigKey("role_arn", meaning: "the IAM role Lambda assumes to run the function (arn:aws:iam::ACCOUNT:role/NAME)",
                      required: true, check: ConfigChecks.iamRoleARN),
            ConfigKey("function_prefix", meaning: "the start of each function's name, before the endpoint's name", default: "modeldeck-") { value in
                !value.isEmpty && value.count <= maxFunctionPrefix && AWSNames.isFunctionNamePart(value[...])
                    ? nil : "must be 1–\(maxFunctionPrefix) letters, digits, hyphens or underscores (a Lambda function name is at most 64)"
            },
            ConfigKey("architecture", meaning: "the instruction set the functions run on", default: "x86_64", check: ConfigChecks.architecture),
            // An OS-only runtime, since a ModelDeck version brings its own server (the zip's `bootstrap`).
            ConfigKey("runtime", meaning: "the runtime of zip packages", default: "provided.al2023") { value in
                !value.isEmpty && value.count <= 32 && value.allSatisfy({ $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == ".") })
                    ? nil : "must be a Lambda runtime identifier such as provided.al2023 or python3.12"
            },
            ConfigKey("handler", meaning: "the handler of zip packages", default: "bootstrap", check: ConfigChecks.token(max: 128)),
        ],
        needsRegion: true,
        splitsTraffic: true,
        pricing: .platform("aws-lambda"),
        isRemote: true,
        metrics: .platform,
        provisionsConcurrency: true
    )
}
