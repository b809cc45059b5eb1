import Foundation
import AsyncHTTPClient
import GRDB
import Synchronization
import Testing

/// The daemon as a real process, on the real local target, with real traffic.
@Suite(.serialized)
struct DaemonTests {
    func setUp(_ scratch: Scratch, latencyGate: Bool = true) throws {
        let applied = try CLI.run(["apply", "-f", "fixtures/decks/example.yaml", "--registry", scratch.registry])
        #expect(applied.status == 0, "\(applied.stderr)")
        if !latencyGate {
            // Tests of promotion and resumption must not depend on how loaded the machine is: the latency
            // gate is covered by DeploymentMachineTests, the error gate end to end by the bad canary.
            let queue = try registryQueue(scratch.registry)
            // The comparative gate too: a p99 slack of a minute, and cold starts not compared (a loaded machine
            // starts more instances of a new version than it needs; ComparativeGateTests cover that comparison).
            let gate = #"{"minimumRequests":20,"tolerance":0.2,"slackMilliseconds":60000,"confidence":0.95,"onLowTraffic":"wait","lowTrafficDeadlineSeconds":600,"expectedColdStarts":1000000}"#
            try queue.write { db in try db.execute(sql: "UPDATE endpoints SET slo_p99_ms = 60000, gate = ?", arguments: [gate]) }
        }
    }

    @Test func aCanaryOfTheBadVersionIsRolledBackAutomaticallyWithItsFigures() async throws {
        let scratch = Scratch()
        defer { scratch.cleanUp() }
        try setUp(scratch)
        let daemon = try BackgroundCommand("daemon", registry: scratch.registry)
        defer { daemon.stop() }
        let port = daemon.port
        let traffic = generateTraffic(port: { port })
        defer { traffic.cancel() }

        let deploy = try CLI.run(["deploy", "sentiment", "v2", "--strategy", "canary:50%:1m", "--bake", "30s",
                                  "--reason", "retrained", "--registry", scratch.registry])
        #expect(deploy.status == 0, "\(deploy.stderr)")
        #expect(try await waitUntil(60) { try deploymentState(scratch.registry, id: 1)?.state == "rolled_back" })
        let final = try deploymentState(scratch.registry, id: 1)
        #expect(final?.alarm?.contains("sentiment@v2 error rate") == true, "\(String(describing: final))")
        #expect(final?.alarm?.contains("is over the SLO of 1%") == true)
        #expect(try desiredWeights(scratch.registry) == ["sentiment@v1": 100])
        let kinds = try events(scratch.registry, kinds: "deploy.%").map(\.kind)
        #expect(kinds == ["deploy.requested", "deploy.provisioning", "deploy.step", "deploy.alarm", "deploy.rolled_back"])
    }

    @Test func aCanaryOfAGoodVersionIsPromoted() async throws {
        let scratch = Scratch()
        defer { scratch.cleanUp() }
        try setUp(scratch, latencyGate: false)
        let daemon = try BackgroundCommand("daemon", registry: scratch.registry)
        defer { daemon.stop() }
        let port = daemon.port
        let traffic = generateTraffic(port: { port })
        defer { traffic.cancel() }

        #expect(try CLI.run(["deploy", "sentiment", "v3", "--strategy", "canary:20%:3s", "--bake", "2s", "--registry", scratch.registry]).status == 0)
        #expect(try await waitUntil(60) { try deploymentState(scratch.registry, id: 1)?.state == "succeeded" })
        #expect(try desiredWeights(scratch.registry) == ["sentiment@v3": 100])
        let steps = try events(scratch.registry, kinds: "deploy.step").map(\.message)
        #expect(steps == ["step 1/2: sentiment@v3 at 20% of sentiment for 3s", "step 2/2: sentiment@v3 at 100% of sentiment; baking 2s"])

        // And a rollback intent puts everything back at once.
        #expect(try CLI.run(["rollback", "sentiment", "--reason", "customer report", "--registry", scratch.registry]).status == 0)
        #expect(try await waitUntil(20) { try desiredWeights(scratch.registry) == ["sentiment@v1": 100] })
        #expect(try events(scratch.registry, kinds: "rollback.%").map(\.kind) == ["rollback.requested", "rollback.done"])
    }

