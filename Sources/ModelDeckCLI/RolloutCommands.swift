import ArgumentParser
import ModelDeckCore

// `pause`, `resume`, `abort`, `promote` and `set-weight`: each writes the deploy's new state and its audit
// event in one transaction (`Intents.control`); the daemon moves the traffic at its next wake.

/// The endpoint and reason every rollout command takes.
struct RolloutTarget: ParsableArguments {
    @Argument(help: ArgumentHelp("Endpoint whose deploy in flight to steer.", valueName: "endpoint"), completion: endpointCompletion)
    var endpoint: String

    @Option(help: ArgumentHelp("Why (required); recorded in the audit log.", valueName: "text"))
    var reason: String

    @OptionGroup var registry: RegistryOptions

    func run(_ command: RolloutCommand) throws {
        let deployment = try Intents.control(try registry.open(), endpoint: endpoint, command, reason: reason)
        let weight = deployment.state == .rollingBack ? "all traffic back on \(deployment.fromVersion ?? "nothing")"
            : "\(deployment.toVersion) at \(deployment.currentWeight)%"
        let paused = deployment.pausedAt != nil ? ", paused" : ""
        print("\(command.verb) deployment #\(deployment.id ?? 0) on \(endpoint): \(deployment.state.rawValue), \(weight)\(paused); the daemon moves the traffic at its next wake")
    }
}

struct PauseCommand: ParsableCommand {
    static let configuration = CommandConfiguration.onCall(
        "pause", abstract: "Hold a deploy in flight at its current weight (the gate keeps watching).")
    @OptionGroup var target: RolloutTarget
    func run() throws { try target.run(.pause) }
}

struct ResumeCommand: ParsableCommand {
    static let configuration = CommandConfiguration.onCall(
        "resume",
        abstract: "Carry on with a paused deploy's plan.",
        discussion: "Past a pause step, the next step starts; after a pause or set-weight, the current step's weight comes back and its time starts again.")
    @OptionGroup var target: RolloutTarget
    func run() throws { try target.run(.resume) }
}

struct AbortCommand: ParsableCommand {
    static let configuration = CommandConfiguration.onCall(
        "abort", abstract: "Stop a deploy in flight and put all traffic back on the version it replaces.")
    @OptionGroup var target: RolloutTarget
    func run() throws { try target.run(.abort) }
}

struct PromoteCommand: ParsableCommand {
    static let configuration = CommandConfiguration.onCall(
        "promote",
        abstract: "Move a deploy in flight to its next step, or to 100% with --full.",
        discussion: "--skip-bake ends the bake at 100% at once. A step whose gate still waits for evidence (too few requests) is promoted only with --override, recorded as an override with who asked and why.")
    @OptionGroup var target: RolloutTarget
    @Flag(help: "Straight to 100% (and its bake).") var full = false
    @Flag(help: "End the bake now: the deploy succeeds.") var skipBake = false
    @Flag(help: "Continue past a gate that has not passed.") var override = false
    func run() throws { try target.run(.promote(full: full, skipBake: skipBake, override: override)) }
}

struct SetWeightCommand: ParsableCommand {
    static let configuration = CommandConfiguration.onCall(
        "set-weight",
        abstract: "Set a deploy's split by hand (VERSION=PERCENT); the plan holds there until resume.")
    @OptionGroup var target: RolloutTarget
    @Argument(help: ArgumentHelp("The new version or the one it replaces, and its share: v2=30.", valueName: "version=percent"))
    var weight: String

    func run() throws {
        let parts = weight.split(separator: "=", maxSplits: 1).map(String.init)
        let percentText = parts.count == 2 ? (parts[1].hasSuffix("%") ? String(parts[1].dropLast()) : parts[1]) : ""
        guard parts.count == 2, let percent = Int(percentText) else {
            throw ModelDeckError("set-weight '\(weight)' is not VERSION=PERCENT, e.g. v2=30")
        }
        guard (0...100).contains(percent) else {
            throw ModelDeckError("set-weight '\(weight)': \(percent)% must be between 0% and 100%")
        }
        try target.run(.setWeight(version: parts[0], percent: percent))
    }
}
