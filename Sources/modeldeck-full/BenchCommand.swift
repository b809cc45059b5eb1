import ArgumentParser
import Dispatch
import Foundation
import ModelDeckCLI
import ModelDeckCore
import ModelDeckDaemon

struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure an endpoint: cold, warm p50/p95/p99, time to scale, luke-warm; compare endpoints.",
        subcommands: [BenchRunCommand.self, BenchCompareCommand.self],
        defaultSubcommand: BenchRunCommand.self)
}

struct BenchRunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run the four phases (or one, with --only) against one version of an endpoint and store the figures.",
        discussion: """
            Requests are open-loop: each is due at a fixed time and leaves then, whatever the earlier ones are doing, \
            so queueing shows as latency. Bench traffic is tagged: it never enters user figures, SLO gates or warm-hit \
            rates; its cost is stored with the run as bench cost. Ctrl-C stops the run and keeps what was measured, \
            marked partial. Examples:
              modeldeck bench sentiment --only warm --rate 50/s --duration 30s
              modeldeck bench sentiment --idle-gaps 1m,5m --max-cost '$0.10'
            """)

    @Argument(help: ArgumentHelp("Endpoint to measure.", valueName: "endpoint"), completion: endpointCompletion)
    var endpoint: String

    @Option(help: ArgumentHelp("Version to measure (default: the one taking most traffic).", valueName: "version"))
    var version: String?

    @Option(help: ArgumentHelp("Request body to send (JSON); default {\"text\": \"modeldeck bench\"}.", valueName: "file"),
            completion: .file())
    var payload: String?

    @Option(help: ArgumentHelp("Warm phase rate: 20/s, 600/min.", valueName: "rate"))
    var rate = "20/s"

    @Option(help: ArgumentHelp("Scale phase: FROM..TO/s:DURATION, then TO held for half the duration (at least 1s).", valueName: "ramp"))
    var ramp = "1..100/s:60s"

    @Option(help: ArgumentHelp("Warm phase length.", valueName: "duration"))
    var duration = "60s"

    @Option(name: .customLong("idle-gaps"), help: ArgumentHelp("Luke-warm phase: idle gaps before the first requests.", valueName: "gaps"))
    var idleGaps = "1m,5m,15m,30m"

    @Option(name: .customLong("idle-budget"), help: ArgumentHelp("Longest the idle gaps may add up to (default 1h).", valueName: "duration"))
    var idleBudget: String?

    @Option(name: .customLong("first-requests"), help: "Luke-warm phase: requests sent at once after each gap.")
    var firstRequests = 1

    @Option(name: .customLong("p99-multiple"), help: "Scale phase: the target rate counts as served when p99 is within this multiple of warm p99.")
    var p99Multiple = 2.0

    @Option(help: ArgumentHelp("Only one phase: cold, warm, scale or luke-warm.", valueName: "phase"))
    var only: String?

    @Option(name: .customLong("max-cost"), help: ArgumentHelp("Refuse a plan whose estimated cost is higher, e.g. $0.50.", valueName: "amount"))
    var maxCost: String?

    @Flag(help: "Allow a bench of a production endpoint (needs --reason).")
    var force = false

    @Option(help: ArgumentHelp("Why (recorded in the audit log; needed with --force).", valueName: "text"))
    var reason: String?

    @Option(help: ArgumentHelp("Local gateway to send through (default: where the target's deck says it listens).", valueName: "url"))
    var gateway: String?

    @Option(name: [.customShort("o"), .long], help: "Output format: table, json or yaml.")
    var output: OutputFormat = .table

    @OptionGroup var registry: RegistryOptions

    func run() async throws {
        // Everything is checked before anything is sent or stored.
        let plan = try BenchPlan.parse(only: only, rate: rate, duration: duration, ramp: ramp, idleGaps: idleGaps,
                                       idleBudget: idleBudget, p99Multiple: p99Multiple)
        guard (1...100).contains(firstRequests) else { throw ModelDeckError("--first-requests \(firstRequests) must be between 1 and 100") }
        var checked = plan
        checked.lukeWarmRequests = firstRequests
        let body = try Self.payload(payload)
        let limit = try maxCost.map { try Quantity.microdollars($0, what: "--max-cost") }
        let opened = try registry.open()
        let subject = try opened.benchSubject(endpoint: endpoint, version: version, force: force, reason: reason)
        let prices = try PriceTable.load(path: nil)
        let rates = try TargetPricing.rates(for: subject.target, table: prices)
        if let limit {
            // Each request priced at the last measured warm p50 of this endpoint, else its SLO's p99.
            let measured = try opened.latestBenchRuns(endpoints: [endpoint])[endpoint]?.figures?.warm.map { Int64($0.p50Ms.rounded(.up)) }
            let perRequestMs = measured ?? subject.endpoint.slo.p99Milliseconds
            let estimate = BenchCost.estimateMicros(checked, rates: rates, memoryMB: subject.endpoint.memoryMB, durationMs: perRequestMs)
            if estimate > limit {
                throw ModelDeckError("the plan's estimated cost \(Format.dollars(micros: estimate)) (\(checked.requestCount) requests of "
                                     + "\(perRequestMs) ms) is over --max-cost \(Format.dollars(micros: limit))")
            }
        }
        let transport = try await BenchTransports.make(for: subject, gateway: gateway, targets: try opened.targets(), payload: body)

        let started = try opened.startBenchRun(subject, plan: checked, reason: reason)
        let stop = BenchStop()
        let interrupt = Self.onInterrupt { stop.stop() }
        defer { interrupt.cancel() }
        let bar = ProgressBar(enabled: isatty(STDOUT_FILENO) == 1)
        let runner = BenchRunner(plan: checked, transport: transport(started.token), stop: stop) { bar.show($0) }
        var (figures, samples, partial) = await runner.run()
        bar.clear()
        figures.costMicros = BenchCost.micros(of: samples, rates: rates, memoryMB: subject.endpoint.memoryMB)
        try opened.finishBenchRun(started.id, figures: figures, partial: partial)
        guard let stored = try opened.benchRuns(endpoint: endpoint, limit: 1).first else { return }
        switch output {
        case .table:
            print("bench #\(stored.id) of \(stored.version) on \(stored.endpoint) (\(stored.target), \(stored.targetKind))\(partial ? ", partial" : "")")
            print(BenchTables.report(stored).render(), terminator: "")
        case .json, .yaml: try Output.printDocument(stored, as: output)
        }
    }

    static let defaultPayload = Data(#"{"text": "modeldeck bench"}"#.utf8)

    static func payload(_ path: String?) throws -> Data {
        guard let path else { return defaultPayload }
        guard FileManager.default.fileExists(atPath: path) else { throw ModelDeckError("--payload file '\(path)' does not exist") }
        guard let data = FileManager.default.contents(atPath: path) else { throw ModelDeckError("--payload file '\(path)' cannot be read") }
        guard data.count <= 16 << 20 else { throw ModelDeckError("--payload file '\(path)' is over the gateway's 16 MB request limit") }
        return data
    }

    /// Runs `action` on Ctrl-C (SIGINT) instead of exiting; cancel to restore the default.
    static func onInterrupt(_ action: @escaping @Sendable () -> Void) -> any DispatchSourceSignal {
        signal(SIGINT, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: SIGINT, queue: .global())
        source.setEventHandler(handler: action)
        source.setCancelHandler { signal(SIGINT, SIG_DFL) }
        source.resume()
        return source
    }
}

