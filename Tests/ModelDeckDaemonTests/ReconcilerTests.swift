import Clocks
import Foundation
import ModelDeckCore
import Testing
@testable import ModelDeckDaemon

/// The reconciler's decisions, on a test clock with fake drivers: no process, no network.
@Suite struct ReconcilerTests {
    func reconciler(_ fixture: Fixture, clock: TestClock<Duration>) -> Reconciler<TestClock<Duration>> {
        Reconciler(registry: fixture.registry, drivers: fixture.drivers, logger: fixture.logger, clock: clock)
    }

    /// Ticks (at `now`) until `condition` holds or 50 ticks have passed, letting background steps finish between ticks.
    func tick(_ reconciler: Reconciler<TestClock<Duration>>, until condition: () throws -> Bool) async throws -> Bool {
        for _ in 0..<50 {
            await reconciler.tick()
            _ = await eventually { await reconciler.isIdle }
            if try condition() { return true }
        }
        return false
    }

    @Test func aRollbackSupersedesTheDeployInFlightAndPutsTrafficBackAtOnce() async throws {
        let fixture = try Fixture()
        defer { fixture.cleanUp() }
        let reconciler = reconciler(fixture, clock: TestClock())
        let deploy = try Intents.deploy(fixture.registry, endpoint: "a", version: "v2", strategy: .canary(percent: 50, intervalSeconds: 600),
                                        bakeSeconds: 0, reason: "test")
        #expect(try await tick(reconciler) { try fixture.registry.deployment(id: deploy.id)?.state == .shifting })
        #expect(fixture.here.state.withLock { $0.routed["a"] } == ["m@v1": 50, "m@v2": 50])

        let rollback = try Intents.rollback(fixture.registry, endpoint: "a", to: nil, reason: "bad canary")
        #expect(try await tick(reconciler) { try fixture.registry.deployment(id: rollback.id)?.state == .succeeded })
        let stopped = try #require(try fixture.registry.deployment(id: deploy.id))
        #expect(stopped.state == .rolledBack)
        #expect(stopped.alarm?.hasPrefix("superseded by rollback #\(rollback.id ?? 0)") == true)
        #expect(fixture.here.state.withLock { $0.routed["a"] } == ["m@v1": 100])
        #expect(try fixture.registry.desiredWeights(endpoint: "a") == ["m@v1": 100])
        #expect(try fixture.registry.routedWeights(endpoint: "a") == ["m@v1": 100])
    }

    /// Where the registry's traffic table is the routing (the local gateway), a rollback's step and its weights
    /// are one commit, and the driver hears of them once they are recorded (it has the gateway read them at
    /// once). A target with routing of its own is asked first, and the weights are recorded once it has them.
    @Test func aStepOnATargetRoutedByTheRegistryRecordsItsWeightsWithItBeforeTheDriverHears() async throws {
        for routesByRegistry in [true, false] {
            let fixture = try Fixture(hereRoutesByRegistry: routesByRegistry)
            defer { fixture.cleanUp() }
            let registry = fixture.registry
            let reconciler = reconciler(fixture, clock: TestClock())
            let deploy = try Intents.deploy(registry, endpoint: "a", version: "v2", strategy: .allAtOnce, bakeSeconds: 0, reason: "test")
            #expect(try await tick(reconciler) { try registry.deployment(id: deploy.id)?.state == .succeeded })
            fixture.here.state.withLock { $0.observe = { endpoint in (try? registry.routedWeights(endpoint: endpoint)) ?? [:] } }

            let rollback = try Intents.rollback(registry, endpoint: "a", to: "v1", reason: "test")
            // One tick: a rollback is done once its weights are routed.
            await reconciler.tick()
            #expect(try registry.deployment(id: rollback.id)?.state == .succeeded)
            #expect(try registry.routedWeights(endpoint: "a") == ["m@v1": 100])
            #expect(fixture.here.state.withLock { $0.routed["a"] } == ["m@v1": 100])
            let seen = fixture.here.state.withLock { $0.observed }
            #expect(seen == [routesByRegistry ? ["m@v1": 100] : ["m@v2": 100]], "routes by the registry: \(routesByRegistry)")
        }
    }

