import Foundation
import ModelDeckCore

/// A confirm dialog for one action: it says exactly what will happen, takes the few fields the action
/// needs (a reason, a version, a strategy, a policy), and on enter asks the dashboard to write the intent.
public struct Dialog: Sendable {
    public enum Purpose: Equatable, Sendable {
        case rollback(endpoint: String, from: String, to: String)
        case deploy(endpoint: String)
        case keepWarm(endpoint: String)
        case ping(endpoint: String)
        /// Pause, resume, promote (`--full`) or abort the deploy in flight (issue #17).
        case rollout(endpoint: String, command: RolloutCommand, deployment: Deployment)

        public var endpoint: String {
            switch self {
            case .rollback(let endpoint, _, _), .deploy(let endpoint), .keepWarm(let endpoint), .ping(let endpoint): endpoint
            case .rollout(let endpoint, _, _): endpoint
            }
        }
    }

    public struct Field: Sendable {
        public var label: String
        public var text: String
        /// When not empty, ←/→ pick one of these and typing is off.
        public var choices: [String] = []
        public var required = false
    }

    public var purpose: Purpose
    public var summary: EndpointSummary
    public var fields: [Field]
    public var focus = 0
    /// Why the last enter was refused (a bad strategy, or the registry's answer); shown in the dialog.
    public var error: String?

    static let maxFieldLength = 200

    public var title: String {
        switch purpose {
        case .rollback: "Roll back \(summary.name)"
        case .deploy: "Deploy to \(summary.name)"
        case .keepWarm: "Keep-warm of \(summary.name)"
        case .ping: "Ping \(summary.name) now"
        case .rollout(_, let command, _): "\(command.title) the deploy on \(summary.name)"
        }
    }

    static func rollback(_ summary: EndpointSummary, from: String, to: String) -> Dialog {
        Dialog(purpose: .rollback(endpoint: summary.name, from: from, to: to), summary: summary,
               fields: [Field(label: "Reason", text: "", required: true)])
    }

    static func deploy(_ summary: EndpointSummary, versions: [String]) -> Dialog {
        let live = Set(summary.traffic.map(\.version))
        // Newest first, and not the one taking all traffic.
        let choices = versions.reversed().filter { !(live == [$0]) }
        return Dialog(purpose: .deploy(endpoint: summary.name), summary: summary, fields: [
            Field(label: "Version", text: choices.first ?? "", choices: choices, required: true),
            Field(label: "Strategy", text: "canary:10%:5m", required: true),
            Field(label: "Bake", text: "5m", required: true),
            Field(label: "Reason", text: "", required: summary.production),
        ])
    }

    static func keepWarm(_ summary: EndpointSummary) -> Dialog {
        Dialog(purpose: .keepWarm(endpoint: summary.name), summary: summary,
               fields: [Field(label: "Policy", text: summary.keepWarm.summary.replacingOccurrences(of: " ×", with: " x"), required: true)])
    }

    static func rollout(_ summary: EndpointSummary, _ command: RolloutCommand, deployment: Deployment) -> Dialog {
        Dialog(purpose: .rollout(endpoint: summary.name, command: command, deployment: deployment), summary: summary,
               fields: [Field(label: "Reason", text: "", required: true)])
    }

    static func ping(_ summary: EndpointSummary) -> Dialog {
        Dialog(purpose: .ping(endpoint: summary.name), summary: summary, fields: [])
    }

    /// What will happen if the user presses enter now, in words; recomputed as fields change.
    public var consequence: [String] {
        let name = summary.name
        let now = summary.traffic.isEmpty ? "no traffic yet"
            : summary.traffic.map { "\($0.version) \($0.weight)%" }.joined(separator: ", ")
        switch purpose {
        case .rollback(_, let from, let to):
            return ["All traffic of \(name) moves from \(from) to \(to) at once, like flipping a Lambda alias.",
                    "Now: \(now). The daemon carries it out; the reason goes in the audit log."]
        case .deploy:
            let version = fields[0].text.isEmpty ? "(no other version)" : fields[0].text
            let strategy = (try? DeploymentStrategy(parsing: fields[1].text))
            let plan = strategy.map { s in s.steps.map { "\($0)%" }.joined(separator: " → ") } ?? "?"
            return ["\(version) takes \(name)'s traffic in steps \(plan) (\(fields[1].text)), then bakes \(fields[2].text).",
                    "Now: \(now). Rolled back by itself if p99 > \(Format.duration(milliseconds: summary.slo.p99Milliseconds)) or errors > \(Format.percent(ppm: summary.slo.errorRatePPM))."]
        case .keepWarm:
            let new = (try? KeepWarmPolicy(parsing: fields[0].text)).map(\.summary) ?? "?"
            return ["Keep-warm of \(name): \(summary.keepWarm.summary) → \(new).",
                    "off, adaptive (learned from idle times), or every DURATION [xN] (N pings at once)."]
        case .rollout(_, let command, let d):
            let at = "\(d.toVersion) at \(d.currentWeight)% (\(d.state.rawValue)\(d.pausedAt == nil ? "" : ", paused"))"
            let effect: String
            switch command {
            case .pause: effect = "The plan holds \(at); the gate keeps watching and still rolls back."
            case .resume: effect = "The plan carries on from \(at): past a pause step the next step starts, else this step again."
            case .promote(let full, _, _): effect = full ? "\(d.toVersion) goes to 100% of \(name) now, then bakes \(Format.duration(seconds: d.bakeSeconds))." : "\(d.toVersion) goes to the next step of its plan now (from \(at))."
            case .abort: effect = "All traffic of \(name) goes back on \(d.fromVersion ?? "nothing") at once; the deploy ends rolled back."
            case .setWeight(let version, let percent): effect = "\(version) gets \(percent)% of \(name); the plan holds there."
            }
            return [effect, "Now: \(now). The daemon moves the traffic at its next wake; the reason goes in the audit log."]
        case .ping:
            let targets = summary.traffic.map { "\($0.version) (\($0.weight)%)" }.joined(separator: ", ")
            return ["The daemon sends a ping now to each version taking traffic: \(targets.isEmpty ? "none" : targets).",
                    "Pings carry X-ModelDeck-Warmup: 1 and are not counted as user traffic."]
        }
    }