/// A one-line progress bar on a terminal (stdout is one); nothing otherwise.
final class ProgressBar: Sendable {
    let enabled: Bool
    init(enabled: Bool) { self.enabled = enabled }

    func show(_ progress: BenchProgress) {
        guard enabled else { return }
        let width = 30, filled = Int((min(1, max(0, progress.fraction)) * Double(width)).rounded())
        let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
        let line = "\r\u{1B}[2K\(progress.phase.rawValue) [\(bar)] \(Int(progress.fraction * 100))%"
        FileHandle.standardOutput.write(Data(line.utf8))
    }

    func clear() {
        guard enabled else { return }
        FileHandle.standardOutput.write(Data("\r\u{1B}[2K".utf8))
    }
}

struct BenchCompareCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compare",
        abstract: "The latest bench of each endpoint side by side, priced per target.",
        discussion: """
            $ per 1M is what a million requests of the measured duration (warm p50, whole milliseconds) cost on the \
            endpoint's memory at its target's prices: the figure `modeldeck cost estimate --requests 1M/day \
            --duration D --memory M` gives for that platform.
            """)

    @Argument(help: ArgumentHelp("Endpoints to compare.", valueName: "endpoint"), completion: endpointCompletion)
    var endpoints: [String]

    @OptionGroup var prices: PriceOptions

    @Option(name: [.customShort("o"), .long], help: "Output format: table, json or yaml.")
    var output: OutputFormat = .table

    @OptionGroup var registry: RegistryOptions

    func run() throws {
        guard !endpoints.isEmpty else { throw ModelDeckError("bench compare needs at least one endpoint") }
        let table = try prices.load()
        let opened = try registry.open()
        let latest = try opened.latestBenchRuns(endpoints: endpoints)
        let targets = Dictionary(try opened.targets().map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        var runs: [(run: BenchRun, target: Target)] = []
        let known = Set(try opened.endpointNames())
        if let unknown = endpoints.first(where: { !known.contains($0) }) {
            throw ModelDeckError("unknown endpoint '\(unknown)' (known: \(known.sorted().prefix(20).joined(separator: ", ")))")
        }
        for name in endpoints {
            guard let run = latest[name], let target = targets[run.target] else {
                throw ModelDeckError("endpoint '\(name)' has no bench run yet; run `modeldeck bench \(name)` first")
            }
            runs.append((run, target))
        }
        try Output.print(BenchTables.comparison(runs, table: table), as: output, table: BenchTables.comparison)
    }
}
