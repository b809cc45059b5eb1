import Foundation
import ModelDeckCore
import ModelDeckTestSupport
import Testing
@testable import ModelDeckTargets

/// The http driver against real HTTP servers in the test process: a slow one, a failing one, one that scales to
/// zero and cold-starts, one that needs a bearer token from the environment, and one that never answers.
@Suite(.serialized)
struct HTTPDriverTests {
    let endpoint = Endpoint(name: "scorer-run", model: "scorer", target: "run", memoryMB: 1_024)
    let version = ModelVersion(model: "scorer", version: "v1", digest: "sha256:" + String(repeating: "a", count: 64),
                               sizeBytes: 1, image: "example.com/scorer:v1", memoryMB: 512)

    func driver(_ url: String, _ settings: [String: String] = [:], environment: [String: String] = [:]) throws -> HTTPDriver {
        try HTTPDriver(target: Target(name: "run", kind: .http, config: ["url": url].merging(settings) { $1 }), environment: environment)
    }

    @Test func aSlowAnswerPastTheThresholdIsAColdStartAndProbesCarryTheDecksRequest() async throws {
        let server = StandInEndpoint(.slow(.milliseconds(1_200)))
        defer { server.stop() }
        let url = try await server.start()
        let slow = try driver(url, ["probe_method": "POST", "probe_body": #"{"text": "ping"}"#, "cold_start_over": "1s"])
        let result = try await slow.probe(version, of: endpoint)
        #expect(result.status == 200 && result.coldStart, "slept 1.2 s, over the 1 s threshold")
        let request = try #require(server.requests.first)
        #expect(request.head.method == .post)
        #expect(String(decoding: request.body, as: UTF8.self) == #"{"text": "ping"}"#)
        #expect(request.head.headerFields[.contentType] == "application/json")
        #expect(request.head.headerFields[.init("X-ModelDeck-Warmup")!] == "1")
        // The same answer under a threshold it does not reach is warm.
        let patient = try driver(url, ["cold_start_over": "60s"])
        #expect(try await patient.probe(version, of: endpoint).coldStart == false)
        #expect(server.requests.last?.head.method == .get, "GET without a probe_method")
    }

    @Test func aFailingEndpointGivesFailedProbesAndPingsThatSayTheirStatus() async throws {
        let server = StandInEndpoint(.failing(status: 503))
        defer { server.stop() }
        let failing = try driver(try await server.start())
        let probe = try await failing.probe(version, of: endpoint)
        #expect(probe.status == 503 && HTTPProbe.failed(status: probe.status))
        // A ping that got an answer reached the endpoint: it is recorded with its status, not retried.
        let pings = try await failing.ping(version, of: endpoint, count: 3)
        #expect(pings.map(\.status) == [503, 503, 503])
        #expect(server.requests.count == 4)
    }

    @Test func anEndpointThatScalesToZeroColdStartsAfterIdleAndSaysSoInAHeader() async throws {
        let server = StandInEndpoint(.scalesToZero(idle: .milliseconds(800), coldStart: .milliseconds(300)))
        defer { server.stop() }
        let platform = try driver(try await server.start(), ["cold_start_header": "X-Cold-Start"])
        #expect(try await platform.probe(version, of: endpoint).coldStart, "the first request starts an instance")
        #expect(try await platform.probe(version, of: endpoint).coldStart == false, "right after, it is warm")
        try await Task.sleep(for: .milliseconds(1_500))
        #expect(try await platform.probe(version, of: endpoint).coldStart, "after the idle time it scaled to zero")
        // A keep-warm ping is what keeps it warm: the probe after one finds it warm.
        #expect(try await platform.ping(version, of: endpoint, count: 1).map(\.coldStart) == [false])
        #expect(try await platform.probe(version, of: endpoint).coldStart == false)
    }

    @Test func aBearerTokenComesFromTheEnvironmentAndNeverFromTheTarget() async throws {
        let server = StandInEndpoint(.needsToken("t0ken-from-env"))
        defer { server.stop() }
        let url = try await server.start()
        let settings = ["headers": "Authorization: Bearer ${RUN_TOKEN}"]
        let authorised = try driver(url, settings, environment: ["RUN_TOKEN": "t0ken-from-env"])
        #expect(try await authorised.probe(version, of: endpoint).status == 200)
        #expect(server.requests.last?.head.headerFields[.authorization] == "Bearer t0ken-from-env")
        #expect(!authorised.target.config.values.contains { $0.contains("t0ken-from-env") }, "the target holds the variable's name only")
        let wrong = try driver(url, settings, environment: ["RUN_TOKEN": "stale"])
        #expect(try await wrong.probe(version, of: endpoint).status == 401)
        let error = #expect(throws: ModelDeckError.self) { try driver(url, settings, environment: [:]) }
        #expect(error?.message == "header Authorization reads $RUN_TOKEN, which is not set in the daemon's environment (header values are never stored)")
    }

    @Test func anEndpointThatNeverAnswersIsAFailedProbeAndAPingThatReachedNothing() async throws {
        let silent = try SilentServer()
        defer { silent.stop() }
        let quiet = try driver(silent.url + "/predict", ["probe_timeout": "1s"])
        let probe = try await quiet.probe(version, of: endpoint)
        #expect(probe.status == 0 && HTTPProbe.failed(status: probe.status))
        let error = await #expect(throws: ModelDeckError.self) { try await quiet.ping(version, of: endpoint, count: 1) }
        #expect(error?.message == "ping of scorer-run at \(silent.url)/predict: no answer within 1s (probe_timeout)")
        // Nothing listening at all: the same, with why.
        let closed = try driver("http://127.0.0.1:9/predict")
        #expect(try await closed.probe(version, of: endpoint).status == 0)
    }

    @Test func deployingThereIsRefused() async throws {
        let observed = try driver("http://127.0.0.1:9/predict")
        for call in [{ try await observed.provision(version, on: endpoint) },
                     { try await observed.setWeights(["scorer@v1": 100], on: endpoint, versions: [:]) },
                     { _ = try await observed.liveWeights(of: endpoint, versions: [:]) }] as [@Sendable () async throws -> Void] {
            let error = await #expect(throws: ModelDeckError.self) { try await call() }
            #expect(error?.message == "ModelDeck observes http targets but does not control them: target 'run' (http) is deployed by whoever runs it")
        }
    }
}