    @Test func aDaemonKilledMinus9MidCanaryFinishesAfterRestartWithoutRepeatingAStep() async throws {
        let scratch = Scratch()
        defer { scratch.cleanUp() }
        try setUp(scratch, latencyGate: false)
        let first = try BackgroundCommand("daemon", registry: scratch.registry)
        let port = Mutex(first.port)
        let traffic = generateTraffic(port: { port.withLock { $0 } })
        defer { traffic.cancel() }

        #expect(try CLI.run(["deploy", "sentiment", "v3", "--strategy", "linear:25%:3s", "--bake", "2s", "--registry", scratch.registry]).status == 0)
        #expect(try await waitUntil(60) { (try deploymentState(scratch.registry, id: 1)?.weight ?? 0) >= 50 })
        first.kill9()
        #expect(try deploymentState(scratch.registry, id: 1)?.state != "succeeded")

        let second = try BackgroundCommand("daemon", registry: scratch.registry)
        defer { second.stop() }
        port.withLock { $0 = second.port }
        #expect(try await waitUntil(90) { try deploymentState(scratch.registry, id: 1)?.state == "succeeded" })
        let steps = try events(scratch.registry, kinds: "deploy.step").map(\.message)
        #expect(steps == [
            "step 1/4: sentiment@v3 at 25% of sentiment for 3s",
            "step 2/4: sentiment@v3 at 50% of sentiment for 3s",
            "step 3/4: sentiment@v3 at 75% of sentiment for 3s",
            "step 4/4: sentiment@v3 at 100% of sentiment; baking 2s",
        ])
        #expect(try events(scratch.registry, kinds: "deploy.succeeded").count == 1)
        #expect(try desiredWeights(scratch.registry) == ["sentiment@v3": 100])
    }

    @Test func aSecondDaemonOnTheSameRegistryRefusesToStart() async throws {
        let scratch = Scratch()
        defer { scratch.cleanUp() }
        try setUp(scratch)
        let daemon = try BackgroundCommand("daemon", registry: scratch.registry)
        defer { daemon.stop() }
        let second = try CLI.run(["daemon", "--registry", scratch.registry, "--port", "0"])
        #expect(second.status != 0)
        #expect(second.stderr.contains("another modeldeck daemon (pid \(daemon.process.processIdentifier)"), "\(second.stderr)")
        #expect(second.stderr.split(separator: "\n").count == 1)

        daemon.stop()
        #expect(daemon.process.terminationStatus == 0)
        let heartbeat = try events(scratch.registry, kinds: "daemon.%").map(\.kind)
        #expect(heartbeat == ["daemon.started", "daemon.stopped"])
    }
}

extension DaemonTests {
    func instances(_ registry: String) throws -> [String] {
        let queue = try registryQueue(registry)
        return try queue.read { db in
            // The endpoint's own: sentiment-batch serves sentiment@v1 too, and its adaptive policy pings it warm.
            try String.fetchAll(db, sql: "SELECT version_id FROM instances WHERE endpoint = 'sentiment' AND state != 'starting' ORDER BY version_id")
        }
    }

    @Test func keepWarmPingsKeepInstancesWarmWithoutUserTrafficAndCoverACanary() async throws {
        let scratch = Scratch()
        defer { scratch.cleanUp() }
        try setUp(scratch)
        let daemon = try BackgroundCommand("daemon", registry: scratch.registry)
        defer { daemon.stop() }

        #expect(try CLI.run(["warm", "sentiment", "--every", "2s", "--concurrency", "2", "--registry", scratch.registry]).status == 0)
        #expect(try await waitUntil(30) { try instances(scratch.registry).filter { $0 == "sentiment@v1" }.count == 2 })

        // A canary takes traffic too: it gets its own pings.
        #expect(try CLI.run(["deploy", "sentiment", "v3", "--strategy", "canary:50%:10m", "--registry", scratch.registry]).status == 0)
        #expect(try await waitUntil(30) { try instances(scratch.registry).contains("sentiment@v3") })

        let queue = try registryQueue(scratch.registry)
        let (requests, warmups, plan, sentAfterDue) = try await queue.read { db in
            (try Int.fetchOne(db, sql: "SELECT COALESCE(SUM(requests), 0) FROM metric_buckets WHERE endpoint = 'sentiment'") ?? -1,
             try Int.fetchOne(db, sql: "SELECT COALESCE(SUM(warmups), 0) FROM metric_buckets WHERE endpoint = 'sentiment'") ?? -1,
             try String.fetchOne(db, sql: "SELECT plan FROM keep_warm_state WHERE endpoint = 'sentiment'"),
             try Bool.fetchOne(db, sql: "SELECT last_ping_at >= last_ping_due_at FROM keep_warm_state WHERE endpoint = 'sentiment'"))
        }
        #expect(requests == 0) // pings are never user traffic
        #expect(warmups >= 3)
        #expect(plan == "every 2s")
        #expect(sentAfterDue == true) // when the last ping was due is recorded next to when it went
    }
}

extension DaemonTests {
    func get(_ url: String, token: String? = nil) async throws -> (status: Int, body: String) {
        var request = HTTPClientRequest(url: url)
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
        return (Int(response.status.code), String(buffer: try await response.body.collect(upTo: 1 << 20)))
    }

