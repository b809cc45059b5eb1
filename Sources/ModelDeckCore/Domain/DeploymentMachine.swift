import Foundation

/// How a version behaved over a window of user traffic (pings excluded).
public struct VersionHealth: Equatable, Sendable {
    public var requests: Int64
    public var errors: Int64
    /// p99 latency of warm requests in milliseconds; nil without any.
    public var p99Milliseconds: Double?
    /// Requests that had to start an instance (their latency is not in the p99 above).
    public var coldStarts: Int64

    public init(requests: Int64, errors: Int64, p99Milliseconds: Double?, coldStarts: Int64 = 0) {
        self.requests = requests
        self.errors = errors
        self.p99Milliseconds = p99Milliseconds
        self.coldStarts = coldStarts
    }

    public static let none = VersionHealth(requests: 0, errors: 0, p99Milliseconds: nil)

    /// Errors per million requests.
    public var errorPPM: Int64 { requests == 0 ? 0 : errors * 1_000_000 / requests }
}

/// When a new version's figures break the endpoint's SLO badly enough to roll back by itself.
public struct RollbackGate: Equatable, Sendable {
    /// Fewer requests than this in the window decide nothing: one slow request must not roll back a deploy.
    public var minimumRequests: Int64

    public init(minimumRequests: Int64 = 20) {
        self.minimumRequests = minimumRequests
    }

    /// The alarm, with the figures that fired it, or nil when the version is within its SLO.
    public func alarm(for health: VersionHealth, slo: SLO, version: String) -> String? {
        guard health.requests >= minimumRequests else { return nil }
        if health.errorPPM > slo.errorRatePPM {
            return "\(version) error rate \(Format.percent(ppm: health.errorPPM)) (\(health.errors) of \(health.requests) requests) is over the SLO of \(Format.percent(ppm: slo.errorRatePPM))"
        }
        if let p99 = health.p99Milliseconds, p99 > Double(slo.p99Milliseconds) {
            return "\(version) warm p99 \(Int(p99.rounded())) ms over \(health.requests) requests is over the SLO of \(slo.p99Milliseconds) ms"
        }
        return nil
    }
}

/// What the daemon observed for one deployment at one tick.
public struct DeploymentObservation: Sendable {
    public var now: Date
    /// The target has the new version ready to take traffic.
    public var provisioned: Bool
    /// The new version's user traffic since the current step began.
    public var health: VersionHealth
    /// Why the target cannot run the new version, when provisioning failed for good.
    public var provisionError: String?

    public init(now: Date, provisioned: Bool, health: VersionHealth = .none, provisionError: String? = nil) {
        self.now = now
        self.provisioned = provisioned
        self.health = health
        self.provisionError = provisionError
    }
}

/// One audit event a transition writes, in the same transaction as the new state.
public struct DeploymentEvent: Equatable, Sendable {
    public var kind: String
    public var message: String
}

/// The deployment state machine: state + observation → next state + the events that record the step.
///
/// Pure. What the target must look like is a function of the state alone (`weights(for:)`), so the daemon
/// persists a transition first and then makes the target match; a daemon killed between the two simply
/// makes it match after restarting, and no step is taken or recorded twice.
public enum DeploymentMachine {
    public static func step(_ deployment: Deployment, slo: SLO, gate: RollbackGate,
                            observation: DeploymentObservation) -> (Deployment, [DeploymentEvent]) {
        var next = deployment
        next.updatedAt = observation.now
        let now = observation.now
        let to = deployment.toVersion
        let from = deployment.fromVersion

        switch (deployment.kind, deployment.state) {
        case (.rollback, .pending), (.rollback, .provisioning), (.rollback, .shifting), (.rollback, .baking):
            next.state = .succeeded
            next.currentWeight = 100
            next.stepStartedAt = now
            return (next, [DeploymentEvent(kind: "rollback.done", message: "all traffic of \(deployment.endpoint) on \(to) (was \(from ?? "nothing"))\(deployment.reason.map { ": \($0)" } ?? "")")])

        case (.deploy, .pending):
            next.state = .provisioning
            next.stepStartedAt = now
            return (next, [DeploymentEvent(kind: "deploy.provisioning", message: "provisioning \(to) on \(deployment.endpoint)")])

        case (.deploy, .provisioning):
            if let error = observation.provisionError {
                next.state = .failed
                next.alarm = error
                return (next, [DeploymentEvent(kind: "deploy.failed", message: "cannot provision \(to) on \(deployment.endpoint): \(error); traffic unchanged")])
            }
            guard observation.provisioned else { return (deployment, []) }
            guard let strategy = try? DeploymentStrategy(parsing: deployment.strategy) else {
                next.state = .failed
                return (next, [DeploymentEvent(kind: "deploy.failed", message: "unknown strategy '\(deployment.strategy)'")])
            }
            return enter(step: 0, of: strategy.plan, next, now: now)

        case (.deploy, .shifting):
            if let alarm = gate.alarm(for: observation.health, slo: slo, version: to) { return rollBack(next, alarm: alarm, now: now) }
            guard deployment.pausedAt == nil, let plan = try? DeploymentStrategy(parsing: deployment.strategy).plan else { return (deployment, []) }
            guard case .shift(_, let seconds) = plan[min(deployment.step, plan.count - 1)],
                  now >= deployment.stepStartedAt.addingTimeInterval(TimeInterval(seconds)) else {
                return (deployment, [])
            }
            return enter(step: deployment.step + 1, of: plan, next, now: now)

        case (.deploy, .baking):
            if let alarm = gate.alarm(for: observation.health, slo: slo, version: to) { return rollBack(next, alarm: alarm, now: now) }
            guard deployment.pausedAt == nil else { return (deployment, []) }
            guard now >= deployment.stepStartedAt.addingTimeInterval(TimeInterval(deployment.bakeSeconds)) else {
                return (deployment, [])
            }
            next.state = .succeeded
            return (next, [DeploymentEvent(kind: "deploy.succeeded", message: "\(to) takes all traffic of \(deployment.endpoint); baked \(Format.duration(seconds: deployment.bakeSeconds)) within its SLO")])

        case (.deploy, .rollingBack):
            next.state = .rolledBack
            next.currentWeight = 0
            return (next, [DeploymentEvent(kind: "deploy.rolled_back", message: "all traffic of \(deployment.endpoint) back on \(from ?? "nothing")")])

        default:
            return (deployment, [])
        }
    }

