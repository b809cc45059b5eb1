/// What the registry holds, as far as `apply` is concerned.
public struct RegistrySnapshot: Sendable {
    public var targets: [String: Target] = [:]
    public var models: [String: Model] = [:]
    public var versions: [String: ModelVersion] = [:]
    public var endpoints: [String: Endpoint] = [:]
    /// Endpoint → version id → desired weight.
    public var traffic: [String: [String: Int]] = [:]
    /// Endpoint → its deploy in flight, if any.
    public var activeDeployments: [String: Deployment] = [:]
    public var notifications: [String: NotificationChannel] = [:]

    public init() {}
}

/// One change `apply` makes; `summary` is the line `--dry-run` prints.
public enum DeckChange: Equatable, Sendable {
    case createTarget(Target)
    case updateTarget(old: Target, new: Target)
    case createModel(Model)
    case updateModel(old: Model, new: Model)
    case createVersion(ModelVersion)
    case createEndpoint(Endpoint, traffic: [String: Int])
    case updateEndpoint(old: Endpoint, new: Endpoint)
    case createNotification(NotificationChannel)
    case updateNotification(old: NotificationChannel, new: NotificationChannel)

    public var summary: String {
        switch self {
        case .createTarget(let target):
            "+ target \(target.name) (\(target.kind.rawValue)\(target.region.map { ", \($0)" } ?? ""))"
        case .updateTarget(let old, let new):
            "~ target \(new.name): " + Self.differences(old: old, new: new, fields: [
                ("region", { $0.region ?? "-" }),
                ("config", { $0.config.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",") }),
            ])
        case .createModel(let model): "+ model \(model.name)"
        case .updateModel(let old, let new):
            "~ model \(new.name): " + Self.differences(old: old, new: new, fields: [("description", { $0.description ?? "-" })])
        case .createVersion(let version):
            "+ version \(version.id) (\(Format.bytes(version.sizeBytes)), needs \(Format.megabytes(version.memoryMB)), \(version.digest.prefix(19))…)"
        case .createEndpoint(let endpoint, let traffic):
            "+ endpoint \(endpoint.name) on \(endpoint.target)"
                + (traffic.isEmpty ? ", no traffic yet" : ", traffic " + traffic.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)%" }.joined(separator: ", "))
        case .updateEndpoint(let old, let new):
            "~ endpoint \(new.name): " + Self.differences(old: old, new: new, fields: Self.endpointFields)
        case .createNotification(let channel):
            "+ notification \(channel.name) (\(channel.format.rawValue) to \(channel.destinationSummary))"
        case .updateNotification(let old, let new):
            "~ notification \(new.name): " + Self.differences(old: old, new: new, fields: Self.notificationFields)
        }
    }

    public var eventKind: String {
        switch self {
        case .createTarget: "apply.target.created"
        case .updateTarget: "apply.target.updated"
        case .createModel: "apply.model.created"
        case .updateModel: "apply.model.updated"
        case .createVersion: "apply.version.created"
        case .createEndpoint: "apply.endpoint.created"
        case .updateEndpoint: "apply.endpoint.updated"
        case .createNotification: "apply.notification.created"
        case .updateNotification: "apply.notification.updated"
        }
    }

    public var endpointName: String? {
        switch self {
        case .createEndpoint(let endpoint, _): endpoint.name
        case .updateEndpoint(_, let new): new.name
        default: nil
        }
    }

    static var endpointFields: [(String, (Endpoint) -> String)] { [
        ("memory", { Format.megabytes($0.memoryMB) }),
        ("concurrency", { "\($0.concurrency)" }),
        ("min_instances", { "\($0.minInstances)" }),
        ("max_instances", { "\($0.maxInstances)" }),
        ("idle_timeout", { Format.duration(seconds: $0.idleTimeoutSeconds) }),
        ("slo p99", { Format.duration(milliseconds: $0.slo.p99Milliseconds) }),
        ("slo error_rate", { Format.percent(ppm: $0.slo.errorRatePPM) }),
        ("daily_budget", { $0.dailyBudgetMicros.map { Format.dollars(micros: $0) } ?? "none" }),
        ("keep_warm", { $0.keepWarm.summary }),
        ("production", { "\($0.production)" }),
        ("rollout", { $0.rollout ?? "none" }),
        ("gate", { $0.gate?.summary ?? "default" }),
    ] }

    static var notificationFields: [(String, (NotificationChannel) -> String)] { [
        ("destination", { $0.destinationSummary }),
        ("format", { $0.format.rawValue }),
        ("events", { $0.events.joined(separator: ",") }),
        ("endpoints", { $0.endpoints.isEmpty ? "all" : $0.endpoints.joined(separator: ",") }),
        ("production", { "\($0.productionOnly)" }),
        ("headers", { $0.headers.keys.sorted().joined(separator: ",").nonEmpty ?? "-" }),
    ] }

    private static func differences<T>(old: T, new: T, fields: [(String, (T) -> String)]) -> String {
        fields.compactMap { name, show in
            show(old) == show(new) ? nil : "\(name) \(show(old)) → \(show(new))"
        }.joined(separator: ", ")
    }
}

