import Foundation
import ModelDeckCore
import Testing

/// `modeldeck cost estimate`, `cost burn` and `simulate` through the real binary.
@Suite(.serialized)
struct CostCommandTests {
    struct Outcome: Decodable {
        var policy: String
        var coldStarts: Int
        var pings: Int
        var pingCostMicros: Int
        var totalCostMicros: Int
    }

    struct Simulation: Decodable {
        var invocations: Int
        var outcomes: [Outcome]
    }

    func simulate(_ trace: String, _ extra: [String]) throws -> [String: Outcome] {
        let result = try CLI.run(["simulate", "fixtures/traces/\(trace).csv", "-o", "json"] + extra)
        #expect(result.status == 0, "\(result.stderr)")
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        let simulation = try decoder.decode(Simulation.self, from: Data(result.stdout.utf8))
        #expect(simulation.invocations > 200)
        return Dictionary(uniqueKeysWithValues: simulation.outcomes.map { ($0.policy, $0) })
    }

    @Test func estimatePrintsEveryPlatformPerDayAndMonth() throws {
        let result = try CLI.run(["cost", "estimate", "--requests", "10000/day", "--duration", "200ms", "--memory", "512"])
        #expect(result.status == 0, "\(result.stderr)")
        let lines = result.stdout.split(separator: "\n").map(String.init)
        #expect(lines[0].contains("break-even against sagemaker-realtime ml.t2.medium"))
        let lambda = try #require(lines.first { $0.hasPrefix("aws-lambda") && $0.contains("on demand") })
        #expect(lambda.contains("$0.018667") && lambda.contains("$0.560001") && lambda.contains("719,998/day (8.3/s)"))
        #expect(lines.contains { $0.hasPrefix("ecs-fargate") && $0.contains("each task billed 1m (the minimum)") })
        #expect(lines.contains { $0.hasPrefix("sagemaker-realtime") && $0.contains("$40.32") })
        // The batch rows: Fargate task time for the day's requests, Batch Transform's instance-hours on the instance named.
        #expect(lines.contains { $0.hasPrefix("ecs-fargate") && $0.contains("a batch job a day") && $0.contains("$0.006857") && $0.contains("33m20s of task time") })
        #expect(lines.contains { $0.hasPrefix("sagemaker-batch-transform") && $0.contains("ml.m5.large, a job a day") && $0.contains("0.56 instance-hours")
                && $0.contains("$0.063889") && $0.contains("$1.916667") })
        // The seeds' table, whole: every platform it compares has a priced row (Lambda, SageMaker serverless, the
        // real-time ml.t2.medium baseline, Fargate as a batch job, Batch Transform).
        for (platform, option) in [("aws-lambda", "on demand"), ("sagemaker-serverless", "on demand"), ("sagemaker-realtime", "ml.t2.medium always on"),
                                   ("ecs-fargate", "a batch job a day"), ("sagemaker-batch-transform", "ml.m5.large, a job a day")] {
            let row = try #require(lines.first { $0.hasPrefix(platform) && $0.contains(option) }, "\(platform) \(option)")
            #expect(row.contains("$") && !row.contains("the price table has no"), "\(row)")
        }
        let other = try CLI.run(["cost", "estimate", "--requests", "10000/day", "--duration", "200ms", "--memory", "512", "--batch-instance", "ml.c5.xlarge"])
        #expect(other.stdout.contains("ml.c5.xlarge, a job a day"))
        let refused = try CLI.run(["cost", "estimate", "--requests", "10000/day", "--duration", "200ms", "--memory", "512", "--batch-instance", "m5 large"])
        #expect(refused.status != 0 && refused.stdout.isEmpty)
        #expect(refused.stderr == "Error: --batch-instance 'm5 large' is not a SageMaker instance type such as ml.m5.large\n")

        let json = try CLI.run(["cost", "estimate", "--requests", "5/s", "--duration", "1s", "--memory", "2GB", "--arch", "arm64", "-o", "json"])
        #expect(json.status == 0)
        let report = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
        let rows = try #require(report?["rows"] as? [[String: Any]])
        // 432,000 requests a day × (1 s × 2 GB × $0.0000133334 + $0.0000002) = $11.6064576 → 11,606,458 µ$.
        #expect(rows.first { $0["platform"] as? String == "aws-lambda" }?["per_day_micros"] as? Int == 11_606_458)
    }

    @Test func adaptiveBeatsAFixedFiveMinuteWarmerWhereTheIdleTimeoutIsShorterThanItsInterval() throws {
        // A target that stops idle instances after a minute: a ping every 5 minutes mostly finds the instance
        // gone (cold pings, billed with their init), while adaptive keeps it warm just around the expected request.
        for trace in ["periodic", "diurnal", "rare", "bursty"] {
            let outcomes = try simulate(trace, ["--idle-timeout", "60s"])
            let fixed = try #require(outcomes["every 5m"]), adaptive = try #require(outcomes["adaptive"])
            #expect(adaptive.coldStarts < fixed.coldStarts, "\(trace)")
            #expect(adaptive.pingCostMicros <= fixed.pingCostMicros, "\(trace)")
            #expect(try #require(outcomes["off"]).coldStarts > adaptive.coldStarts, "\(trace)")
        }
    }

    @Test func withALongIdleTimeoutAdaptiveMatchesTheFixedWarmerOnPeriodicTrafficForLessPingCost() throws {
        let outcomes = try simulate("periodic", ["--idle-timeout", "10m", "--policy", "fixed:5m", "--policy", "adaptive"])
        let fixed = try #require(outcomes["every 5m"]), adaptive = try #require(outcomes["adaptive"])
        #expect(adaptive.coldStarts <= fixed.coldStarts)
        #expect(adaptive.pings < fixed.pings)
        #expect(adaptive.pingCostMicros < fixed.pingCostMicros)
    }

    @Test func simulateReadsTheAzureFilesAndPrintsEveryIdleTimeoutAndEndpoint() throws {
        let scratch = Scratch()
        defer { scratch.cleanUp() }
        // Two functions of the 2019 format: one called in minutes 1, 31 and 61 (every half hour), one every minute for two hours.
        func line(_ function: String, _ counts: [Int: Int]) -> String {
            "o,a,\(function),http," + (1...1_440).map { String(counts[$0] ?? 0) }.joined(separator: ",") + "\n"
        }
        var busy: [Int: Int] = [:]
        for minute in 1...120 { busy[minute] = 2 }
        let invocations = scratch.file("inv.csv", line("rare0001aaaa", [1: 1, 31: 1, 61: 1]) + line("busy0002bbbb", busy))
        let result = try CLI.run(["simulate", "--format", "azure2019", invocations, "--idle-timeout", "5m", "--idle-timeout", "20m",
                                  "--policy", "fixed:5m", "--policy", "adaptive", "--policy", "greedy-dual:1", "--per-endpoint", "-o", "json"])
        #expect(result.status == 0, "\(result.stderr)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        #expect(report["invocations"] as? Int == 243)
        #expect(report["format"] as? String == "azure2019")
        let byIdle = try #require(report["by_idle_timeout"] as? [[String: Any]])
        #expect(byIdle.map { $0["idle_timeout_seconds"] as? Int } == [300, 1_200])
        let outcomes = try #require(byIdle[0]["outcomes"] as? [[String: Any]])
        #expect(outcomes.map { $0["policy"] as? String } == ["every 5m", "adaptive", "greedy-dual ×1"])
        let endpoints = try #require(outcomes[0]["endpoints"] as? [[String: Any]])
        #expect(endpoints.map { $0["endpoint"] as? String } == ["rare0001-http", "busy0002-http"])
        #expect(outcomes.allSatisfy { $0["warm_hit_rate"] is String && $0["wasted_warm_instance_seconds"] is Int })
        // The table: a row per idle timeout and policy, and per endpoint what warming cost against what it avoided.
        let table = try CLI.run(["simulate", "--format", "azure2019", invocations, "--idle-timeout", "5m", "--idle-timeout", "20m", "--per-endpoint"])
        #expect(table.status == 0, "\(table.stderr)")
        #expect(table.stdout.contains("IDLE TIMEOUT") && table.stdout.contains("WARM HITS") && table.stdout.contains("WASTED WARM-S"))
        #expect(table.stdout.contains("adaptive, idle timeout 20m: per endpoint, against keep-warm off"))
        #expect(table.stdout.contains("PER AVOIDED"))
        // One half of the endpoints.
        let half = try CLI.run(["simulate", "--format", "azure2019", invocations, "--split", "odd", "-o", "json"])
        #expect(try #require(try JSONSerialization.jsonObject(with: Data(half.stdout.utf8)) as? [String: Any])["invocations"] as? Int == 3)
    }

    @Test func simulateTakesAnEndpointsSettingsFromTheRegistry() throws {
        let scratch = Scratch()
        defer { scratch.cleanUp() }
        let deck = scratch.file("deck.yaml", remoteDeck(endpoints: ["on-lambda", "on-local"], replacements: [
            ("  - name: on-lambda\n    model: sentiment\n    target: local\n", "  - name: on-lambda\n    model: sentiment\n    target: lambda-eu\n"),
        ]))
        let applied = try CLI.run(["apply", "-f", deck, "--registry", scratch.registry])
        #expect(applied.status == 0, "\(applied.stderr)")
        let before = try dump(registryAt: scratch.registry)
        let result = try CLI.run(["simulate", "fixtures/traces/periodic.csv", "--endpoint", "on-lambda", "--registry", scratch.registry])
        #expect(result.status == 0, "\(result.stderr)")
        // The endpoint's 512 MB and default 5-minute idle timeout, its target's Lambda prices in eu-central-1.
        #expect(result.stdout.contains("cold start 2s, idle timeout 5m, pings of 10ms, 512 MB priced as aws-lambda x86_64 eu-central-1"))
        let overridden = try CLI.run(["simulate", "fixtures/traces/periodic.csv", "--endpoint", "on-lambda", "--arch", "arm64",
                                      "--idle-timeout", "1m", "--registry", scratch.registry])
        #expect(overridden.stdout.contains("idle timeout 1m, pings of 10ms, 512 MB priced as aws-lambda arm64 eu-central-1"))
        // A free local target cannot be priced without saying how.
        let free = try CLI.run(["simulate", "fixtures/traces/periodic.csv", "--endpoint", "on-local", "--registry", scratch.registry])
        #expect(free.status != 0)
        #expect(free.stderr.contains("endpoint 'on-local' runs on target 'local' (local), which is not priced; give the target price_as or pass --platform"))
        let unknown = try CLI.run(["simulate", "fixtures/traces/periodic.csv", "--endpoint", "nope", "--registry", scratch.registry])
        #expect(unknown.status != 0)
        #expect(unknown.stderr.contains("unknown endpoint 'nope'"))
        #expect(try dump(registryAt: scratch.registry) == before)
    }

    @Test func simulateTakesTheEndpointsLearnedKeepAliveOverItsIdleTimeout() throws {
        let scratch = Scratch()
        defer { scratch.cleanUp() }
        let deck = scratch.file("deck.yaml", remoteDeck(endpoints: ["on-lambda"], replacements: [
            ("  - name: on-lambda\n    model: sentiment\n    target: local\n", "  - name: on-lambda\n    model: sentiment\n    target: lambda-eu\n"),
        ]))
        #expect(try CLI.run(["apply", "-f", deck, "--registry", scratch.registry]).status == 0)
        // A bench run's luke-warm curve: warm after 1 and 4 minutes idle, cold after 7.
        let registry = try Registry(path: scratch.registry)
        let version = try #require(try registry.versions(model: "sentiment").first?.id)
        let run = try registry.startBenchRun(try registry.benchSubject(endpoint: "on-lambda", version: version, force: true, reason: "test"),
                                             plan: BenchPlan(), reason: nil)
        var figures = BenchFigures()
        let warm = BenchSample(due: .zero, latencyMicroseconds: 20_000, status: 200)
        let cold = BenchSample(due: .zero, latencyMicroseconds: 900_000, status: 200, coldStart: true)
        figures.lukeWarm = [.init(gapMs: 60_000, samples: [warm]), .init(gapMs: 240_000, samples: [warm]), .init(gapMs: 420_000, samples: [cold])]
        try registry.finishBenchRun(run.id, figures: figures, partial: false)
        let result = try CLI.run(["simulate", "fixtures/traces/periodic.csv", "--endpoint", "on-lambda", "--registry", scratch.registry])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("cold start 2s, idle timeout 4m, pings of 10ms"))
        // A flag still wins.
        let overridden = try CLI.run(["simulate", "fixtures/traces/periodic.csv", "--endpoint", "on-lambda", "--idle-timeout", "1m",
                                      "--registry", scratch.registry])
        #expect(overridden.stdout.contains("idle timeout 1m, pings of 10ms"))
    }

    @Test func burnReadsTheRegistry() throws {
        let scratch = Scratch()
        defer { scratch.cleanUp() }
        let deck = scratch.file("deck.yaml", remoteDeck(replacements: [("    kind: local\n", "    kind: local\n    price_as: aws-lambda\n    region: eu-central-1\n")]))
        #expect(try CLI.run(["apply", "-f", deck, "--registry", scratch.registry]).status == 0)
        let result = try CLI.run(["cost", "burn", "--registry", scratch.registry])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("sentiment   aws-lambda x86_64 eu-central-1   $0.00"))
    }

    /// Bad input: one line on stderr naming the problem, nothing on stdout, a non-zero exit, and no registry
    /// created or changed.
    func expectRefused(_ arguments: [String], _ message: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let scratch = Scratch()
        defer { scratch.cleanUp() }
        let result = try CLI.run(arguments, environment: ["MODELDECK_REGISTRY": scratch.registry])
        #expect(result.status != 0, "exit 0 for \(arguments)", sourceLocation: sourceLocation)
        let lines = result.stderr.split(separator: "\n", omittingEmptySubsequences: true)
        #expect(lines.count == 1, "stderr was: \(result.stderr)", sourceLocation: sourceLocation)
        #expect(result.stderr.contains(message), "stderr was: \(result.stderr)", sourceLocation: sourceLocation)
        #expect(result.stdout.isEmpty, "stdout was: \(result.stdout)", sourceLocation: sourceLocation)
        #expect(!FileManager.default.fileExists(atPath: scratch.registry), sourceLocation: sourceLocation)
    }

    @Test func badEstimateInput() throws {
        let good = ["cost", "estimate", "--requests", "10000/day", "--duration", "200ms", "--memory", "512"]
        func with(_ flag: String, _ value: String) -> [String] {
            var arguments = good
            if let index = arguments.firstIndex(of: flag) { arguments[index + 1] = value } else { arguments += [flag, value] }
            return arguments
        }
        try expectRefused(with("--region", "mars-1"), "unknown region 'mars-1'; the price table (version 2026-11-30) has us-east-1, eu-central-1, us-central1, europe-west1")
        try expectRefused(with("--arch", "sparc"), "architecture 'sparc' is not known; use x86_64 or arm64")
        try expectRefused(with("--requests", "0/day"), "--requests '0/day' is zero; a request rate must be above zero")
        try expectRefused(good.map { $0 == "10000/day" ? "--requests=-5/day" : $0 }.filter { $0 != "--requests" },
                          "--requests '-5/day' is negative")
        try expectRefused(with("--requests", "10000/fortnight"), "has an unknown period 'fortnight'")
        try expectRefused(with("--duration", "soon"), "--duration 'soon' is not a duration")
        try expectRefused(with("--duration", "0ms"), "--duration 0ms must be above zero")
        try expectRefused(with("--memory", "0"), "--memory 0 must be above zero")
        try expectRefused(with("--memory", "lots"), "--memory 'lots' is not a size")
        try expectRefused(with("--payload", "1XB"), "--payload '1XB' is not a size")
        try expectRefused(with("--prices", "/nonexistent/prices.yaml"), "cannot read price table /nonexistent/prices.yaml")
    }

    @Test func badSimulateInput() throws {
        let scratch = Scratch()
        defer { scratch.cleanUp() }
        let trace = "fixtures/traces/periodic.csv"
        let malformed = scratch.file("bad.csv", "timestamp,endpoint,duration_ms\n1800000000.000,a,200\n1800000001.000,a\n")
        try expectRefused(["simulate", malformed], "bad.csv:3: no duration; expected timestamp,endpoint,duration_ms")
        let backwards = scratch.file("back.csv", "1800000001,a,200\n1800000000,a,200\n")
        try expectRefused(["simulate", backwards], "back.csv:2: timestamp 1800000000 is earlier than the line before; the trace must be in time order")
        try expectRefused(["simulate", scratch.path + "/none.csv"], "cannot read trace \(scratch.path)/none.csv")
        try expectRefused(["simulate", trace, "--platform", "gcp-run"], "unknown platform 'gcp-run'")
        try expectRefused(["simulate", trace, "--platform", "ecs-fargate"], "platform 'ecs-fargate' is billed per task, not per invocation")
        try expectRefused(["simulate", trace, "--region", "mars-1"], "unknown region 'mars-1'")
        try expectRefused(["simulate", trace, "--idle-timeout", "0s"], "--idle-timeout 0s must be above zero")
        try expectRefused(["simulate", trace, "--cold-start", "later"], "--cold-start 'later' is not a duration")
        try expectRefused(["simulate", trace, "--memory", "0"], "--memory 0 must be above zero")
        try expectRefused(["simulate", trace, "--policy", "sometimes"], "--policy 'sometimes' is not a policy; use off, adaptive, fixed:INTERVAL[:CONCURRENCY] (e.g. fixed:5m:2), greedy-dual[:INSTANCES] or provisioned:N")
        try expectRefused(["simulate", trace, "--policy", "provisioned:0"], "--policy 'provisioned:0' is not a policy; use provisioned:N with N environments per endpoint from 1 to 1,000, e.g. provisioned:2")
        try expectRefused(["simulate", trace, "--platform", "sagemaker-serverless", "--policy", "provisioned:1"],
                          "--policy provisioned:1 needs provisioned-concurrency prices, and the price table has none for sagemaker-serverless x86_64 in us-east-1")
        try expectRefused(["simulate", trace, "--policy", "greedy-dual:none"], "--policy greedy-dual:none: instances 'none' must be a whole number from 1 to 1,000,000")
        try expectRefused(["simulate", trace, "--idle-timeout", "5m", "--idle-timeout", "2d"], "--idle-timeout 2d is over the limit of 1d")
        try expectRefused(["simulate"], "no trace file given")
        try expectRefused(["simulate", trace, trace], "--format modeldeck takes one trace file; got 2")
        try expectRefused(["simulate", "--format", "azure2019", trace, trace, trace], "--format azure2019 takes the invocations file and optionally the durations file; got 3 files")
        // A bad line of an Azure file is refused with its number, its text stripped of terminal controls.
        let azure = scratch.file("azure.txt", "app,func,end_timestamp,duration\na,f,10.5,0.25\na,f,\u{1B}[2J12,0.1\n")
        try expectRefused(["simulate", "--format", "azure2021", azure], "azure.txt:3: end_timestamp '12' is not seconds from the start of the trace (0 to 100 years)")
        let minutes = scratch.file("minutes.csv", "o,a,f,http,1,2\n")
        try expectRefused(["simulate", "--format", "azure2019", minutes], "minutes.csv:1: expected 1,444 fields")
        try expectRefused(["simulate", trace, "--policy", "fixed:5m:0"], "--policy fixed:5m:0: concurrency '0' must be a whole number from 1 to 1,000")
    }

    @Test func aDeckPricingALocalTargetAsAnUnknownPlatformIsRefusedAndTheRegistryIsUnchanged() throws {
        let scratch = Scratch()
        defer { scratch.cleanUp() }
        #expect(try CLI.run(["apply", "-f", scratch.file("good.yaml", remoteDeck()), "--registry", scratch.registry]).status == 0)
        let before = try dump(registryAt: scratch.registry)
        let bad = scratch.file("bad.yaml", remoteDeck(replacements: [("    kind: local\n", "    kind: local\n    price_as: gcp-run\n")]))
        let result = try CLI.run(["apply", "-f", bad, "--registry", scratch.registry])
        #expect(result.status != 0)
        #expect(result.stderr.split(separator: "\n").count == 1)
        #expect(result.stderr.contains("bad.yaml:5:15: target 'local': unknown platform 'gcp-run'"))
        #expect(try dump(registryAt: scratch.registry) == before)
    }
}
