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

/// When a new version's figures break the endpoint's SLO, or are worse than the version it replaces, badly
/// enough to roll back by itself (`ComparativeGate.swift`); and how much evidence a step needs to pass.
/// A deck's `gate:` sets it per endpoint.
public struct RollbackGate: Equatable, Sendable, Codable {
    /// Fewer requests than this in the window decide nothing: one slow request must not roll back a deploy.
    /// A timed step passes only once the new version has this many user requests in it.
    public var minimumRequests: Int64
    /// How much slower (warm p99) the new version may be than the old: 0.2 allows 20%.
    public var tolerance: Double
    /// p99s closer than this never fail the comparison: on a busy machine a scheduler hiccup moves a small
    /// p99 by tens of milliseconds, and two identical versions must not roll each other back.
    public var slackMilliseconds: Int64
    /// The confidence at which a higher error (or cold-start) rate counts as real: 0.95.
    public var confidence: Double
    /// What a step with too few requests does `lowTrafficDeadlineSeconds` after its time is up.
    public var onLowTraffic: LowTrafficAction
    public var lowTrafficDeadlineSeconds: Int64
    /// Cold starts a new version needs to start its instances (the endpoint's max instances); only those
    /// past it are compared with the old version's. Set by the daemon, not the deck.
    public var expectedColdStarts: Int64

    public init(minimumRequests: Int64 = 20, tolerance: Double = 0.2, slackMilliseconds: Int64 = 100, confidence: Double = 0.95,
                onLowTraffic: LowTrafficAction = .wait, lowTrafficDeadlineSeconds: Int64 = 600, expectedColdStarts: Int64 = 0) {
        self.minimumRequests = minimumRequests
        self.tolerance = tolerance
        self.slackMilliseconds = slackMilliseconds
        self.confidence = confidence
        self.onLowTraffic = onLowTraffic
        self.lowTrafficDeadlineSeconds = lowTrafficDeadlineSeconds
        self.expectedColdStarts = expectedColdStarts
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
    /// The replaced version's user traffic over the same window (nil on a first deploy).
    public var baseline: VersionHealth?
    /// Why the target cannot run the new version, when provisioning failed for good.
    public var provisionError: String?

    public init(now: Date, provisioned: Bool, health: VersionHealth = .none, baseline: VersionHealth? = nil, provisionError: String? = nil) {
        self.now = now
        self.provisioned = provisioned
        self.health = health
        self.baseline = baseline
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
            if let alarm = gate.alarm(for: observation.health, version: to, baseline: observation.baseline, baselineVersion: from, slo: slo) {
                return rollBack(next, alarm: alarm, now: now)
            }
            guard deployment.pausedAt == nil, let plan = try? DeploymentStrategy(parsing: deployment.strategy).plan else { return (deployment, []) }
            guard case .shift(_, let seconds) = plan[min(deployment.step, plan.count - 1)] else { return (deployment, []) }
            let stepEnds = deployment.stepStartedAt.addingTimeInterval(TimeInterval(seconds))
            guard now >= stepEnds else { return (deployment, []) }
            // A step passes on evidence: enough user requests on the new version. Short of them it waits,
            // and past the deadline the endpoint's `on_low_traffic` decides.
            if let waiting = gate.waitingFor(observation.health) {
                guard now >= stepEnds.addingTimeInterval(TimeInterval(gate.lowTrafficDeadlineSeconds)) else { return (deployment, []) }
                let why = "\(to) had \(waiting) \(Format.duration(seconds: gate.lowTrafficDeadlineSeconds)) after its step's time"
                switch gate.onLowTraffic {
                case .wait: return (deployment, [])
                case .fail: return rollBack(next, alarm: "not enough evidence: \(why) (on_low_traffic: fail)", now: now)
                case .promote:
                    let (entered, events) = enter(step: deployment.step + 1, of: plan, next, now: now)
                    return (entered, [DeploymentEvent(kind: "deploy.low_traffic", message: "\(deployment.endpoint) steps on without the evidence: \(why) (on_low_traffic: promote)")] + events)
                }
            }
            return enter(step: deployment.step + 1, of: plan, next, now: now)

        case (.deploy, .baking):
            // At 100% the old version takes no traffic: the absolute ceilings judge the bake.
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
            return Self.adopted(deployment.strategy) ?? [deployment.toVersion: 100]
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

    /// A rollback row that adopted a target's routing keeps it in its `strategy`: `adopted:m@v1=70,m@v2=30`.
    public static func adoptedStrategy(_ weights: [String: Int]) -> String {
        "adopted:" + weights.filter { $0.value > 0 }.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")
    }

    static func adopted(_ strategy: String) -> [String: Int]? {
        guard strategy.hasPrefix("adopted:") else { return nil }
        var weights: [String: Int] = [:]
        for pair in strategy.dropFirst("adopted:".count).split(separator: ",") {
            let parts = pair.split(separator: "=", maxSplits: 1)
            guard parts.count == 2, let weight = Int(parts[1]) else { return nil }
            weights[String(parts[0])] = weight
        }
        return weights
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
