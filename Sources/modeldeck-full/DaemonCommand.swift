import ArgumentParser
import Foundation
import Logging
import ModelDeckCLI
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

    @Option(help: ArgumentHelp("How long metrics are kept (10-second detail for the last hour, 1-minute for the last day, 1-hour after).", valueName: "duration"))
    var retention = "30d"

    @Option(help: ArgumentHelp("Metric tiers, WIDTH:KEPT,…,WIDTH: buckets of each width are kept that long, then rolled into the next; the last is kept for --retention.", valueName: "tiers"))
    var tiers = "10s:1h,1m:1d,1h"

    @Option(help: ArgumentHelp("Address of the read-only API (/metrics, /api/v1/…). Off loopback it needs MODELDECK_API_TOKEN.", valueName: "host"))
    var apiHost = "127.0.0.1"

    @Option(help: ArgumentHelp("Port of the read-only API (0 picks a free one).", valueName: "port"))
    var apiPort = 8766

    @Flag(help: "Do not serve the read-only API.")
    var noAPI = false

    @Option(help: ArgumentHelp("How often a cloud target is asked what it routes, to find drift (at least 1s).", valueName: "duration"))
    var driftCheck = "1m"

    @Option(help: ArgumentHelp("Longest pause between tries of a failing notification (they double from 1s up to this).", valueName: "duration"))
    var notifyRetryMax = "5m"

    @OptionGroup var registry: RegistryOptions

    func run() async throws {
        let retryCap = try Quantity.milliseconds(notifyRetryMax, what: "--notify-retry-max")
        guard (100...86_400_000).contains(retryCap) else {
            throw ModelDeckError("--notify-retry-max \(notifyRetryMax) must be between 100ms and 1d")
        }
        let retentionSeconds = try Quantity.seconds(retention, what: "--retention")
        guard retentionSeconds >= 86_400, retentionSeconds % 86_400 == 0 else {
            throw ModelDeckError("--retention \(retention) must be a whole number of days, at least 1d")
        }
        let metricTiers = try MetricTiers.parse(tiers, retentionSeconds: retentionSeconds)
        let opened = try registry.open()
        let driftSeconds = try Quantity.seconds(driftCheck, what: "--drift-check")
        guard driftSeconds >= 1 else { throw ModelDeckError("--drift-check \(driftCheck) must be at least 1s") }
        var settings = Daemon.Settings()
        settings.remoteDriftCheckInterval = .seconds(driftSeconds)
        settings.retentionDays = Int(retentionSeconds / 86_400)
        settings.metricTiers = metricTiers
        let cap = TimeInterval(retryCap) / 1_000
        settings.notificationRetry = RetrySchedule(first: min(1, cap), cap: cap)
        if listen.isSet { settings.listen = try listen.resolve(opened) }
        // The token comes from the environment only: it is never stored.
        settings.api = noAPI ? nil : ExportAPI(host: apiHost, port: apiPort,
                                               token: ProcessInfo.processInfo.environment["MODELDECK_API_TOKEN"])
        var logger = Logger(label: "modeldeck.daemon")
        logger.logLevel = .info
        let apiHost = self.apiHost
        try await Daemon(registry: opened, settings: settings, logger: logger).run { port in
            print("daemon running; local gateway on port \(port)")
            fflush(nil) // nil: every output stream; `stdout` itself is shared mutable state to Swift 6
        } onAPIListening: { port in
            print("read-only API on http://\(apiHost):\(port) (/metrics, /api/v1/endpoints, …)")
            fflush(nil)
        }
    }
}
