import ArgumentParser
import Foundation
import Logging
import ModelDeckCore
import ModelDeckDaemon

struct DaemonCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "daemon",
        abstract: "Run the control loop: deploys, rollbacks, keep-warm, and the local target's gateway.",
        discussion: """
            Acts on the intents that `deploy`, `rollback` and `warm` (and the dashboard) write, records every step \
            in the audit log before taking it, and rolls a deploy back by itself when the new version breaks the \
            endpoint's SLO. Killed with -9 and restarted, it finishes what it was doing without repeating a step. \
            One daemon per registry. SIGTERM or Ctrl-C stops it gracefully (every instance is stopped).
            """)

    @OptionGroup var listen: ListenOptions

    @Option(help: ArgumentHelp("How long metrics are kept (10-second detail for the last hour, 1-minute after).", valueName: "duration"))
    var retention = "30d"

    @OptionGroup var registry: RegistryOptions

    func run() async throws {
        let retentionSeconds = try Quantity.seconds(retention, what: "--retention")
        guard retentionSeconds >= 86_400, retentionSeconds % 86_400 == 0 else {
            throw ModelDeckError("--retention \(retention) must be a whole number of days, at least 1d")
        }
        let opened = try registry.open()
        var settings = Daemon.Settings()
        settings.retentionDays = Int(retentionSeconds / 86_400)
        if listen.isSet { settings.listen = try listen.resolve(opened) }
        var logger = Logger(label: "modeldeck.daemon")
        logger.logLevel = .info
        try await Daemon(registry: opened, settings: settings, logger: logger).run { port in
            print("daemon running; local gateway on port \(port)")
            fflush(nil) // nil: every output stream; `stdout` itself is shared mutable state to Swift 6
        }
    }
}
