import Foundation

/// One step of a rollout plan: hold the new version at a weight for a time, or wait for a person.
///
/// The plan's last step is always 100%: there the bake runs (`Deployment.bakeSeconds`), so a `shift` at
/// 100 carries no time of its own.
public enum RolloutStep: Equatable, Sendable, CustomStringConvertible {
    case shift(percent: Int, seconds: Int64)
    /// Holds the weight of the step before it until `modeldeck resume` or `promote` (Argo Rollouts' `pause: {}`).
    case pause

    /// The weight this step sets; nil for a pause, which keeps the one before.
    public var percent: Int? {
        if case .shift(let percent, _) = self { return percent }
        return nil
    }

    public var description: String {
        switch self {
        case .pause: "pause"
        case .shift(let percent, _) where percent >= 100: "100%"
        case .shift(let percent, let seconds): "\(percent)%:\(Format.duration(seconds: seconds))"
        }
    }

    /// The most steps a plan may have (a plan is typed by a person; a thousand steps is a mistake).
    public static let maximumSteps = 50

    /// Parses a step list such as `5%:2m,25%:5m,pause,50%:10m,100%`. The last step must be `100%`, or
    /// `100%:DURATION` to give the bake's length (returned as `bakeSeconds`); weights only go up.
    public static func plan(parsing text: String) throws -> (steps: [RolloutStep], bakeSeconds: Int64?) {
        let usage = "e.g. 5%:2m,25%:5m,pause,50%:10m,100%"
        let items = text.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        guard !text.trimmingCharacters(in: .whitespaces).isEmpty else {
            throw ModelDeckError("step plan is empty; list the steps, \(usage)")
        }
        guard items.count <= maximumSteps else {
            throw ModelDeckError("step plan '\(text)' has \(items.count) steps; at most \(maximumSteps) are allowed")
        }
        var steps: [RolloutStep] = []
        var bake: Int64?
        var last = 0
        for (index, item) in items.enumerated() {
            if item == "pause" {
                steps.append(.pause)
                continue
            }
            let parts = item.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
            guard parts[0].hasSuffix("%"), let percent = Int(parts[0].dropLast()) else {
                throw ModelDeckError("step plan '\(text)': step '\(item)' is not PERCENT%:DURATION or pause; \(usage)")
            }
            guard percent <= 100 else {
                throw ModelDeckError("step plan '\(text)': step \(percent)% is over 100%")
            }
            guard percent >= 1 else {
                throw ModelDeckError("step plan '\(text)': step \(percent)% must be at least 1%")
            }
            guard percent >= last else {
                throw ModelDeckError("step plan '\(text)': step \(percent)% comes after \(last)%; weights may only go up")
            }
            last = percent
            let seconds = try parts.count == 2 ? Quantity.seconds(parts[1], what: "step plan '\(text)': step '\(item)' duration") : nil
            if percent == 100 {
                guard index == items.count - 1 else {
                    throw ModelDeckError("step plan '\(text)': 100% must be the last step (the bake runs there)")
                }
                bake = seconds
                steps.append(.shift(percent: 100, seconds: 0))
                continue
            }
            guard let seconds, seconds > 0 else {
                throw ModelDeckError("step plan '\(text)': step '\(item)' needs a duration longer than 0s, e.g. \(percent)%:5m")
            }
            steps.append(.shift(percent: percent, seconds: seconds))
        }
        guard steps.last?.percent == 100 else {
            throw ModelDeckError("step plan '\(text)' ends at \(last)%, not 100%; end it with 100% (the bake runs there), \(usage)")
        }
        return (steps, bake)
    }
}

extension DeploymentStrategy {
    /// What `--steps`, `--strategy` or a deck's `rollout:` says: a strategy name (`canary:10%:5m`) or a step
    /// list (`5%:2m,pause,50%:10m,100%`), with the bake the plan's last step names, if any.
    public static func rollout(parsing text: String) throws -> (strategy: DeploymentStrategy, bakeSeconds: Int64?) {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if let first = trimmed.first, first.isNumber || trimmed.hasPrefix("pause") {
            let (steps, bake) = try RolloutStep.plan(parsing: trimmed)
            return (.steps(steps), bake)
        }
        if trimmed.hasPrefix("steps:") {
            let (steps, bake) = try RolloutStep.plan(parsing: String(trimmed.dropFirst("steps:".count)))
            return (.steps(steps), bake)
        }
        return (try DeploymentStrategy(parsing: trimmed), nil)
    }
}
