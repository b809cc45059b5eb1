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

    func run() throws {
        let rates = try PriceTable.standard.invocationRates(platform: "aws-lambda", region: "us-east-1", architecture: "x86_64")
        let target = SimulatedTarget(coldStartMilliseconds: 2_000, idleTimeoutSeconds: try Quantity.seconds(idleTimeout),
                                     pingMilliseconds: 10, memoryMB: 512, rates: rates)
        let bytes = (try? FileManager.default.attributesOfItem(atPath: trace)[.size] as? Int) ?? 0
        let parsing = Stopwatch()
        let replay = try Trace.load(path: trace)
        let parseMs = parsing.milliseconds
        print("trace: \(Format.grouped(Int64(replay.count))) invocations, \(replay.endpoints.count) endpoints, \(Format.bytes(Int64(bytes)))")
        print(String(format: "parse: %.0f ms, %.2f M lines/s, %.0f MB/s", parseMs, Double(replay.count) / parseMs / 1_000,
                     Double(bytes) / 1_048_576 / (parseMs / 1_000)))
        print(String(format: "resident after parse: %.0f MB", Double(residentBytes()) / 1_048_576))
        var total = 0.0
        for policy in [KeepWarmPolicy.off, .fixed(everySeconds: 300, concurrency: 1), .adaptive] {
            let watch = Stopwatch()
            let outcome = KeepWarmSimulator.run(replay, policy: policy, target: target)
            let ms = watch.milliseconds
            total += ms
            let name = policy.summary.padding(toLength: 10, withPad: " ", startingAt: 0)
            print(name + String(format: "%8.0f ms  %6.2f M invocations/s", ms, Double(replay.count) / ms / 1_000)
                  + "   (cold starts \(Format.grouped(outcome.coldStarts)), pings \(Format.grouped(outcome.pings)))")
        }
        print(String(format: "end to end (parse once, three policies): %.2f M invocations/s per policy",
                     Double(replay.count) * 3 / (parseMs * 3 + total) / 1_000))
    }
}
