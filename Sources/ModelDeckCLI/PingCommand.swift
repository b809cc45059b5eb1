import ArgumentParser
import ModelDeckCore

struct PingCommand: ParsableCommand {
    static let configuration = CommandConfiguration.onCall(
        "ping",
        abstract: "Ask the daemon to ping an endpoint now, whatever its keep-warm policy.",
        discussion: """
            Every version taking traffic gets a ping (more with a fixed policy's concurrency). The request waits \
            in the registry until the daemon has sent it; the result shows in `get events` and the TUI.
            """)

    @Argument(help: ArgumentHelp("Endpoint to ping.", valueName: "endpoint"), completion: endpointCompletion)
    var endpoint: String

    @OptionGroup var registry: RegistryOptions

    func run() throws {
        try Intents.pingNow(try registry.open(), endpoint: endpoint)
        print("ping of \(endpoint) requested; the daemon sends it within a second")
    }
}
