import Clocks
import Foundation
import GRDB
import ModelDeckCore
import Testing
@testable import ModelDeckDaemon

/// Drift made by hand, detected, recorded with both sides, and acted on by the target's `drift:` policy.
extension ReconcilerTests {
    func setDrift(_ fixture: Fixture, target: String, _ policy: String) throws {
        try fixture.registry.write { db in
            try db.execute(sql: "UPDATE targets SET config = json_set(config, '$.drift', ?) WHERE name = ?", arguments: [policy, target])
        }
    }

    /// Endpoint `a` on `here` (with `drift`) at v2, all traffic.
    func deployV2(_ fixture: Fixture, _ reconciler: Reconciler<TestClock<Duration>>, drift: String) async throws {
        try setDrift(fixture, target: "here", drift)
        let deploy = try Intents.deploy(fixture.registry, endpoint: "a", version: "v2", strategy: .allAtOnce, bakeSeconds: 0, reason: "test")
        #expect(try await tick(reconciler) { try fixture.registry.deployment(id: deploy.id)?.state == .succeeded })
    }

    func driftEvents(_ fixture: Fixture) throws -> [String] {
        try fixture.registry.read { db in try String.fetchAll(db, sql: "SELECT kind || ': ' || message FROM events WHERE kind LIKE 'drift.%' ORDER BY id") }
    }

    @Test func underAlertDriftIsRecordedAndShownButLeftAsTheTargetHasIt() async throws {
        let fixture = try Fixture()
        defer { fixture.cleanUp() }
        let reconciler = reconciler(fixture, clock: TestClock())
        try await deployV2(fixture, reconciler, drift: "alert")

        fixture.here.state.withLock { $0.changedByHand["a"] = ["m@v1": 100] }
        for _ in 0..<3 {
            await reconciler.tick()
            _ = await eventually { await reconciler.isIdle }
        }
        #expect(fixture.here.state.withLock { $0.changedByHand["a"] } == ["m@v1": 100], "alert never undoes it")
        #expect(try driftEvents(fixture) == ["drift.detected: a: the target routes m@v1 100%; the registry says m@v2 100%; left as the target has it (drift: alert); a rollback or deploy, or drift: enforce|adopt, resolves it"])
        #expect(try fixture.registry.drifts()["a"]?.summary == "target routes m@v1 100%, registry says m@v2 100%")
        #expect(try fixture.registry.fleet(now: Date()).endpoints.first { $0.endpoint.name == "a" }?.drift != nil)

        // Switched to enforce: restored, and it says so; the mark goes.
        try setDrift(fixture, target: "here", "enforce")
        await reconciler.tick()
        _ = await eventually { await reconciler.isIdle }
        #expect(fixture.here.state.withLock { $0.changedByHand["a"] } == nil)
        #expect(fixture.here.state.withLock { $0.routed["a"] } == ["m@v2": 100])
        #expect(try driftEvents(fixture).last == "drift.resolved: a: restored the registry's routing, m@v2 100% (drift: enforce)")
        #expect(try fixture.registry.drifts().isEmpty)
    }

    @Test func aTargetRoutedByTheRegistryIsCheckedOnlyWhenTheRegistryMovesOrACheckFailed() async throws {
        let fixture = try Fixture(hereRoutesByRegistry: true)
        defer { fixture.cleanUp() }
        let reconciler = reconciler(fixture, clock: TestClock())
        try await deployV2(fixture, reconciler, drift: "enforce")
        func pass() async {
            await reconciler.tick()
            _ = await eventually { await reconciler.isIdle }
        }
        let calls = { fixture.here.state.withLock { $0.liveWeightsCalls } }
        await pass()
        let settled = calls()
        for _ in 0..<5 { await pass() }
        #expect(calls() == settled, "nothing moved in the registry: nothing is read from the target")

        // The registry moves (the target's drift policy): checked once more, then left alone again.
        try setDrift(fixture, target: "here", "alert")
        await pass()
        await pass()
        #expect(calls() == settled + 1)

        // A check that fails is tried again at the next pass, though the registry did not move.
        fixture.here.state.withLock { $0.liveWeightsFailures = 1 }
        try setDrift(fixture, target: "here", "enforce")
        await pass()
        #expect(calls() == settled + 2)
        await pass()
        await pass()
        #expect(calls() == settled + 3)
        #expect(try driftEvents(fixture).isEmpty)
    }

    @Test func underAdoptTheTargetsRoutingBecomesTheRegistrysAndStays() async throws {
        let fixture = try Fixture()
        defer { fixture.cleanUp() }
        let reconciler = reconciler(fixture, clock: TestClock())
        try await deployV2(fixture, reconciler, drift: "adopt")

        fixture.here.state.withLock { $0.changedByHand["a"] = ["m@v1": 70, "m@v2": 30] }
        for _ in 0..<3 {
            await reconciler.tick()
            _ = await eventually { await reconciler.isIdle }
        }
        #expect(fixture.here.state.withLock { $0.changedByHand["a"] } == ["m@v1": 70, "m@v2": 30], "adopt leaves the target alone")
        #expect(try fixture.registry.desiredWeights(endpoint: "a") == ["m@v1": 70, "m@v2": 30])
        #expect(try driftEvents(fixture).map { $0.prefix { $0 != ":" } } == ["drift.detected", "drift.adopted"])
        #expect(try fixture.registry.drifts().isEmpty)
        #expect(try fixture.registry.latestDeployments().first { $0.deployment.endpoint == "a" }?.deployment.strategy == "adopted:m@v1=70,m@v2=30")
    }

    @Test func theDriftPolicyDefaultsToAlertOnCloudKindsAndEnforceOnTheLocalOne() throws {
        #expect(DriftPolicy(of: Target(name: "l", kind: .local)) == .enforce)
        #expect(DriftPolicy(of: Target(name: "f", kind: .awsLambda, region: "eu-central-1")) == .alert)
        #expect(DriftPolicy(of: Target(name: "f", kind: .awsLambda, region: "eu-central-1", config: ["drift": "enforce"])) == .enforce)
        let drift = try #require(Drift.between(endpoint: "e", registry: ["a": 100, "b": 0], target: ["a": 90, "b": 10]))
        #expect(drift.action(under: .adopt, deployInFlight: true) == .alert)
        #expect(drift.action(under: .adopt, deployInFlight: false) == .adopt)
        #expect(Drift.between(endpoint: "e", registry: ["a": 100, "b": 0], target: ["a": 100]) == nil)
    }
}
