/// A place endpoints run: the local runtime, an AWS account and region, or someone else's URL.
public struct Target: Codable, Equatable, Sendable {
    public var name: String
    public var kind: TargetKind
    /// AWS region for the AWS kinds; for a local target priced `price_as` a platform, the region of its prices.
    public var region: String?
    /// Kind-specific settings, as the kind's descriptor lists them (`TargetDescriptor.configKeys`, with their
    /// defaults and checks). Never credentials: those come from the environment at run time.
    public var config: [String: String]

    public init(name: String, kind: TargetKind, region: String? = nil, config: [String: String] = [:]) {
        self.name = name
        self.kind = kind
        self.region = region
        self.config = config
    }

    /// The kind's published limits with this target's own settings applied.
    public var limits: TargetLimits { descriptor.limits(config: config) }

    /// The target's value for the setting `key`, else the default its kind's descriptor gives.
    public func setting(_ key: String) -> String? { descriptor.value(key, of: self) }

    /// `'lambda-eu' (aws-lambda)` — how errors name a target.
    public var label: String { "'\(name)' (\(kind.rawValue))" }

    /// Settings each kind understands (its descriptor's config keys); anything else in a deck is refused as a typo.
    public static func allowedConfigKeys(for kind: TargetKind) -> [String] { kind.descriptor.configKeyNames }
}