    /// The action to write, or the reason it cannot be written yet (the first field in error, top down).
    func action() -> Result<Dashboard.Action, ModelDeckError> {
        for (index, field) in fields.enumerated() {
            if let problem = problem(with: field, at: index) { return .failure(problem) }
        }
        let reason = fields.first { $0.label == "Reason" }?.text.trimmingCharacters(in: .whitespaces)
        switch purpose {
        case .rollback(let endpoint, _, let to):
            return .success(.rollback(endpoint: endpoint, to: to, reason: reason ?? ""))
        case .deploy(let endpoint):
            return .success(.deploy(endpoint: endpoint, version: fields[0].text, strategy: fields[1].text, bake: fields[2].text,
                                    reason: reason.flatMap { $0.isEmpty ? nil : $0 }))
        case .keepWarm(let endpoint):
            return .success(.keepWarm(endpoint: endpoint, policy: fields[0].text))
        case .ping(let endpoint):
            return .success(.ping(endpoint: endpoint))
        case .rollout(let endpoint, let command, _):
            return .success(.rollout(endpoint: endpoint, command: command, reason: reason ?? ""))
        }
    }

    private func problem(with field: Field, at index: Int) -> ModelDeckError? {
        if field.text.trimmingCharacters(in: .whitespaces).isEmpty {
            guard field.required else { return nil }
            return ModelDeckError("\(field.label.lowercased()) is required\(field.label == "Reason" ? "; it goes in the audit log" : "")")
        }
        do {
            switch (purpose, field.label) {
            case (.deploy, "Strategy"): _ = try DeploymentStrategy(parsing: field.text)
            case (.deploy, "Bake"): _ = try Quantity.seconds(field.text, what: "bake")
            case (.keepWarm, "Policy"): _ = try KeepWarmPolicy(parsing: field.text)
            default: break
            }
        } catch let error as ModelDeckError {
            return error
        } catch {
            return ModelDeckError("\(error)")
        }
        return nil
    }

    /// Edits the focused field; returns true when the key was used.
    mutating func edit(_ key: Terminal.Key) -> Bool {
        switch key {
        case .tab, .down:
            if !fields.isEmpty { focus = (focus + 1) % fields.count }
        case .up:
            if !fields.isEmpty { focus = (focus + fields.count - 1) % fields.count }
        case .left, .right:
            guard focus < fields.count, !fields[focus].choices.isEmpty else { return false }
            let choices = fields[focus].choices
            let index = choices.firstIndex(of: fields[focus].text) ?? 0
            fields[focus].text = choices[(index + (key == .right ? 1 : choices.count - 1)) % choices.count]
        case .backspace:
            guard focus < fields.count, fields[focus].choices.isEmpty, !fields[focus].text.isEmpty else { return false }
            fields[focus].text.removeLast()
        case .character(let character):
            guard focus < fields.count, fields[focus].choices.isEmpty, !character.isNewline,
                  character.unicodeScalars.allSatisfy({ !$0.properties.generalCategory.isControl }) else { return false }
            guard fields[focus].text.count < Self.maxFieldLength else {
                error = "\(fields[focus].label.lowercased()) is at most \(Self.maxFieldLength) characters"
                return true
            }
            fields[focus].text.append(character)
        default:
            return false
        }
        error = nil
        return true
    }
}

extension Unicode.GeneralCategory {
    var isControl: Bool { self == .control || self == .format }
}

extension RolloutCommand {
    /// The dialog's title word: "Pause", "Promote to 100%".
    var title: String {
        switch self {
        case .pause: "Pause"
        case .resume: "Resume"
        case .abort: "Abort"
        case .promote(let full, _, _): full ? "Promote to 100%" : "Promote"
        case .setWeight: "Set the weight of"
        }
    }
}
