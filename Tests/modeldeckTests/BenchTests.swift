import AsyncHTTPClient
import Foundation
import GRDB
import NIOCore
import Testing

/// A deck on the local target with the fixture model made slow enough to need several instances at a few dozen
/// requests a second (100 ms a request, one at a time) and a cold start well above a warm answer (800 ms of
/// extra model load), with a 2-second idle timeout so luke-warm turns cold within seconds.
func benchDeck() -> String {
    let model = CLI.repository + "/fixtures/models/sentiment"
    return """
    apiVersion: modeldeck/v1
    targets:
      - name: local
        kind: local
        price_as: aws-lambda
      - name: lambda-eu
        kind: aws-lambda
        region: eu-central-1
        role_arn: arn:aws:iam::123456789012:role/modeldeck-lambda
    models:
      - name: sentiment
        versions:
          - version: v1
            artifact: \(model)/weights-v1.json
            command: [python3, server.py, --extra-latency-ms, "100", --load-delay-ms, "800"]
            workdir: \(model)
            memory: 128MB
            timeout: 30s
    endpoints:
      - name: bench-me
        model: sentiment
        target: local
        memory: 256MB
        concurrency: 1
        max_instances: 4
        idle_timeout: 2s
        keep_warm: {mode: off}
        traffic: {v1: 100}
      - name: prod
        model: sentiment
        target: local
        memory: 256MB
        production: true
        traffic: {v1: 100}
      - name: on-lambda
        model: sentiment
        target: lambda-eu
        memory: 256MB
        traffic: {v1: 100}

    """
}

@Suite(.serialized)
struct BenchTests {
    struct Run: Decodable {
        var id: Int64
        var state: String
        var partial: Bool
        var costMicros: Int64
        var figures: Figures
        struct Figures: Decodable {
            var cold: Cold?
            var warm: Latency?
            var scale: Scale?
            var lukeWarm: [LukeWarm]?
            var requests: Int
            var costMicros: Int64
        }
        struct Cold: Decodable { var totalMs: Double; var coldStart: Bool; var processStartMs: Int?; var modelLoadMs: Int?; var firstAnswerMs: Double? }
        struct Latency: Decodable { var requests: Int; var errors: Int; var p50Ms: Double; var p99Ms: Double; var coldStarts: Int }
        struct Scale: Decodable { var instancesStarted: Int; var coldStarts: Int; var latency: Latency }
        struct LukeWarm: Decodable { var gapMs: Int64; var requests: Int; var cold: Int; var coldShare: Double }
    }

    static func decode<T: Decodable>(_ type: T.Type, _ text: String) throws -> T {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        decoder.dateDecodingStrategy = .iso8601
        return try decoder.decode(type, from: Data(text.utf8))
    }

    /// The bench deck applied to `scratch`'s registry, and a daemon (with its gateway) on it.
    static func daemon(_ scratch: Scratch) throws -> BackgroundCommand {
        let deck = scratch.file("deck.yaml", benchDeck())
        let applied = try CLI.run(["apply", "-f", deck, "--registry", scratch.registry])
        #expect(applied.status == 0, "\(applied.stderr)")
        return try BackgroundCommand("daemon", registry: scratch.registry)
    }

    func userRequests(_ registry: String, endpoint: String) throws -> Int {
        let queue = try registryQueue(registry)
        return try queue.read { db in
            try Int.fetchOne(db, sql: "SELECT COALESCE(SUM(requests + warmups + probes), 0) FROM metric_buckets WHERE endpoint = ?", arguments: [endpoint]) ?? 0
        }
    }

    @Test func aLocalRunShowsColdAboveWarmARampThatStartsInstancesAndLukeWarmTurningCold() async throws {
        let scratch = Scratch()
        defer { scratch.cleanUp() }
        let daemon = try Self.daemon(scratch)
        defer { daemon.stop() }
        let gateway = "http://127.0.0.1:\(daemon.port)"

        let result = try CLI.run(["bench", "bench-me", "--gateway", gateway, "--rate", "4/s", "--duration", "3s",
                                  "--ramp", "2..40/s:2s", "--idle-gaps", "500ms,4s", "-o", "json", "--registry", scratch.registry])
        #expect(result.status == 0, "\(result.stderr)")
        let run = try Self.decode(Run.self, result.stdout)
        #expect(run.state == "finished")
        #expect(!run.partial)
        let cold = try #require(run.figures.cold)
        let warm = try #require(run.figures.warm)
        #expect(cold.coldStart)
        #expect(cold.totalMs > warm.p99Ms, "cold \(cold.totalMs) ms, warm p99 \(warm.p99Ms) ms")
        #expect(cold.modelLoadMs.map { $0 >= 800 } == true, "the fixture sleeps 800 ms while loading: \(cold)")
        #expect(cold.processStartMs != nil && cold.firstAnswerMs != nil)
        #expect(warm.requests == 12)
        #expect(warm.errors == 0)
        let scale = try #require(run.figures.scale)
        #expect(scale.instancesStarted >= 1, "\(scale)")
        #expect(scale.latency.requests > 50)
        let curve = try #require(run.figures.lukeWarm)
        #expect(curve.map(\.gapMs) == [500, 4_000])
        #expect(curve[0].coldShare == 0, "500 ms is inside the 2 s idle timeout: \(curve)")
        #expect(curve[1].coldShare == 1, "4 s is past the 2 s idle timeout: \(curve)")
        // Priced as Lambda (price_as), and counted as bench cost, apart from user traffic.
        #expect(run.costMicros > 0)
        #expect(run.figures.requests == 1 + 12 + scale.latency.requests + 4)
        try await Task.sleep(for: .seconds(1)) // a gateway flush
        #expect(try userRequests(scratch.registry, endpoint: "bench-me") == 0, "bench traffic entered the metric buckets")

        // Stored, listed, audited.
        let listed = try CLI.run(["get", "bench", "-o", "json", "--registry", scratch.registry])
        #expect(listed.status == 0, "\(listed.stderr)")
        #expect(try Self.decode([Run].self, listed.stdout).map(\.id) == [run.id])
        let table = try CLI.run(["get", "bench", "--registry", scratch.registry])
        #expect(table.stdout.contains("bench-me") && table.stdout.contains("finished"))
        #expect(try events(scratch.registry, kinds: "bench.%").map(\.kind) == ["bench.started", "bench.finished"])
    }

