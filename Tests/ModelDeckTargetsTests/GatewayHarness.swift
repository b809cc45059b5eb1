import AsyncHTTPClient
import Foundation
import GRDB
import Logging
import ModelDeckCore
import NIOCore
@testable import ModelDeckTargets

/// A registry with one local target and an endpoint on the fixture sentiment server, and a gateway on a
/// free loopback port: real processes, real HTTP.
struct GatewayHarness {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().path
    static let modelFolder = repository + "/fixtures/models/sentiment"

    let folder: String
    let registry: Registry

    /// `versions`: label → extra server arguments (e.g. `--extra-latency-ms 500`).
    init(versions: [String: [String]], endpoint: String) throws {
        folder = NSTemporaryDirectory() + "modeldeck-gw-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        registry = try Registry(path: folder + "/registry.sqlite")
        var deck = """
        targets:
          - {name: local, kind: local}
        models:
          - name: sentiment
            versions:

        """
        for (label, arguments) in versions.sorted(by: { $0.key < $1.key }) {
            let command = (["python3", "server.py"] + arguments).map { "\"\($0)\"" }.joined(separator: ", ")
            deck += """
                  - version: \(label)
                    artifact: \(Self.modelFolder)/weights-v1.json
                    command: [\(command)]
                    workdir: \(Self.modelFolder)
                    memory: 128MB

            """
        }
        deck += "endpoints:\n" + endpoint
        let parsed = try DeckReader(sourceName: "test.yaml", baseDirectory: folder).parse(deck)
        try DeckApplier.apply(parsed, to: registry, source: "test.yaml", actor: "test")
    }

    func settings(queueDepth: Int = 100, queueTimeout: Duration = .seconds(30)) -> LocalRuntimeSettings {
        var settings = LocalRuntimeSettings(runDirectory: folder + "/run")
        settings.queueDepth = queueDepth
        settings.queueTimeout = queueTimeout
        settings.startTimeout = .seconds(30)
        settings.stopGrace = .seconds(2)
        settings.maintenanceInterval = .milliseconds(50)
        return settings
    }

    /// Runs a gateway for the duration of `body`, then stops it (which stops every instance).
    func withGateway<T: Sendable>(_ settings: LocalRuntimeSettings? = nil,
                                  _ body: @Sendable (Client) async throws -> T) async throws -> T {
        var gateway = LocalGateway(registry: registry, targets: ["local"], host: "127.0.0.1", port: 0,
                                   settings: settings ?? self.settings(), logger: Logger(label: "test"))
        gateway.flushInterval = .milliseconds(100)
        gateway.warmupSecret = Client.warmupSecret
        let (ports, continuation) = AsyncStream<Int>.makeStream()
        let stopper = GatewayStopper()
        let running = Task { try await gateway.run(stopper: stopper) { continuation.yield($0) } }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next() else { throw ModelDeckError("gateway did not start") }
        let result: Result<T, Error>
        do { result = .success(try await body(Client(port: port))) } catch { result = .failure(error) }
        await stopper.stop()
        try await running.value
        return try result.get()
    }

    func cleanUp() { try? FileManager.default.removeItem(atPath: folder) }

    /// Rows of the instances table.
    func instanceRows() throws -> [Row] {
        try registry.read { db in try Row.fetchAll(db, sql: "SELECT * FROM instances ORDER BY id") }
    }
}

struct Answer: Sendable {
    var status: Int
    var version: String?
    var instance: String?
    var coldStart: Bool?
    var body: String
}

struct Client: Sendable {
    let port: Int
    /// The harness's gateways take this as their daemon's warmup secret.
    static let warmupSecret = "harness-warmup-secret"

    func invoke(_ endpoint: String = "sentiment", text: String = "great, I love it", warmup: Bool = false) async throws -> Answer {
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/endpoints/\(endpoint)/invoke")
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        if warmup {
            request.headers.add(name: "X-ModelDeck-Warmup", value: "1")
            request.headers.add(name: "X-ModelDeck-Warmup-Secret", value: Self.warmupSecret)
        }
        request.body = .bytes(ByteBuffer(string: "{\"text\": \"\(text)\"}"))
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(60))
        let body = try await response.body.collect(upTo: 1 << 20)
        return Answer(status: Int(response.status.code), version: response.headers.first(name: "X-ModelDeck-Version"),
                      instance: response.headers.first(name: "X-ModelDeck-Instance"),
                      coldStart: response.headers.first(name: "X-ModelDeck-Cold-Start").map { $0 == "true" },
                      body: String(buffer: body))
    }
}

func processIsAlive(_ pid: Int32) -> Bool { kill(pid, 0) == 0 }

extension Client {
    /// The first answer by `version` after a change of weights: the gateway swaps its endpoint catalog in the
    /// background (a millisecond or so after the commit), so a request sent at once may still follow the old
    /// weights. Every answer before it is by another version; nil when `version` never answers within 10 s.
    func firstAnswer(by version: String) async throws -> Answer? {
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline {
            let answer = try await invoke()
            if answer.version == version { return answer }
        }
        return nil
    }

    /// Whether `length` answers in a row come from `version` within 10 s. Where the old weights also sent
    /// some traffic to `version`, one answer by it does not show the change was applied; `length` in a row
    /// does (30 in a row at the old 10% happen by chance once in 10^30).
    func run(of version: String, length: Int) async throws -> Bool {
        let deadline = ContinuousClock.now + .seconds(10)
        var inARow = 0
        while ContinuousClock.now < deadline {
            inARow = try await invoke().version == version ? inARow + 1 : 0
            if inARow == length { return true }
        }
        return false
    }
}

/// Polls `condition` every 50 ms for up to `seconds`.
func eventually(_ seconds: Double = 10, _ condition: () throws -> Bool) async rethrows -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if try condition() { return true }
        try? await Task.sleep(for: .milliseconds(50))
    }
    return try condition()
}
