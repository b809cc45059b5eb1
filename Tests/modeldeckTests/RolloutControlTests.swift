import Foundation
import GRDB
import Synchronization
import Testing

/// pause, resume, promote, promote --full, set-weight and abort through the real CLI, acted on by the real
/// daemon on the local target, across kill -9 of the daemon.
extension DaemonTests {
    func control(_ arguments: [String], _ registry: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let result = try CLI.run(arguments + ["--reason", "on-call says so", "--registry", registry])
        #expect(result.status == 0, "\(arguments): \(result.stderr)", sourceLocation: sourceLocation)
    }

    /// What the target routes now: the weights the daemon recorded as live.
    func liveWeights(_ registry: String) throws -> [String: Int] {
        let queue = try registryQueue(registry)
        return try queue.read { db in
            Dictionary(uniqueKeysWithValues: try Row.fetchAll(db, sql: "SELECT version_id, live_weight FROM traffic WHERE endpoint = 'sentiment' AND live_weight > 0")
                .map { ($0["version_id"] as String, $0["live_weight"] as Int) })
        }
    }

    func routes(_ registry: String, _ weights: [String: Int]) async throws -> Bool {
        try await waitUntil(20) { try liveWeights(registry) == weights && desiredWeights(registry) == weights }
    }

    @Test func aStepPlanIsSteeredByHandAndSurvivesKillMinus9WhilePaused() async throws {
        let scratch = Scratch()
        defer { scratch.cleanUp() }
        try setUp(scratch, latencyGate: false)
        let registry = scratch.registry
        var daemon = try BackgroundCommand("daemon", registry: registry)
        let port = Mutex(daemon.port)
        let traffic = generateTraffic(port: { port.withLock { $0 } }, perSecond: 10)
        defer { traffic.cancel() }

        let deploy = try CLI.run(["deploy", "sentiment", "v3", "--steps", "20%:10m,pause,60%:10m,100%", "--bake", "1h",
                                  "--reason", "retrained", "--registry", registry])
        #expect(deploy.status == 0, "\(deploy.stderr)")
        #expect(try await routes(registry, ["sentiment@v3": 20, "sentiment@v1": 80]))

        // promote: to the next step, a pause, which holds 20% (--override: the step has not yet had its 20
        // requests, which a plain promote waits for).
        try control(["promote", "sentiment", "--override"], registry)
        #expect(try await waitUntil(20) { try events(registry, kinds: "deploy.step").last?.message.contains("step 2/4: pause") == true })
        #expect(try liveWeights(registry) == ["sentiment@v3": 20, "sentiment@v1": 80])

        // set-weight: a manual step; the plan stays paused.
        try control(["set-weight", "sentiment", "v3=50"], registry)
        #expect(try await routes(registry, ["sentiment@v3": 50, "sentiment@v1": 50]))

        // kill -9 in the middle of the paused plan; resume is asked for while no daemon runs.
        daemon.kill9()
        try control(["resume", "sentiment"], registry)
        daemon = try BackgroundCommand("daemon", registry: registry)
        port.withLock { $0 = daemon.port }
        #expect(try await routes(registry, ["sentiment@v3": 60, "sentiment@v1": 40]))

        // pause, then kill -9 again: the new daemon holds 60% and does not step on.
        try control(["pause", "sentiment"], registry)
        daemon.kill9()
        daemon = try BackgroundCommand("daemon", registry: registry)
        port.withLock { $0 = daemon.port }
        try await Task.sleep(for: .seconds(2))
        #expect(try liveWeights(registry) == ["sentiment@v3": 60, "sentiment@v1": 40])
        #expect(try deploymentState(registry, id: 1)?.state == "shifting")

        // promote --full: 100% and its bake; --skip-bake ends it.
        // Once the step has its evidence (get deployments no longer says what it waits for).
        #expect(try await waitUntil(60) { !(try CLI.run(["get", "deployments", "--registry", registry]).stdout.contains("waits for")) })
        try control(["promote", "sentiment", "--full"], registry)
        #expect(try await routes(registry, ["sentiment@v3": 100]))
        #expect(try deploymentState(registry, id: 1)?.state == "baking")
        try control(["promote", "sentiment", "--skip-bake"], registry)
        #expect(try deploymentState(registry, id: 1)?.state == "succeeded")
        daemon.stop()

        let kinds = try events(registry, kinds: "deploy.%").map(\.kind)
        #expect(kinds == ["deploy.requested", "deploy.provisioning", "deploy.step", "deploy.promoted", "deploy.override", "deploy.step",
                          "deploy.weight_set", "deploy.resumed", "deploy.step", "deploy.paused", "deploy.promoted", "deploy.step",
                          "deploy.promoted", "deploy.succeeded"])
        // Nothing left to promote.
        let again = try CLI.run(["promote", "sentiment", "--reason", "x", "--registry", registry])
        #expect(again.status != 0 && again.stderr.contains("has no deploy in flight; there is nothing to promote"))
    }

    @Test func abortPutsAllTrafficBackWithinAWake() async throws {
        let scratch = Scratch()
        defer { scratch.cleanUp() }
        try setUp(scratch, latencyGate: false)
        let registry = scratch.registry
        let daemon = try BackgroundCommand("daemon", registry: registry)
        defer { daemon.stop() }
        #expect(try CLI.run(["deploy", "sentiment", "v3", "--strategy", "canary:30%:10m", "--registry", registry]).status == 0)
        #expect(try await routes(registry, ["sentiment@v3": 30, "sentiment@v1": 70]))
        try control(["abort", "sentiment"], registry)
        #expect(try await routes(registry, ["sentiment@v1": 100]))
        #expect(try await waitUntil(20) { try deploymentState(registry, id: 1)?.state == "rolled_back" })
        #expect(try deploymentState(registry, id: 1)?.alarm?.hasPrefix("aborted by ") == true)
        #expect(try events(registry, kinds: "deploy.%").map(\.kind).suffix(2) == ["deploy.aborted", "deploy.rolled_back"])
    }
}
