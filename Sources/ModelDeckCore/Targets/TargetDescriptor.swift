/// Everything ModelDeck knows about one kind of target, in one place: its published limits (with their
/// sources), what a version must bring, the settings a deck may give it (with defaults and checks), whether it
/// needs a region, whether it splits traffic, how its invocations are priced, and how the daemon treats it.
///
/// One file per kind declares its descriptor (`LocalTarget`, `LambdaTarget`, `SageMakerServerlessTarget`,
/// `FargateTarget`, `HTTPTarget`, `SageMakerRealtimeTarget`); the driver that acts on it lives in ModelDeckTargets, declared next to the
/// driver (`TargetDrivers`). Code elsewhere asks a target's descriptor, never which kind it is.
public struct TargetDescriptor: Sendable {
    /// What a version must bring to run on a kind.
    public enum Packaging: Sendable { case command, image, commandOrImage, none }

    /// How a kind's invocations are priced from the price table (`PriceTable`).
    public enum Pricing: Sendable, Equatable {
        /// Not from invocations: someone else's bill (http).
        case none
        /// By running task time, as the price table's task-billed platform of this name (Fargate): the driver
        /// reports the task time, and invocations cost nothing apart.
        case tasks(String)
        /// As the price table's platform of this name, in the target's region and architecture.
        case platform(String)
        /// As the platform the target names in this setting (local: `price_as`), free when it names none.
        case configured(key: String)
        /// By the instance-hour, busy or not, as the price table's platform of this name prices the instance type
        /// named in `typeKey`, times the count in `countKey` (SageMaker real-time); invocations cost nothing more.
        case instances(String, typeKey: String, countKey: String)
    }

    /// Where the figures of a kind's endpoints come from.
    public enum MetricsSource: Sendable, Equatable {
        /// Measured by ModelDeck's own gateway on this machine as requests pass through it.
        case gateway
        /// Collected from the platform's own monitoring (CloudWatch), once a minute.
        case platform
        /// Measured by ModelDeck's own probes: synthetic requests on an interval, recorded apart from user traffic
        /// and pings (an endpoint someone else runs: http).
        case probes
    }

    public let kind: TargetKind
    /// One line for people: what a target of this kind is.
    public let summary: String
    /// The published limits, before any per-target setting (`limits(config:)`).
    public let limits: TargetLimits
    public let packaging: Packaging
    /// The settings a deck may give a target of this kind, besides `name`, `kind` and `region`; any other key is
    /// refused as a typo.
    public let configKeys: [ConfigKey]
    /// Whether a target must name its region (the AWS kinds). Any kind may give one (local: where it is priced).
    public let needsRegion: Bool
    /// Whether the kind can send a share of an endpoint's traffic to a second version (canary, linear).
    public let splitsTraffic: Bool
    public let pricing: Pricing
    /// Whether the driver's calls are slow network calls: the daemon then runs a deploy step in the
    /// background (so it holds up no other endpoint), retries routing at most every 15 s and checks the
    /// platform's routing for drift once a minute, instead of at every tick.
    public let isRemote: Bool
    public let metrics: MetricsSource
    /// Whether ModelDeck deploys and rolls back on this kind; false for an endpoint someone else runs (http), where
    /// `deploy` and `rollback` are refused before anything is written.
    public let controlsDeployments: Bool
    /// Whether the platform keeps a number of instances initialised on request, billed while configured
    /// (Lambda's provisioned concurrency): `modeldeck warm E --provisioned N` is refused elsewhere.
    public let provisionsConcurrency: Bool
    /// What is wrong with the environment `target` needs (an http target's header variables), as one line, or nil.
    /// `apply` asks it of its own environment; the daemon reads the variables when it starts.
    public let checkEnvironment: @Sendable (Target, [String: String]) -> String?
    /// What is wrong with an endpoint's settings on `target` beyond the limits (Fargate: a CPU and memory pair
    /// that does not exist), as one line, or nil. Part of the fit check (`FitCheck.problems(endpoint:target:)`).
    public let checkEndpoint: @Sendable (Endpoint, Target) -> String?
    /// Per-target settings that change the limits (local: `max_memory`, `gpus`).
    let adjustLimits: @Sendable (inout TargetLimits, [String: String]) -> Void

    public init(kind: TargetKind, summary: String, limits: TargetLimits, packaging: Packaging, configKeys: [ConfigKey],
                needsRegion: Bool, splitsTraffic: Bool, pricing: Pricing, isRemote: Bool, metrics: MetricsSource,
                controlsDeployments: Bool = true, provisionsConcurrency: Bool = false,
                checkEnvironment: @escaping @Sendable (Target, [String: String]) -> String? = { _, _ in nil },
                checkEndpoint: @escaping @Sendable (Endpoint, Target) -> String? = { _, _ in nil },
                adjustLimits: @escaping @Sendable (inout TargetLimits, [String: String]) -> Void = { _, _ in }) {
        self.kind = kind
        self.summary = summary
        self.limits = limits
        self.packaging = packaging
        // Every kind ModelDeck controls takes `drift:` (DriftPolicy), declared once here; an http endpoint is only
        // observed, so there is no routing of ours to drift from.
        self.configKeys = configKeys + (controlsDeployments ? [DriftPolicy.configKey(remote: isRemote)] : [])
        self.needsRegion = needsRegion
        self.splitsTraffic = splitsTraffic
        self.pricing = pricing
        self.isRemote = isRemote
        self.metrics = metrics
        self.controlsDeployments = controlsDeployments
        self.provisionsConcurrency = provisionsConcurrency
        self.checkEnvironment = checkEnvironment
        self.checkEndpoint = checkEndpoint
        self.adjustLimits = adjustLimits
    }