    /// The bake's end keeps the weights the target was seen routing, so it asks the platform nothing: a second
    /// update would undo a change made by hand in between (an engineer at the console), unseen as drift.
    @Test func theEndOfABakeRoutesNothingMore() async throws {
        let fixture = try Fixture()
        defer { fixture.cleanUp() }
        let reconciler = reconciler(fixture, clock: TestClock())
        let deploy = try Intents.deploy(fixture.registry, endpoint: "b", version: "v2", strategy: .allAtOnce, bakeSeconds: 0, reason: "test")
        #expect(try await tick(reconciler) { try fixture.registry.deployment(id: deploy.id)?.state == .succeeded })
        let routings = fixture.there.state.withLock { $0.setWeightsCalls.filter { $0.endpoint == "b" }.map(\.weights) }
        #expect(routings == [["m@v2": 100]])
        #expect(try fixture.registry.routedWeights(endpoint: "b") == ["m@v2": 100])
    }

    @Test func aSlowCloudStepHoldsUpNoOtherEndpointAndARollbackCancelsIt() async throws {
        let fixture = try Fixture()
        defer { fixture.cleanUp() }
        let reconciler = reconciler(fixture, clock: TestClock())
        fixture.there.state.withLock { _ = $0.hanging.insert("b") }
        let slow = try Intents.deploy(fixture.registry, endpoint: "b", version: "v2", strategy: .allAtOnce, bakeSeconds: 0, reason: "slow")
        // Each wake lets the background step of the one before finish (or hang), however slow the machine.
        for _ in 0..<20 where fixture.there.state.withLock({ $0.hung }) == 0 {
            await reconciler.tick()
            _ = await eventually { await reconciler.isIdle || fixture.there.state.withLock { $0.hung } == 1 }
        }
        #expect(fixture.there.state.withLock { $0.hung } == 1)
        #expect(await !reconciler.isIdle)

        // Another endpoint's deploy goes through meanwhile.
        let other = try Intents.deploy(fixture.registry, endpoint: "a", version: "v2", strategy: .allAtOnce, bakeSeconds: 0, reason: "quick")
        for _ in 0..<20 where try fixture.registry.deployment(id: other.id)?.state != .succeeded { await reconciler.tick() }
        #expect(try fixture.registry.deployment(id: other.id)?.state == .succeeded)

        // A rollback of the slow one does not wait behind it: the hanging step is cancelled.
        fixture.there.state.withLock { $0.hanging = [] }
        let rollback = try Intents.rollback(fixture.registry, endpoint: "b", to: "v1", reason: "stuck")
        await reconciler.tick()
        #expect(await eventually { fixture.there.state.withLock { $0.cancelled } == 1 })
        for _ in 0..<10 {
            await reconciler.tick()
            _ = await eventually { await reconciler.isIdle }
        }
        #expect(try fixture.registry.deployment(id: slow.id)?.state == .rolledBack)
        #expect(try fixture.registry.deployment(id: rollback.id)?.state == .succeeded)
        #expect(fixture.there.state.withLock { $0.routed["b"] } == ["m@v1": 100])
    }

