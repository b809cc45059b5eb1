/// The platforms ModelDeck drives. Each kind states its limits so a pre-flight check can refuse a version
/// that cannot run there before anything changes.
public enum TargetKind: String, Codable, CaseIterable, Sendable {
    /// A real serverless runtime on this machine: gateway + on-demand model-server processes.
    case local
    case awsLambda = "aws-lambda"
    case sagemakerServerless = "sagemaker-serverless"
    case ecsFargate = "ecs-fargate"
    /// An endpoint someone else runs: ModelDeck observes and pings it, but cannot deploy to it.
    case http

    public static var names: String { allCases.map(\.rawValue).joined(separator: ", ") }

    /// What a version must bring to run on this kind.
    public enum Packaging: Sendable { case command, image, commandOrImage, none }

    public var packaging: Packaging {
        switch self {
        case .local: .command
        case .awsLambda: .commandOrImage
        case .sagemakerServerless, .ecsFargate: .image
        case .http: .none
        }
    }

    /// Whether the kind can send a share of an endpoint's traffic to a second version (canary, linear).
    /// SageMaker serverless endpoints take a single production variant
    /// (https://docs.aws.amazon.com/sagemaker/latest/dg/serverless-endpoints.html, feature exclusions), so a
    /// new version replaces the old one all at once there.
    public var splitsTraffic: Bool {
        switch self {
        case .local, .awsLambda, .ecsFargate: true
        case .sagemakerServerless, .http: false
        }
    }
}

/// The limits of one target, from the platform's documentation (see ../shared/DOMAIN.md for sources).
public struct TargetLimits: Equatable, Sendable {
    /// Memory one instance may be given, in MB (MiB, as AWS counts them).
    public var memoryMB: ClosedRange<Int>
    /// Memory must be a multiple of this many MB above the minimum (SageMaker serverless: 1 GB steps).
    public var memoryStepMB: Int
    /// A zip package's size as uploaded (Lambda: 50 MB).
    public var maxZippedBytes: Int64?
    /// A zip package's size once unpacked, layers included (Lambda: 250 MB).
    public var maxUnzippedBytes: Int64?
    /// A container image's size (Lambda and SageMaker serverless: 10 GB).
    public var maxImageBytes: Int64?
    /// GPUs one instance can have; 0 means none.
    public var gpus: Int
    /// The longest one request may run, in seconds (Lambda: 15 minutes).
    public var maxTimeoutSeconds: Int64?
    /// Requests one instance serves at once (Lambda: one per execution environment).
    public var maxConcurrencyPerInstance: Int?
    /// Instances (or concurrent executions) one endpoint may have (SageMaker serverless MaxConcurrency: 200).
    public var maxInstances: Int?

    public init(memoryMB: ClosedRange<Int>, memoryStepMB: Int = 1, maxZippedBytes: Int64? = nil,
                maxUnzippedBytes: Int64? = nil, maxImageBytes: Int64? = nil, gpus: Int = 0,
                maxTimeoutSeconds: Int64? = nil, maxConcurrencyPerInstance: Int? = nil, maxInstances: Int? = nil) {
        self.memoryMB = memoryMB
        self.memoryStepMB = memoryStepMB
        self.maxZippedBytes = maxZippedBytes
        self.maxUnzippedBytes = maxUnzippedBytes
        self.maxImageBytes = maxImageBytes
        self.gpus = gpus
        self.maxTimeoutSeconds = maxTimeoutSeconds
        self.maxConcurrencyPerInstance = maxConcurrencyPerInstance
        self.maxInstances = maxInstances
    }

    private static let mb: Int64 = 1 << 20
    private static let gb: Int64 = 1 << 30

    /// Published limits of a kind, before any per-target setting.
    public static func defaults(for kind: TargetKind) -> TargetLimits {
        switch kind {
        case .local:
            // One machine: the deck may raise memory (`max_memory`) and declare GPUs (`gpus`).
            return TargetLimits(memoryMB: 64...16_384)
        case .awsLambda:
            // Lambda quotas: 128–10,240 MB in 1 MB steps; zip 50 MB zipped / 250 MB unzipped; image 10 GB;
            // no GPU; 900 s timeout; one request per execution environment.
            // https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html
            return TargetLimits(memoryMB: 128...10_240, maxZippedBytes: 50 * mb, maxUnzippedBytes: 250 * mb,
                                maxImageBytes: 10 * gb, maxTimeoutSeconds: 900, maxConcurrencyPerInstance: 1)
        case .sagemakerServerless:
            // Serverless inference: 1,024–6,144 MB in 1 GB steps, MaxConcurrency up to 200 per endpoint,
            // image up to 10 GB, no GPU, 60 s per invocation.
            // https://docs.aws.amazon.com/sagemaker/latest/dg/serverless-endpoints.html
            return TargetLimits(memoryMB: 1_024...6_144, memoryStepMB: 1_024, maxImageBytes: 10 * gb,
                                maxTimeoutSeconds: 60, maxConcurrencyPerInstance: 1, maxInstances: 200)
        case .ecsFargate:
            // Fargate task sizes: 512 MB to 120 GB, no GPU; tasks run as long as they like.
            // https://docs.aws.amazon.com/AmazonECS/latest/developerguide/fargate-tasks-services.html
            return TargetLimits(memoryMB: 512...122_880)
        case .http:
            return TargetLimits(memoryMB: 0...Int(Int32.max))
        }
    }
}