    /// Every kind ModelDeck knows. A new kind adds its descriptor here (and its driver to `TargetDrivers`).
    public static let all: [TargetDescriptor] = [
        LocalTarget.descriptor, LambdaTarget.descriptor, SageMakerServerlessTarget.descriptor,
        FargateTarget.descriptor, HTTPTarget.descriptor, SageMakerRealtimeTarget.descriptor,
    ]

    private static let byKind = Dictionary(uniqueKeysWithValues: all.map { ($0.kind, $0) })

    /// The descriptor of `kind`. Kinds are only made by descriptors, so every kind has one.
    static func of(_ kind: TargetKind) -> TargetDescriptor {
        guard let descriptor = byKind[kind] else { preconditionFailure("target kind '\(kind.rawValue)' has no descriptor in TargetDescriptor.all") }
        return descriptor
    }

    /// Whether the kind's endpoints are served by ModelDeck's own gateway on this machine (the daemon runs it).
    public var servedByGateway: Bool { metrics == .gateway }

    /// Whether the daemon probes the kind's endpoints on an interval (`HTTPProbe`).
    public var isProbed: Bool { metrics == .probes }

    /// Seconds between probes of `target`'s endpoints (its `probe_interval`), or nil when they are not probed.
    public func probeIntervalSeconds(of target: Target) -> Int64? {
        guard isProbed else { return nil }
        return value("probe_interval", of: target).flatMap { try? Quantity.seconds($0) }
    }

    /// The one line that refuses a deploy or rollback on a kind ModelDeck does not control, or nil.
    public func deploymentRefusal(_ target: Target, endpoint: String) -> String? {
        controlsDeployments ? nil : "endpoint '\(endpoint)' runs on target \(target.label): ModelDeck observes \(kind.rawValue) targets but does not control them; deploy and roll back where the endpoint runs"
    }

    /// The limits with a target's own settings applied.
    public func limits(config: [String: String]) -> TargetLimits {
        var limits = self.limits
        adjustLimits(&limits, config)
        return limits
    }

    /// The names of every setting a deck may give a target of this kind.
    public var configKeyNames: [String] { configKeys.map(\.name) }

    /// The setting named `name`, if the kind has one.
    public func configKey(_ name: String) -> ConfigKey? { configKeys.first { $0.name == name } }

    /// `target`'s value for `key`, else the key's default.
    public func value(_ key: String, of target: Target) -> String? {
        target.config[key] ?? configKey(key)?.defaultValue
    }

    /// What is wrong with `target`'s settings, each problem as one line naming the key (`key`: the setting at
    /// fault, nil for the target as a whole); empty when it may be applied. Pure: a deck and a test both ask it.
    public func problems(in target: Target) -> [ConfigProblem] {
        var problems: [ConfigProblem] = []
        let label = "target \(target.label)"
        if needsRegion {
            if let region = target.region {
                if !AWSNames.isRegion(region) {
                    problems.append(ConfigProblem(key: "region", message: "\(label): region '\(region)' is not an AWS region name such as eu-central-1"))
                }
            } else {
                problems.append(ConfigProblem(key: nil, message: "\(label) needs a region, e.g. region: eu-central-1"))
            }
        }
        for key in target.config.keys.sorted() where configKey(key) == nil {
            let known = configKeyNames.isEmpty ? "it takes none" : "known: \(configKeyNames.joined(separator: ", "))"
            problems.append(ConfigProblem(key: key, message: "\(label): unknown setting '\(key)' (\(known))"))
        }
        for key in configKeys {
            if let value = target.config[key.name] {
                if let wrong = key.check(value) {
                    problems.append(ConfigProblem(key: key.name, message: "\(label): \(key.name) '\(value)' \(wrong)"))
                }
            } else if key.required, !key.satisfiedBy.contains(where: { target.config[$0] != nil }) {
                let instead = key.satisfiedBy.isEmpty ? "" : " (or \(key.satisfiedBy.joined(separator: " or ")))"
                problems.append(ConfigProblem(key: nil, message: "\(label) needs \(key.name)\(instead): \(key.meaning)"))
            }
        }
        return problems
    }
}

/// One thing wrong with a target's settings.
public struct ConfigProblem: Equatable, Sendable {
    /// The setting at fault; nil when the problem is one of the target as a whole (a missing setting).
    public var key: String?
    public var message: String

    public init(key: String?, message: String) {
        self.key = key
        self.message = message
    }
}

extension Target {
    /// Everything ModelDeck knows about this target's kind.
    public var descriptor: TargetDescriptor { kind.descriptor }
}