    @Test func routingThatFailsIsNotedAndRetriedOnTheCloudClockOnly() async throws {
        let fixture = try Fixture()
        defer { fixture.cleanUp() }
        let clock = TestClock()
        let reconciler = reconciler(fixture, clock: clock)
        fixture.there.state.withLock { $0.failures = 1_000 }
        let deploy = try Intents.deploy(fixture.registry, endpoint: "b", version: "v2", strategy: .allAtOnce, bakeSeconds: 0, reason: "test")
        #expect(try await tick(reconciler) { try fixture.registry.deployment(id: deploy.id)?.alarm?.hasPrefix("cannot route") == true })
        let alarm = try #require(try fixture.registry.deployment(id: deploy.id)?.alarm)
        #expect(alarm.contains("throttled by the fake platform"))
        #expect(try fixture.registry.deployment(id: deploy.id)?.state != .succeeded)

        // Once 15 s have passed since any try (however many wakes it took to see the alarm), the next wake tries
        // again at once, and fails again; then, within 15 s of that try, the platform is not asked again however
        // often the reconciler wakes.
        await clock.advance(by: .seconds(15))
        let first = fixture.there.state.withLock { $0.setWeightsCalls.count }
        await reconciler.tick(checkDrift: false)
        _ = await eventually { await reconciler.isIdle }
        let calls = fixture.there.state.withLock { $0.setWeightsCalls.count }
        #expect(calls == first + 1)
        for _ in 0..<5 {
            await reconciler.tick(checkDrift: false)
            _ = await eventually { await reconciler.isIdle }
        }
        #expect(fixture.there.state.withLock { $0.setWeightsCalls.count } == calls)
        #expect(try fixture.registry.deployment(id: deploy.id)?.state != .succeeded)

        fixture.there.state.withLock { $0.failures = 0 }
        await clock.advance(by: .seconds(15))
        #expect(try await tick(reconciler) { try fixture.registry.deployment(id: deploy.id)?.state == .succeeded })
        #expect(try fixture.registry.deployment(id: deploy.id)?.alarm == nil)
        #expect(fixture.there.state.withLock { $0.routed["b"] } == ["m@v2": 100])
    }

    @Test func driftIsCorrectedAtOnceOnTheLocalTargetAndOnceAMinuteOnACloudOne() async throws {
        let fixture = try Fixture()
        defer { fixture.cleanUp() }
        let clock = TestClock()
        let reconciler = reconciler(fixture, clock: clock)
        for endpoint in ["a", "b"] {
            let deploy = try Intents.deploy(fixture.registry, endpoint: endpoint, version: "v2", strategy: .allAtOnce, bakeSeconds: 0, reason: "test")
            #expect(try await tick(reconciler) { try fixture.registry.deployment(id: deploy.id)?.state == .succeeded })
        }
        // A minute on, a drift check asks the cloud target again, and finds it as the registry says.
        let before = fixture.there.state.withLock { $0.liveWeightsCalls }
        await clock.advance(by: .seconds(60))
        await reconciler.tick()
        _ = await eventually { await reconciler.isIdle }
        let asked = fixture.there.state.withLock { $0.liveWeightsCalls }
        #expect(asked == before + 1)
        // Someone changes both targets by hand.
        fixture.here.state.withLock { $0.changedByHand["a"] = ["m@v1": 100] }
        fixture.there.state.withLock { $0.changedByHand["b"] = ["m@v1": 100] }
        await reconciler.tick()
        _ = await eventually { await reconciler.isIdle }
        #expect(fixture.here.state.withLock { $0.routed["a"] } == ["m@v2": 100])
        #expect(fixture.here.state.withLock { $0.changedByHand["a"] } == nil)
        // The cloud target was last asked less than a minute ago (on the test clock): not yet.
        #expect(fixture.there.state.withLock { $0.changedByHand["b"] } == ["m@v1": 100])
        #expect(fixture.there.state.withLock { $0.liveWeightsCalls } == asked)

        await clock.advance(by: .seconds(60))
        await reconciler.tick()
        #expect(await eventually { fixture.there.state.withLock { $0.changedByHand["b"] } == nil })
        #expect(fixture.there.state.withLock { $0.routed["b"] } == ["m@v2": 100])
        // Each change by hand is in the audit log, where notifications pick it up.
        let drift = try fixture.registry.events(since: nil).filter { $0.kind == "drift.detected" }
        #expect(drift.map(\.endpoint) == ["a", "b"])
        #expect(drift.first?.message == "a: the target routes m@v1 100%; the registry says m@v2 100%; restoring the registry's routing (drift: enforce)")
    }
}

