import Foundation

/// How traffic moves to a new version, as CodeDeploy and SageMaker guardrails name it.
public enum DeploymentStrategy: Equatable, Sendable, CustomStringConvertible {
    /// 100% at once.
    case allAtOnce
    /// `percent`% for `intervalSeconds`, then 100%.
    case canary(percent: Int, intervalSeconds: Int64)
    /// `percent`% more every `intervalSeconds` until 100%.
    case linear(percent: Int, intervalSeconds: Int64)
    /// A free-form step plan (`--steps 5%:2m,25%:5m,pause,50%:10m,100%`), as Argo Rollouts' step lists:
    /// each step holds a weight for a time or waits for a person; the last is always 100%, where the bake runs.
    case steps([RolloutStep])

    /// Parses `all-at-once`, `canary:10%:5m`, `linear:10%:1m` or a step plan `steps:5%:2m,pause,50%:10m,100%`.
    public init(parsing text: String) throws {
        if text.hasPrefix("steps:") {
            self = .steps(try RolloutStep.plan(parsing: String(text.dropFirst("steps:".count))).steps)
            return
        }
        let parts = text.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        let usage = "use all-at-once, canary:PERCENT%:DURATION or linear:PERCENT%:DURATION (e.g. canary:10%:5m)"
        switch parts.first {
        case "all-at-once" where parts.count == 1:
            self = .allAtOnce
        case "canary" where parts.count == 3, "linear" where parts.count == 3:
            guard parts[1].hasSuffix("%"), let percent = Int(parts[1].dropLast()) else {
                throw ModelDeckError("strategy '\(text)': '\(parts[1])' is not a whole percentage; \(usage)")
            }
            guard (1...99).contains(percent) else {
                throw ModelDeckError("strategy '\(text)': step \(percent)% must be between 1% and 99%")
            }
            let seconds = try Quantity.seconds(parts[2], what: "strategy '\(text)' interval")
            guard seconds > 0 else { throw ModelDeckError("strategy '\(text)': interval must be longer than 0s") }
            self = parts[0] == "canary" ? .canary(percent: percent, intervalSeconds: seconds)
                : .linear(percent: percent, intervalSeconds: seconds)
        default:
            throw ModelDeckError("strategy '\(text)' is not known; \(usage)")
        }
    }

    public var description: String {
        switch self {
        case .allAtOnce: "all-at-once"
        case .canary(let percent, let interval): "canary:\(percent)%:\(Format.duration(seconds: interval))"
        case .linear(let percent, let interval): "linear:\(percent)%:\(Format.duration(seconds: interval))"
        case .steps(let steps): "steps:" + steps.map(\.description).joined(separator: ",")
        }
    }

    /// The plan the strategy stands for: canary and linear are shorthands for step plans.
    public var plan: [RolloutStep] {
        switch self {
        case .steps(let steps): steps
        default: steps.map { $0 >= 100 ? .shift(percent: 100, seconds: 0) : .shift(percent: $0, seconds: intervalSeconds) }
        }
    }

    /// The weights the new version goes through, in order, ending at 100.
    public var steps: [Int] {
        switch self {
        case .allAtOnce: [100]
        case .canary(let percent, _): [percent, 100]
        case .linear(let percent, _): Array(stride(from: percent, to: 100, by: percent)) + [100]
        case .steps(let plan): Self.steps(of: plan)
        }
    }
}

/// The deployment state machine's states (README.md, "The daemon"; `DeploymentMachine` moves between them):
/// pending → provisioning → shifting → baking → succeeded | rolling_back → rolled_back | failed | cancelled.
public enum DeploymentState: String, Codable, CaseIterable, Sendable {
    case pending, provisioning, shifting, baking, succeeded
    case rollingBack = "rolling_back"
    case rolledBack = "rolled_back"
    case failed, cancelled

    public var isActive: Bool {
        switch self {
        case .pending, .provisioning, .shifting, .baking, .rollingBack: true
        case .succeeded, .rolledBack, .failed, .cancelled: false
        }
    }

    public static var activeStates: [DeploymentState] { allCases.filter(\.isActive) }
}

/// A deploy moves traffic to a new version; a rollback puts all of it back on an earlier one at once (or,
/// with an `adopted:` strategy, records a target's routing changed outside ModelDeck: `drift: adopt`).
public enum DeploymentKind: String, Codable, Sendable {
    case deploy, rollback
}

/// One deployment or rollback: the intent the CLI or TUI writes, and the progress the daemon records.
public struct Deployment: Codable, Equatable, Sendable {
    public var id: Int64?
    public var endpoint: String
    public var kind: DeploymentKind
    /// The version taking traffic before; nil on an endpoint's first deploy.
    public var fromVersion: String?
    public var toVersion: String
    /// `all-at-once`, `canary:10%:5m`, `linear:10%:1m` (see `DeploymentStrategy`).
    public var strategy: String
    /// How long the new version must stay healthy at 100% before the deploy succeeds.
    public var bakeSeconds: Int64
    public var state: DeploymentState
    /// Index into the strategy's steps the daemon has reached.
    public var step: Int
    /// The new version's current weight in percent.
    public var currentWeight: Int
    /// When the current step (or the bake) began; the gate looks at traffic since then.
    public var stepStartedAt: Date
    /// The alarm that fired, with its figures, when a deploy rolled back by itself.
    public var alarm: String?
    /// Why a person asked for it.
    public var reason: String?
    /// Since when the plan holds (a `pause` step, `modeldeck pause` or `set-weight`); nil while it runs.
    /// The gate keeps watching a paused deployment; only its clock stops.
    public var pausedAt: Date?
    /// Who paused it and why, or which plan step did ("step 3/5 of the plan").
    public var pauseNote: String?
    public var actor: String
    public var createdAt: Date
    public var updatedAt: Date

    public init(id: Int64? = nil, endpoint: String, kind: DeploymentKind, fromVersion: String?, toVersion: String,
                strategy: String, bakeSeconds: Int64, state: DeploymentState = .pending, step: Int = 0,
                currentWeight: Int = 0, stepStartedAt: Date? = nil, alarm: String? = nil, reason: String?,
                pausedAt: Date? = nil, pauseNote: String? = nil, actor: String, createdAt: Date, updatedAt: Date) {
        self.id = id
        self.endpoint = endpoint
        self.kind = kind
        self.fromVersion = fromVersion
        self.toVersion = toVersion
        self.strategy = strategy
        self.bakeSeconds = bakeSeconds
        self.state = state
        self.step = step
        self.currentWeight = currentWeight
        self.stepStartedAt = stepStartedAt ?? createdAt
        self.alarm = alarm
        self.reason = reason
        self.pausedAt = pausedAt
        self.pauseNote = pauseNote
        self.actor = actor
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }
}