    @Test func aBenchWithoutTheTokenIsUserTraffic() async throws {
        // A caller that only claims to be a bench (a made-up token) is counted like anyone else.
        let scratch = Scratch()
        defer { scratch.cleanUp() }
        let daemon = try Self.daemon(scratch)
        defer { daemon.stop() }
        let forged = try await invoke(port: daemon.port, endpoint: "bench-me", headers: ["X-ModelDeck-Bench": "0123456789abcdef"])
        #expect(forged == 200)
        #expect(try await waitUntil(10) { try userRequests(scratch.registry, endpoint: "bench-me") == 1 })
    }

    @Test func ctrlCKeepsWhatWasMeasuredMarkedPartial() async throws {
        let scratch = Scratch()
        defer { scratch.cleanUp() }
        let daemon = try Self.daemon(scratch)
        defer { daemon.stop() }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: CLI.binary)
        process.arguments = ["bench", "bench-me", "--gateway", "http://127.0.0.1:\(daemon.port)", "--only", "warm", "--rate", "4/s",
                             "--duration", "10m", "-o", "json", "--registry", scratch.registry]
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        try process.run()
        #expect(try await waitUntil(30) { try events(scratch.registry, kinds: "bench.started").count == 1 })
        try await Task.sleep(for: .seconds(3))
        kill(process.processIdentifier, SIGINT)
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        let run = try Self.decode(Run.self, String(decoding: data, as: UTF8.self))
        #expect(run.partial)
        #expect(run.state == "partial")
        #expect((run.figures.warm?.requests ?? 0) >= 2)
    }

    @Test func aProductionEndpointNeedsForceAndAReasonWhichIsAudited() async throws {
        let scratch = Scratch()
        defer { scratch.cleanUp() }
        let deck = scratch.file("deck.yaml", benchDeck())
        #expect(try CLI.run(["apply", "-f", deck, "--registry", scratch.registry]).status == 0)
        let refused = try CLI.run(["bench", "prod", "--only", "cold", "--registry", scratch.registry])
        #expect(refused.status != 0)
        #expect(refused.stderr.contains("is production") && refused.stderr.contains("--force --reason"))
        let daemon = try BackgroundCommand("daemon", registry: scratch.registry)
        defer { daemon.stop() }
        let forced = try CLI.run(["bench", "prod", "--only", "cold", "--force", "--reason", "capacity check", "--gateway",
                                  "http://127.0.0.1:\(daemon.port)", "--registry", scratch.registry])
        #expect(forced.status == 0, "\(forced.stderr)")
        #expect(forced.stdout.contains("first prediction"))
        let started = try events(scratch.registry, kinds: "bench.started").map(\.message)
        #expect(started.count == 1 && started[0].contains("production, forced") && started[0].contains("capacity check"), "\(started)")
    }

    @Test func maxCostRefusesAnExpensivePlan() throws {
        let scratch = Scratch()
        defer { scratch.cleanUp() }
        let deck = scratch.file("deck.yaml", benchDeck())
        #expect(try CLI.run(["apply", "-f", deck, "--registry", scratch.registry]).status == 0)
        let before = try dump(registryAt: scratch.registry)
        // 1,200 warm requests of 1 s (the SLO's p99) on 256 MB as Lambda cost about $0.005.
        let refused = try CLI.run(["bench", "bench-me", "--only", "warm", "--max-cost", "$0.000001", "--registry", scratch.registry])
        #expect(refused.status != 0)
        #expect(refused.stderr.contains("is over --max-cost $0.000001"), "\(refused.stderr)")
        #expect(try dump(registryAt: scratch.registry) == before)
    }
}

/// Sends one request to the gateway with extra headers; the status.
func invoke(port: Int, endpoint: String, headers: [String: String] = [:]) async throws -> Int {
    var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/endpoints/\(endpoint)/invoke")
    request.method = .POST
    request.headers.add(name: "Content-Type", value: "application/json")
    for (name, value) in headers { request.headers.add(name: name, value: value) }
    request.body = .bytes(ByteBuffer(string: #"{"text": "great"}"#))
    let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
    _ = try await response.body.collect(upTo: 1 << 20)
    return Int(response.status.code)
}
