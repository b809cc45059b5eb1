import ArgumentParser
import ModelDeckCore

struct DeployCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "deploy",
        abstract: "Ask the daemon to move an endpoint's traffic to a version.",
        discussion: """
            Writes a deployment intent and an audit event; the daemon provisions the version, shifts traffic by \
            the strategy, bakes, and rolls back by itself if the new version breaks the endpoint's SLO. \
            The version must fit the endpoint's target (memory, size, GPU, timeout) or nothing is written.

            Strategies:
              all-at-once            100% at once
              canary:10%:5m          10% for 5 minutes, then 100%
              linear:10%:1m          10% more every minute
            """)

    @Argument(help: ArgumentHelp("Endpoint to deploy to.", valueName: "endpoint"), completion: endpointCompletion)
    var endpoint: String

    @Argument(help: ArgumentHelp("Version to deploy: v2, or model@v2.", valueName: "version"))
    var version: String

    @Option(help: ArgumentHelp("all-at-once, canary:PERCENT%:DURATION or linear:PERCENT%:DURATION.", valueName: "strategy"))
    var strategy: String = "all-at-once"

    @Option(help: ArgumentHelp("How long the new version must stay healthy at 100% before the deploy succeeds.", valueName: "duration"))
    var bake: String = "1m"

    @Option(help: ArgumentHelp("Why; recorded in the audit log.", valueName: "text"))
    var reason: String?

    @OptionGroup var registry: RegistryOptions

    func run() throws {
        let strategy = try DeploymentStrategy(parsing: strategy)
        let bakeSeconds = try Quantity.seconds(bake, what: "--bake")
        let deployment = try Intents.deploy(try registry.open(), endpoint: endpoint, version: version, strategy: strategy,
                                            bakeSeconds: bakeSeconds, reason: reason)
        print("deployment #\(deployment.id ?? 0): \(deployment.fromVersion ?? "nothing") → \(deployment.toVersion) on \(endpoint), \(strategy), bake \(Format.duration(seconds: bakeSeconds)) — pending; the daemon will carry it out")
    }
}
