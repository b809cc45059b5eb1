import Foundation

/// What the daemon does when a target routes an endpoint otherwise than the registry says (a person changed
/// a Lambda alias at the console during an incident, or a local route was edited by hand): per target, the
/// deck's `drift:` setting.
public enum DriftPolicy: String, CaseIterable, Sendable {
    /// Put the registry's routing back, and say so.
    case enforce
    /// Leave the target as it is; record and show the drift until it is resolved.
    case alert
    /// Take the target's routing as the registry's.
    case adopt

    /// The setting every target kind takes. Cloud targets default to `alert`: never silently undo what a
    /// person did at the console. The local target keeps `enforce`: its routing is the registry's own
    /// traffic table, which nobody changes at a console, and enforcing is what it always did.
    static func configKey(remote: Bool) -> ConfigKey {
        ConfigKey("drift", meaning: "what to do when the target routes otherwise than the registry says (enforce, alert or adopt)",
                  default: remote ? DriftPolicy.alert.rawValue : DriftPolicy.enforce.rawValue) { value in
            DriftPolicy(rawValue: value) == nil ? "must be enforce, alert or adopt" : nil
        }
    }

    /// The policy of `target`, from its `drift` setting or its kind's default.
    public init(of target: Target) {
        self = target.descriptor.value("drift", of: target).flatMap(DriftPolicy.init(rawValue:)) ?? .alert
    }
}

/// A difference between what the registry says an endpoint routes and what its target routes.
public struct Drift: Equatable, Sendable {
    public var endpoint: String
    public var registry: [String: Int]
    public var target: [String: Int]

    public init(endpoint: String, registry: [String: Int], target: [String: Int]) {
        self.endpoint = endpoint
        self.registry = registry.filter { $0.value > 0 }
        self.target = target.filter { $0.value > 0 }
    }

    /// nil when both sides route the same.
    public static func between(endpoint: String, registry: [String: Int], target: [String: Int]) -> Drift? {
        let drift = Drift(endpoint: endpoint, registry: registry, target: target)
        return drift.registry == drift.target ? nil : drift
    }

    /// `sentiment@v1 70%, sentiment@v2 30%` (`nothing` when empty), largest share first.
    public static func describe(_ weights: [String: Int]) -> String {
        let shares = weights.filter { $0.value > 0 }.sorted { ($0.value, $1.key) > ($1.value, $0.key) }
        return shares.isEmpty ? "nothing" : shares.map { "\($0.key) \($0.value)%" }.joined(separator: ", ")
    }

    /// What the policy does about this drift. Adopting while a deploy is in flight would fight its plan: the
    /// drift is then only reported until the deploy ends (or is aborted).
    public func action(under policy: DriftPolicy, deployInFlight: Bool) -> DriftPolicy {
        policy == .adopt && deployInFlight ? .alert : policy
    }

    /// The `drift.detected` message, with both sides and what is done about it.
    public func detectedMessage(_ action: DriftPolicy) -> String {
        let what: String
        switch action {
        case .enforce: what = "restoring the registry's routing (drift: enforce)"
        case .alert: what = "left as the target has it (drift: alert); a rollback or deploy, or drift: enforce|adopt, resolves it"
        case .adopt: what = "taking the target's routing as the registry's (drift: adopt)"
        }
        return "\(endpoint): the target routes \(Self.describe(target)); the registry says \(Self.describe(registry)); \(what)"
    }
}
