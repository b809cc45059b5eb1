import ArgumentParser
import ModelDeckCore

struct DeployCommand: ParsableCommand {
    static let configuration = CommandConfiguration.onCall(
        "deploy",
        abstract: "Ask the daemon to move an endpoint's traffic to a version.",
        discussion: """
            Writes a deployment intent and an audit event; the daemon provisions the version, shifts traffic by \
            the strategy, bakes, and rolls back by itself if the new version breaks the endpoint's SLO. \
            The version must fit the endpoint's target (memory, size, GPU, timeout) or nothing is written.

            Strategies:
              all-at-once            100% at once
              canary:10%:5m          10% for 5 minutes, then 100%
              linear:10%:1m          10% more every minute

            Step plans (--steps): weights that only go up, each held for a time, ending at 100% where the \
            bake runs (100%:5m sets the bake); a pause step waits for `modeldeck resume` or `promote`:
              --steps 5%:2m,25%:5m,pause,50%:10m,100%

            Without --strategy or --steps, the endpoint's deck `rollout:` is used, else all-at-once.
            """)

    @Argument(help: ArgumentHelp("Endpoint to deploy to.", valueName: "endpoint"), completion: endpointCompletion)
    var endpoint: String

    @Argument(help: ArgumentHelp("Version to deploy: v2, or model@v2.", valueName: "version"))
    var version: String

    @Option(help: ArgumentHelp("all-at-once, canary:PERCENT%:DURATION or linear:PERCENT%:DURATION (default: the endpoint's rollout, else all-at-once).", valueName: "strategy"))
    var strategy: String?

    @Option(help: ArgumentHelp("A step plan: PERCENT%:DURATION or pause, comma-separated, ending at 100%.", valueName: "plan"))
    var steps: String?

    @Option(help: ArgumentHelp("How long the new version must stay healthy at 100% before the deploy succeeds (default 1m).", valueName: "duration"))
    var bake: String?

    @Option(help: ArgumentHelp("Why; recorded in the audit log.", valueName: "text"))
    var reason: String?

    @OptionGroup var registry: RegistryOptions

    func validate() throws {
        if strategy != nil, steps != nil { throw ValidationError("give --strategy or --steps, not both") }
    }

    func run() throws {
        let plan = try steps.map { try RolloutStep.plan(parsing: $0) }
        let chosen = try plan.map { DeploymentStrategy.steps($0.steps) } ?? strategy.map { try DeploymentStrategy(parsing: $0) }
        let bakeSeconds = try bake.map { try Quantity.seconds($0, what: "--bake") } ?? plan?.bakeSeconds
        let deployment = try Intents.deploy(try registry.open(), endpoint: endpoint, version: version, strategy: chosen,
                                            bakeSeconds: bakeSeconds, reason: reason)
        print("deployment #\(deployment.id ?? 0): \(deployment.fromVersion ?? "nothing") → \(deployment.toVersion) on \(endpoint), \(deployment.strategy), bake \(Format.duration(seconds: deployment.bakeSeconds)) — pending; the daemon will carry it out")
    }
}
