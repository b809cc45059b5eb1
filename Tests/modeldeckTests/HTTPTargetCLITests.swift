import AsyncHTTPClient
import Foundation
import GRDB
import ModelDeckTestSupport
import Testing

/// An endpoint someone else runs, end to end through the real CLI and daemon: declared, probed, pinged, shown in
/// every view, and never deployed. The endpoint is a real HTTP server in this process that scales to zero.
@Suite(.serialized)
struct HTTPTargetCLITests {
    static func deck(url: String) -> String {
        """
        apiVersion: modeldeck/v1
        targets:
          - {name: local, kind: local}
          - name: run
            kind: http
            url: \(url)
            probe_method: POST
            probe_body: '{"text": "ping"}'
            headers: {X-Api-Key: '${STANDIN_KEY}'}
            probe_interval: 1s
            cold_start_header: X-Cold-Start
            price_as: google-cloud-run
            region: us-central1
        models:
          - name: scorer
            versions:
              - {version: v1, image: 'example.com/scorer:v1', digest: "sha256:\(String(repeating: "a", count: 64))", size: 1MB, memory: 512MB}
              - {version: v2, image: 'example.com/scorer:v2', digest: "sha256:\(String(repeating: "b", count: 64))", size: 1MB, memory: 512MB}
        endpoints:
          - {name: scorer-run, model: scorer, target: run, memory: 1GB, traffic: {v1: 100}}
        """
    }

    /// The endpoint's live figures over the last five minutes, as `get endpoints -o json` gives them.
    func figures(_ registry: String) throws -> [String: Any] {
        let listed = try CLI.run(["get", "endpoints", "-o", "json", "--window", "5m", "--registry", registry])
        let rows = try JSONSerialization.jsonObject(with: Data(listed.stdout.utf8)) as? [[String: Any]]
        let live = rows?.first { $0["name"] as? String == "scorer-run" }?["live"] as? [String: Any]
        return live?["figures"] as? [String: Any] ?? [:]
    }

    func deployments(_ registry: String) throws -> Int {
        try registryQueue(registry).read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM deployments") ?? 0 }
    }

    @Test func anHTTPEndpointIsProbedPingedShownAndNeverDeployed() async throws {
        let scratch = Scratch()
        defer { scratch.cleanUp() }
        let server = StandInEndpoint(.scalesToZero(idle: .seconds(600), coldStart: .milliseconds(200)))
        defer { server.stop() }
        let deck = scratch.file("http.yaml", Self.deck(url: try await server.start()))

        // A header variable that is not set: one line, nothing written.
        let unset = try CLI.run(["apply", "-f", deck, "--registry", scratch.registry])
        #expect(unset.status != 0)
        #expect(unset.stderr.split(separator: "\n").count == 1, "\(unset.stderr)")
        #expect(unset.stderr.contains("header X-Api-Key reads $STANDIN_KEY, which is not set"), "\(unset.stderr)")
        #expect(try dump(registryAt: scratch.registry)?.contains { $0.hasPrefix("targets:") } != true)

        let environment = ["STANDIN_KEY": "k-123"]
        let applied = try CLI.run(["apply", "-f", deck, "--registry", scratch.registry], environment: environment)
        #expect(applied.status == 0, "\(applied.stderr)")
        #expect(try String(contentsOfFile: scratch.registry, encoding: .isoLatin1).contains("k-123") == false, "never stored")

        let daemon = try BackgroundCommand("daemon", registry: scratch.registry, environment: environment)
        defer { daemon.stop() }
        // Probed on its interval: the first finds it scaled to zero (a cold start, by its header).
        #expect(try await waitUntil(60) { (try figures(scratch.registry)["probes"] as? Int ?? 0) >= 3 })
        var live = try figures(scratch.registry)
        #expect(live["probe_cold_starts"] as? Int == 1, "\(live)")
        #expect(live["probe_errors"] as? Int == 0 && live["availability"] as? Double == 1)
        #expect(live["requests"] as? Int == 0 && live["pings"] as? Int == 0, "probes are neither user traffic nor pings")
        let probe = try #require(server.requests.first)
        #expect(probe.head.method == .post && String(decoding: probe.body, as: UTF8.self) == #"{"text": "ping"}"#)
        #expect(probe.head.headerFields[.init("X-Api-Key")!] == "k-123", "read from the daemon's environment")
        #expect((live["ping_cost_micros"] as? Int ?? 0) >= 0)

        // `get -o wide` shows the probes' figures (marked ~) and the availability.
        let wide = try CLI.run(["get", "endpoints", "-o", "wide", "--window", "5m", "--registry", scratch.registry])
        let row = try #require(wide.stdout.split(separator: "\n").first { $0.hasPrefix("scorer-run") })
        #expect(row.hasSuffix("100%") && row.contains("~"), "\(wide.stdout)")

        // A ping now: sent by the daemon, counted as a ping.
        #expect(try CLI.run(["ping", "scorer-run", "--registry", scratch.registry]).status == 0)
        #expect(try await waitUntil(30) { (try figures(scratch.registry)["pings"] as? Int ?? 0) >= 1 })
        live = try figures(scratch.registry)
        #expect(live["requests"] as? Int == 0)

        // /metrics has the probes too.
        let response = try await HTTPClient.shared.execute(HTTPClientRequest(url: "http://127.0.0.1:\(daemon.apiPort)/metrics?window=5m"),
                                                           timeout: .seconds(10))
        let metrics = String(buffer: try await response.body.collect(upTo: 1 << 20))
        #expect(metrics.contains("modeldeck_availability_ratio{endpoint=\"scorer-run\",version=\"scorer@v1\"} 1"), "\(metrics)")
        #expect(metrics.contains("modeldeck_probes{endpoint=\"scorer-run\",version=\"scorer@v1\"}"))

        // Deploy and rollback are refused before anything is written.
        for arguments in [["deploy", "scorer-run", "v2"], ["rollback", "scorer-run", "--to", "v2", "--reason", "bad answers"]] {
            let refused = try CLI.run(arguments + ["--registry", scratch.registry])
            #expect(refused.status != 0)
            #expect(refused.stdout.isEmpty)
            #expect(refused.stderr == "Error: endpoint 'scorer-run' runs on target 'run' (http): ModelDeck observes http targets but does not control them; deploy and roll back where the endpoint runs\n")
        }
        #expect(try deployments(scratch.registry) == 0)
        #expect(try desiredWeights(scratch.registry, endpoint: "scorer-run") == ["scorer@v1": 100])
    }
}
