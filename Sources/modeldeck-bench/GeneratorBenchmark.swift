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
/// (`wrk -t1 -c8 --latency`, closed-loop: the best a request can do there), and against this machine's own timer
/// (a thread sleeping to absolute deadlines at the same rate), the floor under any scheduler here. Goal (issue
/// #18): lateness p99 ≤ 1 ms.
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

        // The floor: how late this machine's own timer wakes a thread at the same rate (clock_nanosleep on an
        // absolute deadline, no Swift concurrency, no HTTP), measured just before the generator.
        let floor = BenchLatency(await Self.threadTimerLateness(rate: rate, seconds: duration))

        let transport = GatewayBenchTransport(gateway: base, endpoint: "fast", token: "bench", version: "fast@v1",
                                              payload: Data(#"{"text": "great"}"#.utf8), timeoutSeconds: 10)
        // Warm-up: connections opened, code paths hot.
        _ = await BenchRunner(plan: BenchPlan(phases: [.warm], rate: rate, durationMs: 2_000), transport: transport).run()
        let (_, samples, _) = await BenchRunner(plan: BenchPlan(phases: [.warm], rate: rate, durationMs: Int64(duration) * 1_000),
                                                transport: transport).run()
        let lateness = BenchLatency(samples.map(\.latenessMicroseconds))
        let latency = BenchLatency(samples.map(\.latencyMicroseconds))
        let errors = samples.filter(\.failed).count

        let wrk = try WrkResult.run(url: base + "/", connections: 8, seconds: duration)

        func ms(_ value: Double) -> String { String(format: "%.3f ms", value) }
        print("modeldeck bench generator: \(samples.count) requests at \(Int(rate))/s for \(duration)s to nginx on loopback, \(errors) errors")
        print("  lateness (due → sent)    p50 \(ms(lateness.milliseconds(atPercentile: 50)))  p99 \(ms(lateness.milliseconds(atPercentile: 99)))  max \(ms(lateness.maxMilliseconds))   goal p99 ≤ 1 ms")
        print("  latency  (due → answer)  p50 \(ms(latency.milliseconds(atPercentile: 50)))  p99 \(ms(latency.milliseconds(atPercentile: 99)))  max \(ms(latency.maxMilliseconds))")
        print("  this machine's timer     p50 \(ms(floor.milliseconds(atPercentile: 50)))  p99 \(ms(floor.milliseconds(atPercentile: 99)))  max \(ms(floor.maxMilliseconds))   (a thread's clock_nanosleep at the same rate)")
        print(String(format: "  generator lateness p99 / the machine's timer p99 = %.2f", lateness.milliseconds(atPercentile: 99) / floor.milliseconds(atPercentile: 99)))
        guard !wrk.p50.isNaN, !wrk.p99.isNaN else {
            print("  wrk: no latency distribution in its output")
            return
        }
        let (wrkP50, wrkP99) = (wrk.p50 / 1_000, wrk.p99 / 1_000)
        print("wrk -t1 -c8 (closed loop) to the same nginx: latency p50 \(ms(wrkP50))  p99 \(ms(wrkP99))")
        print(String(format: "ratios: generator lateness p99 / wrk latency p99 = %.2f; generator latency p99 / wrk latency p99 = %.2f",
                     lateness.milliseconds(atPercentile: 99) / wrkP99, latency.milliseconds(atPercentile: 99) / wrkP99))
    }

    /// Lateness in microseconds of a dedicated thread sleeping to absolute deadlines `rate` times a second for
    /// `seconds`: what any scheduler in this process can do at best on this machine at this moment.
    static func threadTimerLateness(rate: Double, seconds: Int) async -> [UInt64] {
        await withCheckedContinuation { continuation in
            let thread = Thread {
                let period = Int(1_000_000_000 / rate)
                let count = Int(rate) * seconds
                var samples: [UInt64] = []
                samples.reserveCapacity(count)
                var deadline = timespec()
                var now = timespec()
                clock_gettime(CLOCK_MONOTONIC, &deadline)
                for _ in 0..<count {
                    deadline.tv_nsec += period
                    while deadline.tv_nsec >= 1_000_000_000 { deadline.tv_nsec -= 1_000_000_000; deadline.tv_sec += 1 }
                    clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &deadline, nil)
                    clock_gettime(CLOCK_MONOTONIC, &now)
                    let late = (now.tv_sec - deadline.tv_sec) * 1_000_000_000 + (now.tv_nsec - deadline.tv_nsec)
                    samples.append(UInt64(max(0, late / 1_000)))
                }
                continuation.resume(returning: samples)
            }
            thread.start()
        }
    }
}
