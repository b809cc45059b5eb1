import ArgumentParser
import Foundation
import ModelDeckCore
import ModelDeckDaemon
import ModelDeckTargets

/// `modeldeck-bench generator`: how accurate `modeldeck bench`'s open-loop generator is. It offers `--rate`
/// requests a second (1,000 by default) for `--duration` to nginx on loopback (a backend that answers in
/// microseconds, so whatever is late is the generator's), through the same runner and HTTP transport as
/// `modeldeck bench`. Its scheduling lateness (due time → the request handed to the HTTP client) and its
/// latency (due time → answer) are printed against wrk's latency to the same nginx in the same run
/// (`wrk -t1 -c8 --latency`, closed-loop: the best a request can do there). Goal (issue #18): lateness p99 ≤ 1 ms.
struct GeneratorBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "generator",
                                                    abstract: "The bench generator's own lateness at 1,000 requests/s, against wrk's latency.")

    @Option(help: "Requests per second offered.")
    var rate = 1_000.0

    @Option(help: "Seconds measured (after a 2-second warm-up).")
    var duration = 10

    func run() async throws {
        try LoadTools.ensure(["wrk": "wrk", "nginx": "nginx"])
        let port = try freeLoopbackPort()
        let nginx = try NginxBackend(port: port)
        defer { nginx.stop() }
        let base = "http://127.0.0.1:\(port)"
        var up = false
        for _ in 0..<50 where !up {
            up = await GatewayBenchTransport.answers(base)
            if !up { try await Task.sleep(for: .milliseconds(100)) }
        }
        guard up else { throw BenchmarkFailure("nginx did not answer on \(base)") }

        let transport = GatewayBenchTransport(gateway: base, endpoint: "fast", token: "bench", version: "fast@v1",
                                              payload: Data(#"{"text": "great"}"#.utf8), timeoutSeconds: 10)
        // Warm-up: connections opened, code paths hot.
        _ = await BenchRunner(plan: BenchPlan(phases: [.warm], rate: rate, durationMs: 2_000), transport: transport).run()
        let (_, samples, _) = await BenchRunner(plan: BenchPlan(phases: [.warm], rate: rate, durationMs: Int64(duration) * 1_000),
                                                transport: transport).run()
        let lateness = BenchLatency(samples.map(\.latenessMicroseconds))
        let latency = BenchLatency(samples.map(\.latencyMicroseconds))
        let errors = samples.filter(\.failed).count

        let wrkOutput = try LoadTools.run(LoadTools.path(of: "wrk")!, ["-t1", "-c8", "-d\(duration)s", "--latency", base + "/"])
        let wrkP50 = Self.wrkPercentile(wrkOutput, "50%"), wrkP99 = Self.wrkPercentile(wrkOutput, "99%")

        func ms(_ value: Double) -> String { String(format: "%.3f ms", value) }
        print("modeldeck bench generator: \(samples.count) requests at \(Int(rate))/s for \(duration)s to nginx on loopback, \(errors) errors")
        print("  lateness (due → sent)    p50 \(ms(lateness.milliseconds(atPercentile: 50)))  p99 \(ms(lateness.milliseconds(atPercentile: 99)))  max \(ms(lateness.maxMilliseconds))   goal p99 ≤ 1 ms")
        print("  latency  (due → answer)  p50 \(ms(latency.milliseconds(atPercentile: 50)))  p99 \(ms(latency.milliseconds(atPercentile: 99)))  max \(ms(latency.maxMilliseconds))")
        guard let wrkP50, let wrkP99 else {
            print("  wrk: no latency distribution in its output:\n\(wrkOutput)")
            return
        }
        print("wrk -t1 -c8 (closed loop) to the same nginx: latency p50 \(ms(wrkP50))  p99 \(ms(wrkP99))")
        print(String(format: "ratios: generator lateness p99 / wrk latency p99 = %.2f; generator latency p99 / wrk latency p99 = %.2f",
                     lateness.milliseconds(atPercentile: 99) / wrkP99, latency.milliseconds(atPercentile: 99) / wrkP99))
    }

    /// wrk's `--latency` line for `label` (`99%  1.23ms`), in milliseconds.
    static func wrkPercentile(_ output: String, _ label: String) -> Double? {
        for line in output.split(separator: "\n") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count == 2, fields[0] == label else { continue }
            let text = String(fields[1])
            for (unit, factor) in [("us", 0.001), ("ms", 1.0), ("s", 1_000.0)] where text.hasSuffix(unit) {
                return Double(text.dropLast(unit.count)).map { $0 * factor }
            }
        }
        return nil
    }
}
