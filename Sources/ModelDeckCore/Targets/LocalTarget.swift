extension TargetKind {
    /// A real serverless runtime on this machine: ModelDeck's gateway plus on-demand model-server processes.
    public static let local = TargetKind(declaring: "local")
}

/// The local target: the embedded default runtime. Its endpoints are served by ModelDeck's own gateway on this
/// machine (the daemon runs it), so its calls are fast and local and its figures are measured at the gateway.
public enum LocalTarget {
    public static let descriptor = TargetDescriptor(
        kind: .local,
        summary: "model-server processes on this machine, behind ModelDeck's gateway",
        // One machine: 64 MB to 16 GB by default; the deck may raise memory (`max_memory`) and declare GPUs (`gpus`).
        limits: TargetLimits(memoryMB: 64...16_384),
        // A version runs as a command that serves HTTP on $PORT (the Cloud Run container contract,
        // https://cloud.google.com/run/docs/container-contract#port).
        packaging: .command,
        configKeys: [
            ConfigKey("host", meaning: "the address the gateway listens on", default: "127.0.0.1", check: ConfigChecks.token(max: 253)),
            ConfigKey("port", meaning: "the port the gateway listens on", default: "8765", check: ConfigChecks.integer(in: 0...65_535)),
            ConfigKey("max_memory", meaning: "the most memory one instance may be given on this machine") { value in
                (try? Quantity.megabytes(value, what: "max_memory")) == nil ? "must be a size in whole megabytes, such as 32GB or 2048MB" : nil
            },
            ConfigKey("gpus", meaning: "the GPUs one instance may use on this machine", default: "0",
                      check: ConfigChecks.integer(in: 0...1_024)),
            ConfigKey("price_as", meaning: "the platform of the price table whose prices the target's invocations are priced at",
                      check: ConfigChecks.token(max: 64)),
            ConfigKey("architecture", meaning: "the architecture the invocations are priced at (with price_as)", default: "x86_64",
                      check: ConfigChecks.architecture),
        ],
        needsRegion: false,
        splitsTraffic: true,
        // Free unless `price_as` names a per-invocation platform; then priced as if on it, in the target's region.
        pricing: .configured(key: "price_as"),
        isRemote: false,
        metrics: .gateway,
        adjustLimits: { limits, config in
            if let text = config["max_memory"], let mb = try? Quantity.megabytes(text) {
                limits.memoryMB = limits.memoryMB.lowerBound...max(limits.memoryMB.lowerBound, mb)
            }
            if let text = config["gpus"], let gpus = Int(text), gpus >= 0 { limits.gpus = gpus }
        }
    )
}