    @Test func theDaemonExportsPrometheusMetricsAndAReadOnlyJSONAPI() async throws {
        let scratch = Scratch()
        defer { scratch.cleanUp() }
        try setUp(scratch)
        let daemon = try BackgroundCommand("daemon", registry: scratch.registry)
        defer { daemon.stop() }
        #expect(daemon.apiPort > 0)
        let port = daemon.port
        let traffic = generateTraffic(port: { port })
        try await Task.sleep(for: .seconds(2))
        traffic.cancel()

        let metrics = try await get("http://127.0.0.1:\(daemon.apiPort)/metrics")
        #expect(metrics.status == 200)
        #expect(metrics.body.contains("modeldeck_requests_per_second{endpoint=\"sentiment\",version=\"sentiment@v1\"}"), "\(metrics.body)")
        #expect(metrics.body.contains("modeldeck_traffic_weight_percent{endpoint=\"sentiment\",version=\"sentiment@v1\"} 100"))
        #expect(metrics.body.contains("# TYPE modeldeck_latency_p99_seconds gauge"))
        #expect(metrics.body.contains("modeldeck_daemon_heartbeat_timestamp_seconds"))

        let endpoints = try await get("http://127.0.0.1:\(daemon.apiPort)/api/v1/endpoints")
        #expect(endpoints.status == 200)
        let decoded = try JSONSerialization.jsonObject(with: Data(endpoints.body.utf8)) as? [[String: Any]]
        #expect(decoded?.compactMap { $0["name"] as? String }.sorted() == ["sentiment", "sentiment-batch"])
        #expect(try await get("http://127.0.0.1:\(daemon.apiPort)/api/v1/events?endpoint=sentiment&limit=2").body.contains("\"kind\""))
    }

    @Test func theAPINeedsItsTokenAndRefusesToListenOffLoopbackWithoutOne() async throws {
        let scratch = Scratch()
        defer { scratch.cleanUp() }
        try setUp(scratch)
        let refused = try CLI.run(["daemon", "--registry", scratch.registry, "--port", "0", "--api-host", "0.0.0.0"],
                                  environment: ["MODELDECK_API_TOKEN": ""])
        #expect(refused.status != 0)
        #expect(refused.stderr == "Error: the API would listen on 0.0.0.0, off loopback, without a token; set MODELDECK_API_TOKEN or listen on 127.0.0.1\n")

        let daemon = try BackgroundCommand("daemon", registry: scratch.registry, environment: ["MODELDECK_API_TOKEN": "s3cret"])
        defer { daemon.stop() }
        #expect(try await get("http://127.0.0.1:\(daemon.apiPort)/api/v1/endpoints").status == 401)
        #expect(try await get("http://127.0.0.1:\(daemon.apiPort)/api/v1/endpoints", token: "wrong").status == 401)
        #expect(try await get("http://127.0.0.1:\(daemon.apiPort)/api/v1/endpoints", token: "s3cret").status == 200)
        // The token is never written down.
        let dump = try String(contentsOfFile: scratch.registry, encoding: .isoLatin1)
        #expect(!dump.contains("s3cret"))
    }
}

extension DaemonTests {
    @Test func pingNowIsSentOnceByTheDaemonWhateverThePolicy() async throws {
        let scratch = Scratch()
        defer { scratch.cleanUp() }
        try setUp(scratch)
        #expect(try CLI.run(["warm", "sentiment", "--off", "--registry", scratch.registry]).status == 0)
        // Asked for while no daemon runs: the request waits in the registry.
        let asked = try CLI.run(["ping", "sentiment", "--registry", scratch.registry])
        #expect(asked.status == 0, "\(asked.stderr)")
        let daemon = try BackgroundCommand("daemon", registry: scratch.registry)
        defer { daemon.stop() }
        let queue = try registryQueue(scratch.registry)
        #expect(try await waitUntil(30) {
            try queue.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM events WHERE kind = 'ping.sent' AND endpoint = 'sentiment'") } == 1
        })
        try await Task.sleep(for: .seconds(2))
        let (sent, pending, warmups, requests) = try await queue.read { db in
            (try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM events WHERE kind = 'ping.sent'") ?? -1,
             try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM keep_warm_state WHERE ping_requested_at IS NOT NULL") ?? -1,
             try Int.fetchOne(db, sql: "SELECT COALESCE(SUM(warmups), 0) FROM metric_buckets WHERE endpoint = 'sentiment'") ?? -1,
             try Int.fetchOne(db, sql: "SELECT COALESCE(SUM(requests), 0) FROM metric_buckets WHERE endpoint = 'sentiment'") ?? -1)
        }
        #expect(sent == 1, "one request, one ping: the policy is off, so nothing more")
        #expect(pending == 0)
        #expect(warmups == 1)
        #expect(requests == 0)
        let unknown = try CLI.run(["ping", "nope", "--registry", scratch.registry])
        #expect(unknown.status != 0 && unknown.stderr.contains("unknown endpoint 'nope'"))
    }
}