/// The changes a deck makes to a registry, plus notes on what it deliberately leaves alone.
public struct ApplyPlan: Equatable, Sendable {
    public var changes: [DeckChange] = []
    /// Things the deck says that apply does not do, with what to run instead.
    public var notes: [String] = []

    public var isEmpty: Bool { changes.isEmpty }

    /// Validates `deck` against `registry` and lists the changes, refusing the whole deck at the first problem.
    ///
    /// Pure: the same inputs give the same plan. Traffic is set when an endpoint is created; afterwards
    /// traffic moves only through `deploy` and `rollback`, which are gated and audited, so a re-applied
    /// deck never undoes a deployment by accident (a note says so when the deck and registry differ).
    public static func make(deck: Deck, registry: RegistrySnapshot) throws -> ApplyPlan {
        var plan = ApplyPlan()
        var targets = registry.targets
        var models = registry.models
        var versions = registry.versions

        var seen = Set<String>()
        for declared in deck.targets {
            let target = declared.value
            guard seen.insert(target.name).inserted else {
                throw ModelDeckError("\(declared.location): target '\(target.name)' is declared twice")
            }
            if let old = registry.targets[target.name] {
                guard old.kind == target.kind else {
                    throw ModelDeckError("\(declared.location): target '\(target.name)' is \(old.kind.rawValue) in the registry; a target cannot change kind (declare a new target)")
                }
                if old != target { plan.changes.append(.updateTarget(old: old, new: target)) }
            } else {
                plan.changes.append(.createTarget(target))
            }
            targets[target.name] = target
        }

        seen = []
        for declared in deck.models {
            let model = declared.value
            guard seen.insert(model.name).inserted else {
                throw ModelDeckError("\(declared.location): model '\(model.name)' is declared twice")
            }
            if let old = registry.models[model.name] {
                if old != model { plan.changes.append(.updateModel(old: old, new: model)) }
            } else {
                plan.changes.append(.createModel(model))
            }
            models[model.name] = model
        }

        seen = []
        for declared in deck.versions {
            let version = declared.value
            guard seen.insert(version.id).inserted else {
                throw ModelDeckError("\(declared.location): version '\(version.id)' is declared twice")
            }
            if let old = registry.versions[version.id] {
                try checkSameVersion(old: old, new: version, location: declared.location)
            } else {
                plan.changes.append(.createVersion(version))
            }
            versions[version.id] = version
        }

        seen = []
        for declared in deck.endpoints {
            var endpoint = declared.value.endpoint
            let here = declared.location
            guard seen.insert(endpoint.name).inserted else {
                throw ModelDeckError("\(here): endpoint '\(endpoint.name)' is declared twice")
            }
            guard models[endpoint.model] != nil else {
                throw ModelDeckError("\(here): endpoint '\(endpoint.name)' uses unknown model '\(endpoint.model)'\(known(models.keys))")
            }
            guard let target = targets[endpoint.target] else {
                throw ModelDeckError("\(here): endpoint '\(endpoint.name)' uses unknown target '\(endpoint.target)'\(known(targets.keys))")
            }
            if let old = registry.endpoints[endpoint.name], old.model == endpoint.model, old.target == endpoint.target {
                endpoint = declared.value.merged(over: old)
                guard endpoint.minInstances <= endpoint.maxInstances else {
                    throw ModelDeckError("\(here): endpoint '\(endpoint.name)': min_instances \(endpoint.minInstances) is more than max_instances \(endpoint.maxInstances)")
                }
            }
            if let problem = FitCheck.problems(endpoint: endpoint, target: target).first {
                throw ModelDeckError("\(here): \(problem)")
            }
            var traffic: [String: Int] = [:]
            for (name, weight) in declared.value.traffic {
                let (model, label) = ModelVersion.parse(name, defaultModel: endpoint.model)
                guard model == endpoint.model else {
                    throw ModelDeckError("\(here): endpoint '\(endpoint.name)' serves model '\(endpoint.model)'; traffic cannot go to '\(name)'")
                }
                let id = ModelVersion.id(model: model, version: label)
                guard let version = versions[id] else {
                    let labels = versions.values.filter { $0.model == model }.map(\.version)
                    throw ModelDeckError("\(here): endpoint '\(endpoint.name)' sends traffic to unknown version '\(id)'\(known(labels))")
                }
                // On a target ModelDeck only observes (http), traffic names what runs there: nothing is deployed.
                if weight > 0, target.descriptor.controlsDeployments,
                   let problem = FitCheck.problems(version: version, endpoint: endpoint, target: target).first {
                    throw ModelDeckError("\(here): \(problem)")
                }
                traffic[id] = weight
            }
            if !target.descriptor.controlsDeployments, traffic.filter({ $0.value > 0 }).count != 1, registry.endpoints[endpoint.name] == nil {
                throw ModelDeckError("\(here): endpoint '\(endpoint.name)' runs on target \(target.label), which ModelDeck observes but does not control: name the one version running there, e.g. traffic: {v1: 100}")
            }

            if let old = registry.endpoints[endpoint.name] {
                guard old.model == endpoint.model else {
                    throw ModelDeckError("\(here): endpoint '\(endpoint.name)' serves model '\(old.model)'; it cannot switch to '\(endpoint.model)' (declare a new endpoint)")
                }
                guard old.target == endpoint.target else {
                    throw ModelDeckError("\(here): endpoint '\(endpoint.name)' runs on target '\(old.target)'; moving it to '\(endpoint.target)' is not supported (declare a new endpoint)")
                }
                // Versions live now must still fit the endpoint's new settings (e.g. less memory).
                for (id, weight) in registry.traffic[endpoint.name] ?? [:] where weight > 0 && target.descriptor.controlsDeployments {
                    if let version = versions[id],
                       let problem = FitCheck.problems(version: version, endpoint: endpoint, target: target).first {
                        throw ModelDeckError("\(here): \(problem)")
                    }
                }
                if old != endpoint { plan.changes.append(.updateEndpoint(old: old, new: endpoint)) }
                let live = (registry.traffic[endpoint.name] ?? [:]).filter { $0.value > 0 }
                if !traffic.isEmpty && traffic.filter({ $0.value > 0 }) != live {
                    let liveText = live.isEmpty ? "none" : live.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)%" }.joined(separator: ", ")
                    plan.notes.append("endpoint '\(endpoint.name)': traffic in the deck differs from the registry (\(liveText)); apply sets traffic only on new endpoints — use `modeldeck deploy` or `modeldeck rollback` to move it")
                }
            } else {
                plan.changes.append(.createEndpoint(endpoint, traffic: traffic.filter { $0.value > 0 }))
            }
        }
        seen = []
        let endpointNames = Set(registry.endpoints.keys).union(deck.endpoints.map(\.value.endpoint.name))
        for declared in deck.notifications {
            let channel = declared.value
            guard seen.insert(channel.name).inserted else {
                throw ModelDeckError("\(declared.location): notification '\(channel.name)' is declared twice")
            }
            for name in channel.endpoints where !endpointNames.contains(name) {
                throw ModelDeckError("\(declared.location): notification '\(channel.name)' filters on unknown endpoint '\(name)'\(known(endpointNames))")
            }
            if let old = registry.notifications[channel.name] {
                if old != channel { plan.changes.append(.updateNotification(old: old, new: channel)) }
            } else {
                plan.changes.append(.createNotification(channel))
            }
        }
        return plan
    }

    private static func known<S: Sequence>(_ names: S) -> String where S.Element == String {
        let sorted = names.sorted()
        return sorted.isEmpty ? "" : " (known: \(sorted.joined(separator: ", ")))"
    }

    /// Versions are immutable: the same id must mean the same artifact (digest) and the same needs. Where the
    /// artifact or the deck sits on disk, and the notes, may differ: a moved checkout re-applies cleanly.
    private static func checkSameVersion(old: ModelVersion, new: ModelVersion, location: String) throws {
        let id = "version '\(new.id)'"
        guard old.digest == new.digest else {
            throw ModelDeckError("\(location): \(id) is immutable: the registry has digest \(old.digest), the deck says \(new.digest); declare a new version instead")
        }
        let fields: [(String, (ModelVersion) -> String)] = [
            ("size", { "\($0.sizeBytes) bytes" }),
            ("command", { $0.command?.joined(separator: " ") ?? "-" }),
            ("image", { $0.image ?? "-" }),
            ("memory", { Format.megabytes($0.memoryMB) }),
            ("gpus", { "\($0.gpus)" }),
            ("timeout", { $0.timeoutSeconds.map { Format.duration(seconds: $0) } ?? "-" }),
            ("unzipped_size", { $0.unzippedSizeBytes.map { "\($0) bytes" } ?? "-" }),
            ("env", { ($0.environment ?? [:]).sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ").nonEmpty ?? "-" }),
        ]
        for (name, show) in fields where show(old) != show(new) {
            throw ModelDeckError("\(location): \(id) is immutable: its \(name) is \(show(old)) in the registry, the deck says \(show(new)); declare a new version instead")
        }
    }
}

private extension String {
    var nonEmpty: String? { isEmpty ? nil : self }
}
