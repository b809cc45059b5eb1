import ArgumentParser
import Foundation
import ModelDeckCore

/// `modeldeck-bench simulate TRACE`: how fast `modeldeck simulate` replays a trace — parsing, then each
/// keep-warm policy — in invocations per second. Make a large trace with
/// `scripts/traces/generate.py mix --lines 10000000 -o /tmp/trace-10m.csv`.
struct SimulateBenchmark: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "simulate",
        abstract: "Keep-warm simulator throughput: invocations replayed per second, per policy.")

    @Argument(help: "Trace file (CSV), as for `modeldeck simulate`.")
    var trace: String

    @Option(help: "Idle timeout of the simulated target.")
    var idleTimeout: String = "10m"

    @Option(help: "Replay only these policies (off, every 5m, adaptive, greedy-dual, provisioned; repeatable), e.g. to count one policy's cycles with perf stat.")
    var only: [String] = []

    func run() throws {
        let rates = try PriceTable.standard.invocationRates(platform: "aws-lambda", region: "us-east-1", architecture: "x86_64")
        var target = SimulatedTarget(coldStartMilliseconds: 2_000, idleTimeoutSeconds: try Quantity.seconds(idleTimeout),
                                     pingMilliseconds: 10, memoryMB: 512, rates: rates)
        target.provisionedRates = try PriceTable.standard.provisionedRates(platform: "aws-lambda", region: "us-east-1", architecture: "x86_64")
        let bytes = (try? FileManager.default.attributesOfItem(atPath: trace)[.size] as? Int) ?? 0
        let parsing = Stopwatch()
        let replay = try Trace.load(path: trace)
        let parseMs = parsing.milliseconds
        print("trace: \(Format.grouped(Int64(replay.count))) invocations, \(replay.endpoints.count) endpoints, \(Format.bytes(Int64(bytes)))")
        print(String(format: "parse: %.0f ms, %.2f M lines/s, %.0f MB/s", parseMs, Double(replay.count) / parseMs / 1_000,
                     Double(bytes) / 1_048_576 / (parseMs / 1_000)))
        print(String(format: "resident after parse: %.0f MB", Double(residentBytes()) / 1_048_576))
        // Grouping the calls by endpoint is done once per trace, like parsing, and shared by the policies that replay
        // endpoint by endpoint (greedy-dual replays the trace in time order).
        let grouping = Stopwatch()
        let grouped = CallsByEndpoint(replay)
        let groupMs = grouping.milliseconds
        print(String(format: "group by endpoint: %.0f ms, %.2f M lines/s", groupMs, Double(replay.count) / groupMs / 1_000))
        var total = groupMs
        let capacity = GreedyDualSimulator.defaultCapacity(endpoints: replay.endpoints.count)
        let runs: [(String, () -> SimulationOutcome)] = [KeepWarmPolicy.off, .fixed(everySeconds: 300, concurrency: 1), .adaptive].map { policy in
            (policy.summary, { KeepWarmSimulator.run(grouped, policy: policy, target: target) })
        } + [("greedy-dual", { GreedyDualSimulator.run(replay, capacity: capacity, target: target) }),
             ("provisioned", { ProvisionedSimulator.run(grouped, environments: 1, target: target)! })]
        let chosen = only.isEmpty ? runs : runs.filter { only.contains($0.0) }
        var slowest = Double.infinity
        var slowestOnCPU = Double.infinity
        // The baseline of the same run: `off`, a replay with no keep-warm decisions at all.
        var baseline: Double?
        for (name, run) in chosen {
            let watch = Stopwatch()
            let cpuBefore = threadCPUMilliseconds()
            let outcome = run()
            let ms = watch.milliseconds
            let cpuMs = threadCPUMilliseconds() - cpuBefore
            total += ms
            let rate = Double(replay.count) / ms / 1_000
            let cpuRate = Double(replay.count) / cpuMs / 1_000
            slowest = min(slowest, rate)
            slowestOnCPU = min(slowestOnCPU, cpuRate)
            if baseline == nil { baseline = rate }
            print(name.padding(toLength: 12, withPad: " ", startingAt: 0) + String(format: "%8.0f ms  %6.2f M invocations/s  (%.2f× off; on CPU %6.2f M/s)", ms, rate, rate / baseline!, cpuRate)
                  + "   (cold starts \(Format.grouped(outcome.coldStarts)), pings \(Format.grouped(outcome.pings)))")
        }
        print(String(format: "slowest policy: %.2f M invocations/s (goal: 5.00, ratio %.2f); by CPU time %.2f M/s (ratio %.2f)", slowest, slowest / 5,
                     slowestOnCPU, slowestOnCPU / 5))
        print(String(format: "end to end (parse and group once, %d policies): %.2f M invocations/s per policy", chosen.count,
                     Double(replay.count) * Double(chosen.count) / (parseMs * Double(chosen.count) + total) / 1_000))
    }
}

/// The CPU time the calling thread has run, in milliseconds (`CLOCK_THREAD_CPUTIME_ID`). On 2 cores shared with
/// other builds the wall clock measures the neighbours as much as the replay; the thread's own CPU time does not
/// (caches shared with them still count).
func threadCPUMilliseconds() -> Double {
    var spec = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &spec)
    return Double(spec.tv_sec) * 1_000 + Double(spec.tv_nsec) / 1e6
}