    /// The weights the target must have in `deployment`'s state; nil when the deployment does not decide
    /// them (not started, or finished).
    public static func weights(for deployment: Deployment) -> [String: Int]? {
        switch (deployment.kind, deployment.state) {
        case (.rollback, .succeeded):
            return [deployment.toVersion: 100]
        case (.deploy, .shifting), (.deploy, .baking):
            // An endpoint's first deploy has nothing to share traffic with.
            guard let from = deployment.fromVersion else { return [deployment.toVersion: 100] }
            var weights = [deployment.toVersion: deployment.currentWeight]
            if deployment.currentWeight < 100 { weights[from] = 100 - deployment.currentWeight }
            return weights
        case (.deploy, .rolledBack), (.deploy, .rollingBack):
            return deployment.fromVersion.map { [$0: 100] }
        case (.deploy, .succeeded):
            return [deployment.toVersion: 100]
        default:
            return nil
        }
    }

    /// Enters step `index` of `plan` (the last step when past it): a weight for its time, a pause that holds
    /// the weight before it until a person resumes, or 100% and the bake.
    static func enter(step index: Int, of plan: [RolloutStep], _ deployment: Deployment,
                      now: Date) -> (Deployment, [DeploymentEvent]) {
        var next = deployment
        let index = min(index, plan.count - 1)
        let label = "step \(index + 1)/\(plan.count)"
        next.step = index
        next.stepStartedAt = now
        next.pausedAt = nil
        next.pauseNote = nil
        next.state = .shifting
        switch plan[index] {
        case .pause:
            next.pausedAt = now
            next.pauseNote = "\(label) of the plan"
            return (next, [DeploymentEvent(kind: "deploy.step", message: "\(label): pause, \(deployment.toVersion) holds \(deployment.currentWeight)% of \(deployment.endpoint) until resume or promote")])
        case .shift(let weight, _) where weight >= 100:
            next.currentWeight = 100
            next.state = .baking
            return (next, [DeploymentEvent(kind: "deploy.step", message: "\(label): \(deployment.toVersion) at 100% of \(deployment.endpoint); baking \(Format.duration(seconds: deployment.bakeSeconds))")])
        case .shift(let weight, let seconds):
            next.currentWeight = weight
            return (next, [DeploymentEvent(kind: "deploy.step", message: "\(label): \(deployment.toVersion) at \(weight)% of \(deployment.endpoint) for \(Format.duration(seconds: seconds))")])
        }
    }

    private static func rollBack(_ deployment: Deployment, alarm: String, now: Date) -> (Deployment, [DeploymentEvent]) {
        var next = deployment
        next.state = .rollingBack
        next.alarm = alarm
        next.stepStartedAt = now
        return (next, [DeploymentEvent(kind: "deploy.alarm", message: "rolling back \(deployment.endpoint) to \(deployment.fromVersion ?? "nothing"): \(alarm)")])
    }
}

extension DeploymentStrategy {
    /// Time between steps; 0 for all-at-once and step plans.
    public var intervalSeconds: Int64 {
        switch self {
        case .allAtOnce: 0
        case .canary(_, let interval), .linear(_, let interval): interval
        case .steps: 0 // each step has its own time
        }
    }
}
