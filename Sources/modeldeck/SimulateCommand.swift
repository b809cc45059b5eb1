import ArgumentParser
import Foundation
import ModelDeckCore

struct SimulateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "simulate",
        abstract: "Replay an invocation trace against keep-warm policies and compare cold starts, pings and cost.",
        discussion: """
            The trace is CSV, one invocation a line in time order: timestamp (seconds since the epoch, up to \
            three decimals), endpoint, duration in ms (or with a unit: 250ms, 2s). A header line and # comments \
            are allowed; scripts/traces/generate.py makes synthetic ones, fixtures/traces/ has small examples.

            Each policy runs the daemon's own keep-warm code (KeepWarmPlanner) on a simulated target: one request \
            per instance, a cold start of --cold-start for a request that finds no warm instance, instances stop \
            after --idle-timeout idle. Pings are billed like requests, cold starts included.
              modeldeck simulate fixtures/traces/periodic.csv --idle-timeout 60s
              modeldeck simulate trace.csv --policy off --policy fixed:5m:2 --policy adaptive -o json
              modeldeck simulate trace.csv --endpoint sentiment     memory, idle timeout, prices and cold start of an endpoint
            """)

    @Argument(help: ArgumentHelp("Trace file (CSV).", valueName: "trace"), completion: .file(extensions: ["csv"]))
    var trace: String

    @Option(help: ArgumentHelp("A policy to compare: off, adaptive, fixed:INTERVAL[:CONCURRENCY] (e.g. fixed:5m:2). Repeatable; default: off, fixed:5m, adaptive.", valueName: "policy"))
    var policy: [String] = []

    @Option(help: ArgumentHelp("Take memory, idle timeout, prices and the measured cold start from this registry endpoint; flags still override.", valueName: "name"),
            completion: endpointCompletion)
    var endpoint: String?

    @Option(name: .customLong("cold-start"), help: ArgumentHelp("How long an instance takes to start (default 2s).", valueName: "duration"))
    var coldStart: String?

    @Option(name: .customLong("idle-timeout"), help: ArgumentHelp("How long the target keeps an idle instance (default 10m).", valueName: "duration"))
    var idleTimeout: String?

    @Option(help: ArgumentHelp("How long a ping runs on a warm instance.", valueName: "duration"))
    var ping: String = "10ms"

    @Option(help: ArgumentHelp("Memory per instance, for cost: 512 (MB), 1GB (default 512).", valueName: "size"))
    var memory: String?

    @Option(help: ArgumentHelp("Platform whose prices apply, billed per invocation (default aws-lambda).", valueName: "platform"))
    var platform: String?

    @Option(help: ArgumentHelp("Region of the prices (default us-east-1).", valueName: "region"))
    var region: String?

    @Option(help: ArgumentHelp("CPU architecture: x86_64 or arm64 (default x86_64).", valueName: "arch"))
    var arch: String?

    @OptionGroup var prices: PriceOptions

    @OptionGroup var registry: RegistryOptions

    @Option(name: [.customShort("o"), .long], help: "Output format: table, json or yaml.")
    var output: OutputFormat = .table

    /// The longest trace `simulate` replays: a year (the Azure Functions traces of "Serverless in the Wild"
    /// cover two weeks).
    static let maxSpanMilliseconds: Int64 = 366 * 86_400_000

    static func parsePolicy(_ text: String) throws -> KeepWarmPolicy {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        switch parts[0] {
        case "off" where parts.count == 1: return .off
        case "adaptive" where parts.count == 1: return .adaptive
        case "fixed" where parts.count == 2 || parts.count == 3:
            let every = try Quantity.seconds(parts[1], what: "--policy \(text): interval")
            guard every >= 1 else { throw ModelDeckError("--policy \(text): interval must be at least 1s") }
            var concurrency = 1
            if parts.count == 3 {
                guard let count = Int(parts[2]), (1...1_000).contains(count) else {
                    throw ModelDeckError("--policy \(text): concurrency '\(parts[2])' must be a whole number from 1 to 1,000")
                }
                concurrency = count
            }
            return .fixed(everySeconds: every, concurrency: concurrency)
        default:
            throw ModelDeckError("--policy '\(text)' is not a policy; use off, adaptive or fixed:INTERVAL[:CONCURRENCY], e.g. fixed:5m:2")
        }
    }

    func target() throws -> SimulatedTarget {
        func positive(_ text: String, _ flag: String) throws -> Int64 {
            let ms = try Quantity.milliseconds(text, what: flag)
            guard ms > 0 else { throw ModelDeckError("\(flag) \(text) must be above zero") }
            return ms
        }
        let table = try prices.load()
        // An endpoint of the registry gives the defaults (read only); explicit flags win.
        let like = try endpoint.map { name in try registry.open().simulationSettings(endpoint: name, table: table) }
        var cold = like?.coldStartMilliseconds ?? 2_000
        if let coldStart {
            cold = try positive(coldStart, "--cold-start")
            guard cold <= 900_000 else { throw ModelDeckError("--cold-start \(coldStart) is over the limit of 15m") }
        }
        var idle = like?.idleTimeoutSeconds ?? 600
        if let idleTimeout {
            idle = try Quantity.seconds(idleTimeout, what: "--idle-timeout")
            guard idle > 0 else { throw ModelDeckError("--idle-timeout \(idleTimeout) must be above zero") }
            guard idle <= 86_400 else { throw ModelDeckError("--idle-timeout \(idleTimeout) is over the limit of 1d") }
        }
        guard idle > 0 else { throw ModelDeckError("endpoint '\(endpoint ?? "")' has no idle timeout (0s) to simulate; pass --idle-timeout") }
        let pingMs = try positive(ping, "--ping")
        guard pingMs <= 900_000 else { throw ModelDeckError("--ping \(ping) is over the limit of 15m") }
        var mb = like?.memoryMB ?? 512
        if let memory {
            mb = try Quantity.megabytes(memory, what: "--memory")
            guard mb > 0 else { throw ModelDeckError("--memory \(memory) must be above zero") }
        }
        let rates: InvocationRates
        if let endpointRates = like?.rates, platform == nil, region == nil, arch == nil {
            rates = endpointRates
        } else if let like, like.rates == nil, platform == nil {
            throw ModelDeckError("endpoint '\(endpoint ?? "")' runs on target \(like.target.label), which is not priced; give the target price_as or pass --platform")
        } else {
            rates = try table.invocationRates(platform: platform ?? like?.rates?.platform ?? "aws-lambda",
                                              region: region ?? like?.rates?.region ?? TargetPricing.defaultRegion,
                                              architecture: arch ?? like?.rates?.architecture ?? "x86_64")
        }
        return SimulatedTarget(coldStartMilliseconds: cold, idleTimeoutSeconds: idle, pingMilliseconds: pingMs, memoryMB: mb, rates: rates)
    }

    struct Report: Encodable {
        var trace: String
        var invocations: Int
        var endpoints: Int
        var coldStartMs: Int64
        var idleTimeoutSeconds: Int64
        var pingMs: Int64
        var memoryMB: Int
        var pricedAs: String
        var outcomes: [SimulationOutcome]
    }

    func run() throws {
        // Every figure is checked before the trace is read, so a typo fails fast.
        let policies = try (policy.isEmpty ? ["off", "fixed:5m", "adaptive"] : policy).map(Self.parsePolicy)
        let target = try target()
        let replay = try Trace.load(path: trace)
        // The replay steps through the trace's whole span: bound the work by what the trace can mean.
        // (Kept here, at the edge, while the trace parser is being reworked; it may move into `Trace`.)
        if let first = replay.times.first, let last = replay.times.last, last - first > Self.maxSpanMilliseconds {
            throw ModelDeckError("\(trace): the trace spans \(Format.duration(milliseconds: last - first)), over the limit of "
                                 + "\(Format.duration(milliseconds: Self.maxSpanMilliseconds)); replay it in parts")
        }
        let outcomes = policies.map { KeepWarmSimulator.run(replay, policy: $0, target: target) }
        let report = Report(trace: trace, invocations: replay.count, endpoints: replay.endpoints.count,
                            coldStartMs: target.coldStartMilliseconds, idleTimeoutSeconds: target.idleTimeoutSeconds,
                            pingMs: target.pingMilliseconds, memoryMB: target.memoryMB,
                            pricedAs: "\(target.rates.platform) \(target.rates.architecture) \(target.rates.region)", outcomes: outcomes)
        switch output {
        case .table:
            let span = Format.duration(seconds: (replay.times.last! - replay.times.first!) / 1_000)
            print("\(Format.grouped(Int64(replay.count))) invocations of \(replay.endpoints.count) endpoint\(replay.endpoints.count == 1 ? "" : "s") over \(span); "
                  + "cold start \(Format.duration(milliseconds: target.coldStartMilliseconds)), idle timeout \(Format.duration(seconds: target.idleTimeoutSeconds)), "
                  + "\(Format.megabytes(target.memoryMB)) priced as \(report.pricedAs)")
            print(Self.table(outcomes).render(), terminator: "")
            // Adaptive against each fixed warmer, said plainly whichever way it went.
            for (index, policy) in policies.enumerated() where policy == .adaptive {
                for (other, otherPolicy) in zip(outcomes, policies) where otherPolicy.mode == "fixed" {
                    print(outcomes[index].compared(with: other))
                }
            }
        case .json, .yaml:
            try Output.printDocument(report, as: output)
        }
    }

    static func table(_ outcomes: [SimulationOutcome]) -> Table {
        Table(headers: ["policy", "requests", "cold starts", "cold rate", "p99", "pings (cold)", "warm instance-s", "traffic cost", "ping cost", "total"],
              rows: outcomes.map { outcome in
                  [outcome.policy, Format.grouped(outcome.requests), Format.grouped(outcome.coldStarts), Format.percent(ppm: outcome.coldStartPPM),
                   outcome.p99Ms.map { Format.duration(milliseconds: Int64($0.rounded())) } ?? "-",
                   "\(Format.grouped(outcome.pings)) (\(Format.grouped(outcome.coldPings)))", Format.grouped(outcome.warmInstanceSeconds),
                   Format.dollars(micros: outcome.trafficCostMicros), Format.dollars(micros: outcome.pingCostMicros),
                   Format.dollars(micros: outcome.totalCostMicros)]
              })
    }
}
