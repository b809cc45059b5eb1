import ArgumentParser
import Foundation
import ModelDeckCLI
import ModelDeckCore

struct SimulateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "simulate",
        abstract: "Replay an invocation trace against keep-warm policies and compare cold starts, pings and cost.",
        discussion: """
            The trace is CSV, one invocation a line in time order: timestamp (seconds since the epoch, with \
            decimals), endpoint, duration in ms with decimals (4.6) or with a unit (250ms, 2s). A header line and \
            # comments are allowed; scripts/traces/generate.py makes synthetic ones, fixtures/traces/ has small \
            examples. The Azure Functions public traces are read as they come: --format azure2019 \
            INVOCATIONS.csv [DURATIONS.csv] (per-minute counts, spread evenly through each minute), --format \
            azure2021 FILE (one invocation a line).

            Each policy runs the daemon's own keep-warm code (KeepWarmPlanner) on a simulated target: one request \
            per instance, a cold start of --cold-start for a request that finds no warm instance, instances stop \
            after --idle-timeout idle. Pings are billed like requests, cold starts included.
              modeldeck simulate fixtures/traces/periodic.csv --idle-timeout 60s
              modeldeck simulate trace.csv --idle-timeout 5m --idle-timeout 10m --idle-timeout 15m --cold-start 3s
              modeldeck simulate --format azure2019 invocations_per_function_md.anon.d01.csv function_durations_percentiles.anon.d01.csv
              modeldeck simulate trace.csv --policy off --policy fixed:5m:2 --policy adaptive -o json
              modeldeck simulate trace.csv --endpoint sentiment     memory, idle timeout, prices and cold start of an endpoint
            """)

    @Argument(help: ArgumentHelp("Trace file (CSV); with --format azure2019, the invocations file and optionally the durations file.", valueName: "trace"),
              completion: .file(extensions: ["csv", "txt"]))
    var files: [String] = []

    enum TraceFormat: String, ExpressibleByArgument, CaseIterable {
        case modeldeck, azure2019, azure2021
    }

    @Option(help: ArgumentHelp("Trace format: modeldeck (timestamp,endpoint,duration_ms), azure2019 or azure2021.", valueName: "format"))
    var format: TraceFormat = .modeldeck

    @Option(help: ArgumentHelp("A policy to compare: off, adaptive, fixed:INTERVAL[:CONCURRENCY] (e.g. fixed:5m:2), greedy-dual[:INSTANCES] (FaasCache; default half the endpoints), provisioned:N (Lambda provisioned concurrency, N environments per endpoint). Repeatable; default: off, fixed:5m, adaptive.", valueName: "policy"))
    var policy: [String] = []

    enum Split: String, ExpressibleByArgument, CaseIterable { case odd, even }

    @Option(help: ArgumentHelp("Replay only the odd- or even-numbered endpoints (in order of first appearance; the file's order for Azure files): tune on one half, check on the other.", valueName: "half"))
    var split: Split?

    @Flag(name: .customLong("per-endpoint"), help: "Per endpoint: what warming cost against the cold starts it avoided (against keep-warm off).")
    var perEndpoint = false

    @Option(help: ArgumentHelp("Take memory, idle timeout (the platform keep-alive learned, when there is one), prices and the measured cold start from this registry endpoint; flags still override.", valueName: "name"),
            completion: endpointCompletion)
    var endpoint: String?

    @Option(name: .customLong("cold-start"), help: ArgumentHelp("How long an instance takes to start (default 2s).", valueName: "duration"))
    var coldStart: String?

    @Option(name: .customLong("idle-timeout"), help: ArgumentHelp("How long the target keeps an idle instance (default 10m). Repeatable: a row per policy and idle timeout.", valueName: "duration"))
    var idleTimeout: [String] = []

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

    /// A policy `simulate` can replay: the daemon's own, or a published one to compare with.
    enum SimulatedPolicy: Equatable {
        case planner(KeepWarmPolicy)
        /// FaasCache's Greedy-Dual keep-alive with a cache of this many warm instances (nil: the default).
        case greedyDual(instances: Int?)
        /// Lambda provisioned concurrency: this many environments per endpoint, all the time, no pings.
        case provisioned(environments: Int)
    }

    static func parseSimulated(_ text: String) throws -> SimulatedPolicy {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        if parts[0] == "provisioned" {
            guard parts.count == 2, let count = Int(parts[1]), ProvisionedConcurrency.limit.contains(count) else {
                throw ModelDeckError("--policy '\(text)' is not a policy; use provisioned:N with N environments per endpoint from 1 to 1,000, e.g. provisioned:2")
            }
            return .provisioned(environments: count)
        }
        guard parts[0] == "greedy-dual" else { return .planner(try parsePolicy(text)) }
        guard parts.count <= 2 else { throw ModelDeckError("--policy '\(text)' is not a policy; use greedy-dual or greedy-dual:INSTANCES, e.g. greedy-dual:50") }
        guard parts.count == 2 else { return .greedyDual(instances: nil) }
        guard let count = Int(parts[1]), (1...1_000_000).contains(count) else {
            throw ModelDeckError("--policy \(text): instances '\(parts[1])' must be a whole number from 1 to 1,000,000")
        }
        return .greedyDual(instances: count)
    }

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
            throw ModelDeckError("--policy '\(text)' is not a policy; use off, adaptive, fixed:INTERVAL[:CONCURRENCY] (e.g. fixed:5m:2), greedy-dual[:INSTANCES] or provisioned:N")
        }
    }

    func targets() throws -> [SimulatedTarget] {
        func positive(_ text: String, _ flag: String) throws -> Int64 {
            let ms = try Quantity.milliseconds(text, what: flag)
            guard ms > 0 else { throw ModelDeckError("\(flag) \(text) must be above zero") }
            return ms
        }
        let table = try prices.load()
        // An endpoint of the registry gives the defaults (read only); explicit flags win.
        var like: SimulatedTarget.EndpointSettings?
        var learned: LearnedKeepAlive?
        if let name = endpoint {
            let opened = try registry.open()
            like = try opened.simulationSettings(endpoint: name, table: table)
            // The idle timeout the daemon's planner uses: the platform's keep-alive learned from the endpoint's
            // traffic and bench runs, when there is one.
            learned = try opened.learnedKeepAlives(endpoints: [name], since: Date().addingTimeInterval(-KeepAliveLearner.lookbackSeconds))[name]
        }
        var cold = like?.coldStartMilliseconds ?? 2_000
        if let coldStart {
            cold = try positive(coldStart, "--cold-start")
            guard cold <= 900_000 else { throw ModelDeckError("--cold-start \(coldStart) is over the limit of 15m") }
        }
        var idles = [learned?.seconds ?? like?.idleTimeoutSeconds ?? 600]
        if !idleTimeout.isEmpty {
            idles = try idleTimeout.map { text in
                let idle = try Quantity.seconds(text, what: "--idle-timeout")
                guard idle > 0 else { throw ModelDeckError("--idle-timeout \(text) must be above zero") }
                guard idle <= 86_400 else { throw ModelDeckError("--idle-timeout \(text) is over the limit of 1d") }
                return idle
            }
        }
        guard idles[0] > 0 else { throw ModelDeckError("endpoint '\(endpoint ?? "")' has no idle timeout (0s) to simulate; pass --idle-timeout") }
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
        // The simulator counts memory time (MB·ms) only; a platform that also prices vCPU time apart would come out cheap.
        guard rates.perVCPUSecond == 0 else {
            throw ModelDeckError("simulate prices memory time only, and \(rates.platform) also prices vCPU time; pass --platform aws-lambda or sagemaker-serverless")
        }
        let provisionedRates = try table.provisionedRates(platform: rates.platform, region: rates.region, architecture: rates.architecture)
        if provisionedRates == nil, let asked = policy.first(where: { $0.hasPrefix("provisioned:") }) {
            throw ModelDeckError("--policy \(TerminalText.sanitize(asked)) needs provisioned-concurrency prices, and the price table has none for \(rates.platform) \(rates.architecture) in \(rates.region)")
        }
        return idles.map {
            var target = SimulatedTarget(coldStartMilliseconds: cold, idleTimeoutSeconds: $0, pingMilliseconds: pingMs, memoryMB: mb, rates: rates)
            target.provisionedRates = provisionedRates
            return target
        }
    }

    func load() throws -> Trace {
        switch (format, files.count) {
        case (.modeldeck, 1): return try Trace.load(path: files[0])
        case (.azure2021, 1): return try AzureTraces.load2021(path: files[0])
        case (.azure2019, 1), (.azure2019, 2): return try AzureTraces.load2019(invocations: files[0], durations: files.count == 2 ? files[1] : nil)
        case (.azure2019, _): throw ModelDeckError("--format azure2019 takes the invocations file and optionally the durations file; got \(files.count) files")
        default: throw ModelDeckError("--format \(format.rawValue) takes one trace file; got \(files.count)")
        }
    }

    struct Report: Encodable {
        var trace: String
        var format: String
        var invocations: Int
        var endpoints: Int
        var coldStartMs: Int64
        var idleTimeoutSeconds: Int64
        var pingMs: Int64
        var memoryMB: Int
        var pricedAs: String
        var outcomes: [SimulationOutcome]
        /// With several idle timeouts: the outcomes for each (`outcomes` holds the first's).
        var byIdleTimeout: [IdleTimeoutOutcomes]?
    }

    struct IdleTimeoutOutcomes: Encodable {
        var idleTimeoutSeconds: Int64
        var outcomes: [SimulationOutcome]
    }

    func run() throws {
        guard !files.isEmpty else { throw ModelDeckError("no trace file given; e.g. modeldeck simulate fixtures/traces/periodic.csv") }
        // Every figure is checked before the trace is read, so a typo fails fast.
        let policies = try (policy.isEmpty ? ["off", "fixed:5m", "adaptive"] : policy).map(Self.parseSimulated)
        let targets = try targets()
        let replay = try load()
        // The replay steps through the trace's whole span (steady pings in one step each): still, bound the work
        // by what a trace can mean.
        if let start = replay.times.first, let end = replay.times.last, (end - start) / 1_000 > Self.maxSpanMilliseconds {
            throw ModelDeckError("\(files[0]): the trace spans \(Format.duration(milliseconds: (end - start) / 1_000)), over the limit of "
                                 + "\(Format.duration(milliseconds: Self.maxSpanMilliseconds)); replay it in parts")
        }
        var only: Set<Int32>? = nil
        if let split {
            only = Set((0..<Int32(replay.endpoints.count)).filter { $0 % 2 == (split == .odd ? 0 : 1) })
        }
        // Per endpoint, the cold starts warming avoided are counted against keep-warm off.
        let baseline = perEndpoint && !policies.contains(.planner(.off))
        let endpointCount = only?.count ?? replay.endpoints.count
        let grouped = CallsByEndpoint(replay, only: only)
        let runs = targets.map { target in
            (target, (baseline ? [.planner(.off)] + policies : policies).map { policy in
                switch policy {
                case .planner(let policy): KeepWarmSimulator.run(grouped, policy: policy, target: target)
                case .greedyDual(let instances):
                    GreedyDualSimulator.run(replay, capacity: instances ?? GreedyDualSimulator.defaultCapacity(endpoints: endpointCount),
                                            target: target, endpoints: only)
                case .provisioned(let environments):
                    // `targets()` refused a platform without provisioned-concurrency prices.
                    ProvisionedSimulator.run(grouped, environments: environments, target: target)!
                }
            })
        }
        let first = targets[0]
        let strip = { (outcomes: [SimulationOutcome]) in
            Array((baseline ? outcomes.dropFirst() : outcomes[...]).map { outcome in
                var outcome = outcome
                if !perEndpoint { outcome.endpoints = [] }
                return outcome
            })
        }
        let replayed = runs[0].1.first.map { Int($0.requests) } ?? 0
        let report = Report(trace: files.map(TerminalText.sanitize).joined(separator: " "), format: format.rawValue, invocations: replayed, endpoints: endpointCount,
                            coldStartMs: first.coldStartMilliseconds, idleTimeoutSeconds: first.idleTimeoutSeconds,
                            pingMs: first.pingMilliseconds, memoryMB: first.memoryMB,
                            pricedAs: "\(first.rates.platform) \(first.rates.architecture) \(first.rates.region)", outcomes: strip(runs[0].1),
                            byIdleTimeout: runs.count > 1 ? runs.map { IdleTimeoutOutcomes(idleTimeoutSeconds: $0.0.idleTimeoutSeconds, outcomes: strip($0.1)) } : nil)
        switch output {
        case .table:
            let span = Format.duration(seconds: (replay.times.last! - replay.times.first!) / 1_000_000)
            let idle = targets.count == 1 ? "idle timeout \(Format.duration(seconds: first.idleTimeoutSeconds)), " : ""
            print("\(Format.grouped(Int64(replayed))) invocations of \(endpointCount) endpoint\(endpointCount == 1 ? "" : "s")\(split.map { " (\($0.rawValue)-numbered)" } ?? "") over \(span); "
                  + "cold start \(Format.duration(milliseconds: first.coldStartMilliseconds)), \(idle)pings of \(Format.duration(milliseconds: first.pingMilliseconds)), "
                  + "\(Format.megabytes(first.memoryMB)) priced as \(report.pricedAs)")
            let rows = runs.flatMap { target, outcomes in strip(outcomes).map { (target.idleTimeoutSeconds, $0) } }
            print(Self.table(rows, idleTimeouts: targets.count > 1).render(), terminator: "")
            // Adaptive against each fixed warmer, said plainly whichever way it went.
            for (target, outcomes) in runs {
                let shown = strip(outcomes)
                let prefix = targets.count > 1 ? "idle \(Format.duration(seconds: target.idleTimeoutSeconds)): " : ""
                for (index, policy) in policies.enumerated() where policy == .planner(.adaptive) {
                    for (other, otherPolicy) in zip(shown, policies) where otherPolicy != .planner(.off) && otherPolicy != policy {
                        print(prefix + shown[index].compared(with: other))
                    }
                }
            }
            if perEndpoint {
                for (target, outcomes) in runs {
                    let off = outcomes[policies.firstIndex(of: .planner(.off)).map { $0 + (baseline ? 1 : 0) } ?? 0]
                    for (outcome, policy) in zip(strip(outcomes), policies) where policy != .planner(.off) {
                        print("")
                        print("\(outcome.policy), idle timeout \(Format.duration(seconds: target.idleTimeoutSeconds)): per endpoint, against keep-warm off")
                        print(Self.perEndpointTable(outcome, off: off, coldStartMilliseconds: target.coldStartMilliseconds).render(), terminator: "")
                    }
                }
            }
        case .json, .yaml:
            try Output.printDocument(report, as: output)
        }
    }

    /// Per endpoint: what warming cost (pings, their price, warm time that served no one) against the cold
    /// starts it avoided and the waiting those would have cost (count × the cold start).
    static func perEndpointTable(_ outcome: SimulationOutcome, off: SimulationOutcome, coldStartMilliseconds: Int64) -> Table {
        let offByName = Dictionary(off.endpoints.map { ($0.endpoint, $0) }, uniquingKeysWith: { first, _ in first })
        return Table(headers: ["endpoint", "requests", "cold starts", "avoided", "waiting avoided", "pings (cold)", "warming cost", "per avoided", "wasted warm-s"],
                     rows: outcome.endpoints.map { endpoint in
                         let avoided = (offByName[endpoint.endpoint]?.coldStarts ?? endpoint.coldStarts) - endpoint.coldStarts
                         let perAvoided = avoided > 0 ? Format.dollars(micros: endpoint.warmingCostMicros / avoided) : "-"
                         return [TerminalText.sanitize(endpoint.endpoint), Format.grouped(endpoint.requests), Format.grouped(endpoint.coldStarts),
                                 Format.grouped(avoided), Format.duration(milliseconds: max(0, avoided) * coldStartMilliseconds),
                                 "\(Format.grouped(endpoint.pings)) (\(Format.grouped(endpoint.coldPings)))",
                                 Format.dollars(micros: endpoint.warmingCostMicros), perAvoided, Format.grouped(endpoint.wastedWarmInstanceSeconds)]
                     })
    }

    static func table(_ outcomes: [SimulationOutcome]) -> Table { table(outcomes.map { (0, $0) }, idleTimeouts: false) }

    static func table(_ rows: [(idleTimeoutSeconds: Int64, outcome: SimulationOutcome)], idleTimeouts: Bool) -> Table {
        let headers = ["policy", "requests", "cold starts", "warm hits", "p99", "pings (cold)", "warm instance-s", "wasted warm-s", "traffic cost", "warming cost", "total"]
        return Table(headers: idleTimeouts ? ["idle timeout"] + headers : headers,
                     rows: rows.map { idle, outcome in
                         let row = [outcome.policy, Format.grouped(outcome.requests), Format.grouped(outcome.coldStarts), Format.percent(ppm: outcome.warmHitPPM),
                                    outcome.p99Ms.map { Format.duration(milliseconds: Int64($0.rounded())) } ?? "-",
                                    "\(Format.grouped(outcome.pings)) (\(Format.grouped(outcome.coldPings)))", Format.grouped(outcome.warmInstanceSeconds),
                                    Format.grouped(outcome.wastedWarmInstanceSeconds),
                                    Format.dollars(micros: outcome.trafficCostMicros), Format.dollars(micros: outcome.warmingCostMicros),
                                    Format.dollars(micros: outcome.totalCostMicros)]
                         return idleTimeouts ? [Format.duration(seconds: idle)] + row : row
                     })
    }
}
