import ArgumentParser
import AsyncHTTPClient
import Foundation
import Logging
import ModelDeckCore
import ModelDeckDaemon
import ModelDeckTargets
import NIOCore
import Synchronization

/// `modeldeck-bench rollback-latency`: a real daemon with the local target and the fixture model; each
/// round deploys v3 all at once, waits until v3 answers, then runs the real `modeldeck rollback` command and
/// times from the command starting to the first request the old version (v1) answers. Baseline in the same
/// run: one request's round trip.
struct RollbackLatencyBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "rollback-latency",
                                                    abstract: "From `modeldeck rollback` starting to the first request served by the old version.")

    @Option(help: "Rollbacks measured.")
    var rollbacks = 50

    @Option(help: "Milliseconds between the requests that watch for the old version (default 0: back to back, which keeps both cores busy while the command runs).")
    var pace = 0

    @Option(help: "The modeldeck binary (default: beside this one).")
    var cli: String?

    @Option(help: "Deck with the endpoint `sentiment` and versions v1 and v3.")
    var deck = "fixtures/decks/example.yaml"

    func run() async throws {
        let binary = cli ?? URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("modeldeck").path
        guard FileManager.default.isExecutableFile(atPath: binary) else {
            throw ValidationError("no modeldeck binary at \(binary); build it (swift build -c release --static-swift-stdlib, which builds modeldeck-full beside it) or pass --cli PATH")
        }
        let folder = NSTemporaryDirectory() + "modeldeck-bench-rollback-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let registry = try Registry(path: folder + "/registry.sqlite")
        var declared = try DeckReader.read(path: deck)
        for index in declared.endpoints.indices {
            declared.endpoints[index].value.endpoint.keepWarm = .off
            declared.endpoints[index].value.endpoint.idleTimeoutSeconds = 3_600
            declared.endpoints[index].value.declared.formUnion([.keepWarm, .idleTimeout])
        }
        try DeckApplier.apply(declared, to: registry, source: deck, actor: "bench")

        var logger = Logger(label: "modeldeck.bench")
        logger.logLevel = .critical
        let (port, stopper, daemon) = try await Daemon.startInProcess(registry: registry, logger: logger)
        defer { Task { await stopper.stop() } }

        var roundTrips: [Double] = []
        var latencies: [Double] = []
        var commandTimes: [Double] = []
        var coldRounds = 0
        for round in 0..<rollbacks {
            _ = try Intents.deploy(registry, endpoint: "sentiment", version: "v3", strategy: .allAtOnce, bakeSeconds: 0,
                                   reason: "bench round \(round)", actor: "bench")
            try await waitUntilServed(by: "sentiment@v3", port: port, timeout: .seconds(60))
            try await waitUntilSettled(registry)
            for _ in 0..<3 {
                let watch = Stopwatch()
                _ = try await invoke(port: port)
                roundTrips.append(watch.milliseconds)
            }
            let watch = Stopwatch()
            let exited = ExitTime()
            let process = Process()
            process.terminationHandler = { _ in exited.milliseconds.withLock { $0 = watch.milliseconds } }
            process.executableURL = URL(fileURLWithPath: binary)
            process.arguments = ["rollback", "sentiment", "--to", "v1", "--reason", "bench", "--registry", registry.path]
            process.standardOutput = FileHandle.nullDevice
            try process.run()
            let cold = try await waitUntilServed(by: "sentiment@v1", port: port, timeout: .seconds(60), pace: pace)
            latencies.append(watch.milliseconds)
            if cold { coldRounds += 1 }
            process.waitUntilExit()
            while exited.milliseconds.withLock({ $0 }) == nil { try await Task.sleep(for: .milliseconds(1)) }
            commandTimes.append(exited.milliseconds.withLock { $0 } ?? .nan)
            try await waitUntilSettled(registry)
        }
        await stopper.stop()
        _ = try? await daemon.value
        // The rest of each rollback: from the command's exit to the old version's first answer (negative when
        // it answered before the process was reaped). The daemon wakes on the commit, before the command exits.
        var after = zip(latencies, commandTimes).map { $0 - $1 }
        after.sort()
        latencies.sort()
        roundTrips.sort()
        commandTimes.sort()
        print(String(format: "rollbacks %d: p50 %.0f ms, p99 %.0f ms, max %.0f ms (goal p99 ≤ 25 ms)", latencies.count,
                     percentile(latencies, 50), percentile(latencies, 99), latencies.last ?? .nan))
        print(String(format: "of which the `modeldeck rollback` process (start to exit): p50 %.0f ms, p99 %.0f ms; first answers of v1 that were cold starts: %d",
                     percentile(commandTimes, 50), percentile(commandTimes, 99), coldRounds))
        print(String(format: "after the command exits, until v1 answers: p50 %.1f ms, p99 %.1f ms", percentile(after, 50), percentile(after, 99)))
        print(String(format: "baseline, one warm request: p50 %.1f ms; rollback p50 is %.0f× that (includes starting the modeldeck process)",
                     percentile(roundTrips, 50), percentile(latencies, 50) / percentile(roundTrips, 50)))
    }

    /// The version that answered, and whether the answer was a cold start.
    private func invoke(port: Int) async throws -> (version: String?, cold: Bool) {
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/endpoints/sentiment/invoke")
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(string: "{\"text\": \"fast and reliable\"}"))
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
        _ = try await response.body.collect(upTo: 1 << 20)
        return (response.headers.first(name: "X-ModelDeck-Version"), response.headers.first(name: "X-ModelDeck-Cold-Start") == "true")
    }

    /// Returns whether the first answer by `version` was a cold start.
    @discardableResult
    private func waitUntilServed(by version: String, port: Int, timeout: Duration, pace: Int = 0) async throws -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let answer = try? await invoke(port: port), answer.version == version { return answer.cold }
            if pace > 0 { try await Task.sleep(for: .milliseconds(pace)) }
        }
        throw ValidationError("\(version) never answered within \(timeout)")
    }

    /// No deployment in flight, so the next intent is accepted.
    private func waitUntilSettled(_ registry: Registry) async throws {
        while try !registry.activeDeploys(endpoint: "sentiment").isEmpty {
            try await Task.sleep(for: .milliseconds(20))
        }
    }
}

/// When a child process ended, set from its termination handler.
private final class ExitTime: Sendable {
    let milliseconds = Mutex<Double?>(nil)
}
