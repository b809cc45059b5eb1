import Foundation
import GRDB
import Testing

/// The comparative gate and the low-traffic rule, end to end: the real daemon, the local target, real traffic.
extension DaemonTests {
    /// A deck that adds `sentiment@v4`, v3's weights answering `extraLatencyMs` later, and sets `gate` on
    /// the endpoint.
    func addSlowVersion(_ scratch: Scratch, extraLatencyMs: Int, gate: String, slo: String = "{p99: 60s, error_rate: 1%}") throws {
        let models = FileManager.default.currentDirectoryPath + "/fixtures/models/sentiment"
        let deck = scratch.file("slow.yaml", """
            apiVersion: modeldeck/v1
            models:
              - name: sentiment
                versions:
                  - version: v4
                    artifact: \(models)/weights-v3.json
                    command: [python3, server.py, --extra-latency-ms, "\(extraLatencyMs)"]
                    workdir: \(models)
                    memory: 128MB
                    timeout: 30s
            endpoints:
              - name: sentiment
                model: sentiment
                target: local
                memory: 256MB
                slo: \(slo)
                gate: \(gate)
            """)
        let applied = try CLI.run(["apply", "-f", deck, "--registry", scratch.registry])
        #expect(applied.status == 0, "\(applied.stderr)")
    }

    @Test func aVersionTwiceAsSlowButInsideTheSLOIsRolledBackByTheRelativeGate() async throws {
        let scratch = Scratch()
        defer { scratch.cleanUp() }
        try setUp(scratch)
        // v1 answers in milliseconds; v4 sleeps 300 ms more: far more than twice as slow, inside an SLO of 5 s
        // (wide, so that a loaded test machine's queueing never breaks it: the relative gate must be the one).
        try addSlowVersion(scratch, extraLatencyMs: 300, gate: "{tolerance: 20%, slack: 100ms, min_requests: 20}", slo: "{p99: 5s, error_rate: 1%}")
        let daemon = try BackgroundCommand("daemon", registry: scratch.registry)
        defer { daemon.stop() }
        let port = daemon.port
        // 5 a second: v4's half keeps about one instance busy, below the endpoint's 4.
        let traffic = generateTraffic(port: { port }, perSecond: 5)
        defer { traffic.cancel() }

        let deploy = try CLI.run(["deploy", "sentiment", "v4", "--steps", "50%:10m,100%", "--reason", "slow", "--registry", scratch.registry])
        #expect(deploy.status == 0, "\(deploy.stderr)")
        #expect(try await waitUntil(90) { try deploymentState(scratch.registry, id: 1)?.state == "rolled_back" })
        let alarm = try deploymentState(scratch.registry, id: 1)?.alarm ?? ""
        // Both p99s are named; the new one is inside the absolute SLO of 1 s.
        #expect(alarm.hasPrefix("sentiment@v4 warm p99 "), "\(alarm)")
        #expect(alarm.contains(" ms is over sentiment@v1's "), "\(alarm)")
        let p99 = Int(alarm.dropFirst("sentiment@v4 warm p99 ".count).prefix { $0.isNumber }) ?? 0
        #expect((300..<5_000).contains(p99), "\(alarm)")
        #expect(try desiredWeights(scratch.registry) == ["sentiment@v1": 100])
        #expect(try events(scratch.registry, kinds: "deploy.rolled_back").count == 1)
    }

    @Test func aCanaryAtLowTrafficWaitsSaysWhyAndFailsPerOnLowTraffic() async throws {
        let scratch = Scratch()
        defer { scratch.cleanUp() }
        try setUp(scratch, latencyGate: false)
        try addSlowVersion(scratch, extraLatencyMs: 0, gate: "{min_requests: 50, on_low_traffic: fail, deadline: 4s, slack: 60s}")
        let daemon = try BackgroundCommand("daemon", registry: scratch.registry)
        defer { daemon.stop() }
        let port = daemon.port
        // A request a second, split 50/50: nowhere near 50 requests on v4 in the step and its deadline.
        let traffic = generateTraffic(port: { port }, perSecond: 1)
        defer { traffic.cancel() }

        #expect(try CLI.run(["deploy", "sentiment", "v4", "--steps", "50%:2s,100%", "--registry", scratch.registry]).status == 0)
        // It says what it waits for.
        #expect(try await waitUntil(30) {
            let listed = try CLI.run(["get", "deployments", "--registry", scratch.registry]).stdout
            return listed.contains("waits for ") && listed.contains(" of 50 requests")
        })
        #expect(try await waitUntil(60) { try deploymentState(scratch.registry, id: 1)?.state == "rolled_back" })
        let alarm = try deploymentState(scratch.registry, id: 1)?.alarm ?? ""
        #expect(alarm.hasPrefix("not enough evidence: sentiment@v4 had "), "\(alarm)")
        #expect(alarm.hasSuffix(" of 50 requests 4s after its step's time (on_low_traffic: fail)"), "\(alarm)")
        #expect(try desiredWeights(scratch.registry) == ["sentiment@v1": 100])
    }
}
