import ArgumentParser
import ModelDeckCore

struct RollbackCommand: ParsableCommand {
    static let configuration = CommandConfiguration.onCall(
        "rollback",
        abstract: "Put all of an endpoint's traffic back on the last good version, at once.",
        discussion: """
            Like flipping a Lambda alias: no canary, no bake. Without --to, the target is the version a deploy in \
            flight started from, else the most recent version that finished a deploy and was never rolled back. \
            The reason goes in the audit log.
            """)

    @Argument(help: ArgumentHelp("Endpoint to roll back.", valueName: "endpoint"), completion: endpointCompletion)
    var endpoint: String

    @Option(help: ArgumentHelp("Version to roll back to (default: the last good one).", valueName: "version"))
    var to: String?

    @Option(help: ArgumentHelp("Why (required); recorded in the audit log.", valueName: "text"))
    var reason: String

    @OptionGroup var registry: RegistryOptions

    func run() throws {
        let deployment = try Intents.rollback(try registry.open(), endpoint: endpoint, to: to, reason: reason)
        print("rollback #\(deployment.id ?? 0): \(endpoint) \(deployment.fromVersion ?? "-") → \(deployment.toVersion), all traffic at once — pending; the daemon will carry it out")
    }
}
