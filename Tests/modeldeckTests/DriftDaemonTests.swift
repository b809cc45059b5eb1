import Foundation
import GRDB
import Testing

/// Drift made by hand on the local target (its gateway routes by the registry's traffic table, so writing
/// that table is writing the live weights), detected, shown, logged, and restored only under enforce.
extension DaemonTests {
    func writeLiveWeights(_ registry: String, v1: Int, v3: Int) throws {
        let queue = try registryQueue(registry)
        try queue.write { db in
            try db.execute(sql: "INSERT OR REPLACE INTO traffic (endpoint, version_id, weight, live_weight) VALUES ('sentiment', 'sentiment@v1', ?, ?), ('sentiment', 'sentiment@v3', ?, ?)",
                           arguments: [v1, v1, v3, v3])
        }
    }

    func setDriftPolicy(_ registry: String, _ policy: String) throws {
        let queue = try registryQueue(registry)
        try queue.write { db in try db.execute(sql: "UPDATE targets SET config = json_set(config, '$.drift', ?) WHERE name = 'local'", arguments: [policy]) }
    }

    @Test func handMadeDriftOnTheLocalTargetIsShownUnderAlertAndRestoredOnlyUnderEnforce() async throws {
        let scratch = Scratch()
        defer { scratch.cleanUp() }
        try setUp(scratch, latencyGate: false)
        let registry = scratch.registry
        try setDriftPolicy(registry, "alert")
        let daemon = try BackgroundCommand("daemon", registry: registry)
        defer { daemon.stop() }
        #expect(try CLI.run(["deploy", "sentiment", "v3", "--bake", "1s", "--registry", registry]).status == 0)
        #expect(try await waitUntil(30) { try deploymentState(registry, id: 1)?.state == "succeeded" })

        // Someone moves 40% back to v1 by hand.
        try writeLiveWeights(registry, v1: 40, v3: 60)
        #expect(try await waitUntil(20) { try events(registry, kinds: "drift.detected").count == 1 })
        #expect(try events(registry, kinds: "drift.detected").first?.message
            == "sentiment: the target routes sentiment@v3 60%, sentiment@v1 40%; the registry says sentiment@v3 100%; left as the target has it (drift: alert); a rollback or deploy, or drift: enforce|adopt, resolves it")
        let listed = try CLI.run(["get", "endpoints", "--registry", registry]).stdout
        #expect(listed.contains("⚠ drift: target routes sentiment@v3 60%, sentiment@v1 40%, registry says sentiment@v3 100%"), "\(listed)")
        try await Task.sleep(for: .seconds(2))
        #expect(try desiredWeights(registry) == ["sentiment@v1": 40, "sentiment@v3": 60], "alert never undoes it")
        #expect(try events(registry, kinds: "drift.detected").count == 1, "said once, not at every check")

        // Under enforce the registry's routing comes back, and the daemon says so.
        try setDriftPolicy(registry, "enforce")
        #expect(try await waitUntil(20) { try desiredWeights(registry) == ["sentiment@v3": 100] })
        #expect(try await waitUntil(20) { try events(registry, kinds: "drift.resolved").last?.message == "sentiment: restored the registry's routing, sentiment@v3 100% (drift: enforce)" })
        #expect(!(try CLI.run(["get", "endpoints", "--registry", registry]).stdout.contains("drift")))
    }
}
