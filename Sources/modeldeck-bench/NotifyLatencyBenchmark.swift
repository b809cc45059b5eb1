import ArgumentParser
import AsyncHTTPClient
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import ModelDeckCore
import ModelDeckDaemon
import NIOCore
import Synchronization

/// `modeldeck-bench notify-latency`: a real daemon (in process, with the local target of the example deck)
/// and a webhook receiver on loopback; each round appends an on-call event to the audit log and times until
/// the receiver has it. Baseline in the same run: one POST of the same size to the same receiver.
struct NotifyLatencyBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "notify-latency",
                                                    abstract: "From an audit event being written to its notification arriving at a webhook.")

    @Option(help: "Events measured.")
    var events = 50

    @Option(help: "Deck with a local target.")
    var deck = "fixtures/decks/example.yaml"

    func run() async throws {
        let folder = NSTemporaryDirectory() + "modeldeck-bench-notify-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let arrived = Arrivals()
        let (receiverPort, receiver) = try await Self.receiver(arrived)
        defer { receiver.cancel() }
        let url = "http://127.0.0.1:\(receiverPort)/hook"

        let registry = try Registry(path: folder + "/registry.sqlite")
        var declared = try DeckReader.read(path: deck)
        for index in declared.endpoints.indices {
            declared.endpoints[index].value.endpoint.keepWarm = .off
            declared.endpoints[index].value.declared.insert(.keepWarm)
        }
        declared.notifications = [Declared(NotificationChannel(name: "bench", destination: .url(url), format: .slack), at: "bench")]
        try DeckApplier.apply(declared, to: registry, source: deck, actor: "bench")

        var logger = Logger(label: "modeldeck.bench")
        logger.logLevel = .critical
        let (_, stopper, daemon) = try await Daemon.startInProcess(registry: registry, logger: logger)

        var baseline: [Double] = []
        var latencies: [Double] = []
        let body = NotificationPayload.body(for: Listings.EventRow(id: 1, at: Date(), actor: "daemon", endpoint: "sentiment", deploymentId: nil,
                                                                    kind: "deploy.rolled_back", message: "bench"), format: .slack)
        for round in 0..<events {
            var request = HTTPClientRequest(url: url)
            request.method = .POST
            request.headers.add(name: "Idempotency-Key", value: "baseline-\(round)")
            request.body = .bytes(ByteBuffer(bytes: body))
            let direct = Stopwatch()
            _ = try await HTTPClient.shared.execute(request, timeout: .seconds(10)).body.collect(upTo: 1 << 16)
            baseline.append(direct.milliseconds)

            let watch = Stopwatch()
            let id = try registry.write { db in
                try db.record(AuditEvent(at: Date(), actor: "bench", endpoint: "sentiment", kind: "deploy.rolled_back", message: "bench round \(round)")).id ?? 0
            }
            while !arrived.keys.withLock({ $0.contains("\(id)") }) {
                guard watch.elapsed < .seconds(30) else { throw ValidationError("event \(id) did not arrive within 30 s") }
                try await Task.sleep(for: .milliseconds(1))
            }
            latencies.append(watch.milliseconds)
        }
        await stopper.stop()
        _ = try? await daemon.value
        latencies.sort()
        baseline.sort()
        print(String(format: "events %d: written to arrived p50 %.0f ms, p99 %.0f ms, max %.0f ms (goal: within 2 s)", latencies.count,
                     percentile(latencies, 50), percentile(latencies, 99), latencies.last ?? .nan))
        print(String(format: "baseline, one direct POST to the same receiver: p50 %.1f ms; delivery p50 is %.0f× that (the daemon is woken by inotify on the registry, then reads the audit log)",
                     percentile(baseline, 50), percentile(latencies, 50) / percentile(baseline, 50)))
    }

    /// A receiver that notes each Idempotency-Key; returns its port.
    private static func receiver(_ arrived: Arrivals) async throws -> (Int, Task<Void, any Error>) {
        let router = Router()
        router.post("/hook") { request, _ -> HTTPResponse.Status in
            _ = try await request.body.collect(upTo: 1 << 16)
            if let key = request.headers[HTTPField.Name("Idempotency-Key")!] { arrived.keys.withLock { _ = $0.insert(key) } }
            return .ok
        }
        var logger = Logger(label: "bench-receiver")
        logger.logLevel = .critical
        let (ports, portReady) = AsyncStream<Int>.makeStream()
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
                              onServerRunning: { portReady.yield($0.localAddress?.port ?? 0) }, logger: logger)
        let task = Task { try await app.runService(gracefulShutdownSignals: []) }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next() else { throw ValidationError("the receiver did not start") }
        return (port, task)
    }
}

private final class Arrivals: Sendable {
    let keys = Mutex<Set<String>>([])
}
