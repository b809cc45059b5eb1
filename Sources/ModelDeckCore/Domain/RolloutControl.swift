import Foundation

/// What a person may do to a deploy in flight (Argo Rollouts' pause / promote / promote --full / abort, and
/// Flagger's manual weights).
public enum RolloutCommand: Equatable, Sendable {
    case pause
    case resume
    case abort
    /// To the next step, or with `full` to 100% (and its bake, unless `skipBake`); `override` continues
    /// past a gate that has not passed.
    case promote(full: Bool, skipBake: Bool, override: Bool)
    /// `version` (the new one or the one it replaces) at `percent`; the plan holds there until resumed.
    case setWeight(version: String, percent: Int)

    public var verb: String {
        switch self {
        case .pause: "pause"
        case .resume: "resume"
        case .abort: "abort"
        case .promote: "promote"
        case .setWeight: "set-weight"
        }
    }
}

extension DeploymentMachine {
    /// `command` applied to `deployment`: the new state and its audit events (written with `actor`), or a
    /// refusal that says why nothing can be done. Pure: the CLI and the dashboard write the result in one
    /// transaction, and the daemon makes the target match (`weights(for:)`) at its next wake.
    ///
    /// `gateWaitsFor` is what the current step's gate still waits for ("12 of 50 requests"); a promote
    /// without `override` is refused while it waits.
    public static func control(_ deployment: Deployment, _ command: RolloutCommand, actor: String, reason: String,
                               gateWaitsFor: String? = nil, now: Date) throws -> (Deployment, [DeploymentEvent]) {
        let name = deployment.endpoint
        let label = "deployment #\(deployment.id ?? 0) (\(deployment.toVersion), \(deployment.state.rawValue))"
        guard deployment.kind == .deploy, deployment.state.isActive, deployment.state != .rollingBack else {
            throw ModelDeckError("endpoint '\(name)' has no deploy in flight to \(command.verb)")
        }
        let takesTraffic = deployment.state == .shifting || deployment.state == .baking
        let plan = (try? DeploymentStrategy(parsing: deployment.strategy).plan) ?? [.shift(percent: 100, seconds: 0)]
        let by = "\(actor): \(reason)"
        var next = deployment
        next.updatedAt = now

        switch command {
        case .abort:
            next.state = .rollingBack
            next.alarm = "aborted by \(by)"
            next.stepStartedAt = now
            return (next, [DeploymentEvent(kind: "deploy.aborted", message: "abort \(deployment.toVersion) on \(name), all traffic back on \(deployment.fromVersion ?? "nothing"): \(reason)")])

        case .pause:
            guard takesTraffic else { throw ModelDeckError("\(label) takes no traffic yet; there is nothing to pause") }
            if deployment.pausedAt != nil {
                throw ModelDeckError("\(label) is already paused (\(deployment.pauseNote ?? "paused")); resume or promote it")
            }
            next.pausedAt = now
            next.pauseNote = "paused by \(by)"
            return (next, [DeploymentEvent(kind: "deploy.paused", message: "pause \(name) with \(deployment.toVersion) at \(deployment.currentWeight)%: \(reason)")])

        case .resume:
            guard deployment.pausedAt != nil else { throw ModelDeckError("\(label) is not paused; there is nothing to resume") }
            if case .pause = plan[min(deployment.step, plan.count - 1)] {
                let (entered, events) = enter(step: deployment.step + 1, of: plan, next, now: now)
                return (entered, [DeploymentEvent(kind: "deploy.resumed", message: "resume \(name) past its pause step: \(reason)")] + events)
            }
            // Back on the plan: the current step's weight again, its clock from now.
            next.pausedAt = nil
            next.pauseNote = nil
            next.stepStartedAt = now
            if deployment.state == .shifting {
                next.currentWeight = DeploymentStrategy.steps(of: plan)[min(deployment.step, plan.count - 1)]
            }
            return (next, [DeploymentEvent(kind: "deploy.resumed", message: "resume \(name): \(deployment.toVersion) at \(next.currentWeight)%, step \(min(deployment.step, plan.count - 1) + 1)/\(plan.count) again: \(reason)")])

        case .promote(let full, let skipBake, let override):
            guard takesTraffic else { throw ModelDeckError("\(label) takes no traffic yet; there is nothing to promote") }
            if deployment.state == .baking, !skipBake {
                throw ModelDeckError("\(label) already sends 100% to \(deployment.toVersion) and bakes; add --skip-bake to end the bake now")
            }
            var events: [DeploymentEvent] = []
            if let waiting = gateWaitsFor {
                guard override else {
                    throw ModelDeckError("\(label): the gate has not passed, it waits for \(waiting); add --override to promote without that evidence")
                }
                events.append(DeploymentEvent(kind: "deploy.override", message: "override of the gate on \(name) (it waited for \(waiting)) by \(by)"))
            }
            let target = full ? plan.count - 1 : deployment.step + 1
            var promoted = next
            if deployment.state == .shifting {
                let entered = enter(step: target, of: plan, next, now: now)
                promoted = entered.0
                events += entered.1
            }
            let what = full ? "to 100%" : "to the next step"
            events.insert(DeploymentEvent(kind: "deploy.promoted", message: "promote \(deployment.toVersion) on \(name) \(skipBake ? "to 100%, bake skipped" : what): \(reason)"), at: 0)
            if skipBake, promoted.state == .baking {
                promoted.state = .succeeded
                promoted.currentWeight = 100
                promoted.pausedAt = nil
                promoted.pauseNote = nil
                events.append(DeploymentEvent(kind: "deploy.succeeded", message: "\(deployment.toVersion) takes all traffic of \(name); bake skipped by \(by)"))
            }
            return (promoted, events)

        case .setWeight(let version, let percent):
            guard takesTraffic else { throw ModelDeckError("\(label) takes no traffic yet; set its weight once it is shifting") }
            guard (0...100).contains(percent) else { throw ModelDeckError("weight \(percent)% must be between 0% and 100%") }
            guard let from = deployment.fromVersion else {
                throw ModelDeckError("\(label) is the endpoint's first deploy; there is no other version to share traffic with")
            }
            let weight: Int
            switch version {
            case deployment.toVersion: weight = percent
            case from: weight = 100 - percent
            default: throw ModelDeckError("\(version) takes no part in \(label); name \(deployment.toVersion) or \(from)")
            }
            next.state = .shifting
            next.currentWeight = weight
            next.stepStartedAt = now
            next.pausedAt = now
            next.pauseNote = "weight set by \(by)"
            return (next, [DeploymentEvent(kind: "deploy.weight_set", message: "set \(name) to \(deployment.toVersion) \(weight)%, \(from) \(100 - weight)%; the plan holds until resume: \(reason)")])
        }
    }
}

extension DeploymentStrategy {
    /// The weight each step of `plan` sets (a pause keeps the one before it, 0 when it comes first).
    static func steps(of plan: [RolloutStep]) -> [Int] {
        plan.reduce(into: [Int]()) { weights, step in weights.append(step.percent ?? weights.last ?? 0) }
    }
}
