/// The limits of one target, from the platform's documentation (each descriptor cites its sources), so a
/// pre-flight check can refuse a version that cannot run there before anything changes.
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

    static let mb: Int64 = 1 << 20
    static let gb: Int64 = 1 << 30
}
