/// A place endpoints run: the local runtime, an AWS account and region, or someone else's URL.
public struct Target: Codable, Equatable, Sendable {
    public var name: String
    public var kind: TargetKind
    /// AWS region for the AWS kinds; for a local target priced `price_as` a platform, the region of its prices.
    public var region: String?
    /// Kind-specific settings: `url` (http), `port` and `host` (local gateway), `max_memory`, `gpus` (local),
    /// `price_as` and `architecture` (local: price invocations as if on that platform, see `TargetPricing`);
    /// aws-lambda: `role_arn`, `function_prefix`, `architecture`, and `runtime`/`handler` for zip packages.
    /// Never credentials: those come from the environment at run time.
    public var config: [String: String]

    public init(name: String, kind: TargetKind, region: String? = nil, config: [String: String] = [:]) {
        self.name = name
        self.kind = kind
        self.region = region
        self.config = config
    }

    /// The kind's published limits with this target's own settings applied.
    public var limits: TargetLimits {
        var limits = TargetLimits.defaults(for: kind)
        if kind == .local {
            if let text = config["max_memory"], let mb = try? Quantity.megabytes(text) {
                limits.memoryMB = limits.memoryMB.lowerBound...max(limits.memoryMB.lowerBound, mb)
            }
            if let text = config["gpus"], let gpus = Int(text) { limits.gpus = gpus }
        }
        return limits
    }

    /// `'lambda-eu' (aws-lambda)` — how errors name a target.
    public var label: String { "'\(name)' (\(kind.rawValue))" }

    /// Settings each kind understands; anything else in a deck is refused as a typo.
    public static func allowedConfigKeys(for kind: TargetKind) -> [String] {
        switch kind {
        case .local: ["host", "port", "max_memory", "gpus", "price_as", "architecture"]
        case .awsLambda: ["role_arn", "function_prefix", "architecture", "runtime", "handler"]
        case .sagemakerServerless: ["role_arn", "execution_role_arn", "endpoint_prefix"]
        case .ecsFargate: ["cluster", "architecture"]
        case .http: ["url"]
        }
    }
}
