import Clocks
import Foundation
import ModelDeckCore
import Testing
@testable import ModelDeckDaemon

/// An idle daemon sleeps until something falls due or the registry changes, and misses nothing by it: the
/// schedules' decisions on test clocks, then the loops on the real shared watcher, with sleeps too long for
/// anything but the change to wake them within the test.
struct IdleScheduleTests {
    let clock = TestClock<Duration>()

    @Test func anIdleControlLoopWakesForItsHeartbeatBudgetAndRollupNotEveryTick() {
        let start = clock.now
        var schedule = ControlSchedule(tickInterval: .milliseconds(250), startingAt: start)
        // The first wake: the rollup, the budget check and a drift check are due; the heartbeat was just written.
        #expect(schedule.wake(at: start) == .init(checkDrift: true, beat: false, rollup: true, budget: true))
        // Nothing in flight: the next wake is the heartbeat's, 2 s on, not the tick's 250 ms.
        #expect(schedule.nextWake(reconcilerDue: nil) == start.advanced(by: .seconds(2)))
        let beat = start.advanced(by: .seconds(2))
        #expect(schedule.wake(at: beat) == .init(checkDrift: true, beat: true, rollup: false, budget: false))
        var at = beat
        for _ in 0..<4 { at = schedule.nextWake(reconcilerDue: nil); _ = schedule.wake(at: at) }
        #expect(at == start.advanced(by: .seconds(10)))
        #expect(schedule.lastBudget == at, "the budget check every 10 s")
        // A deployment in flight: the reconciler's due time comes first.
        let due = at.advanced(by: .milliseconds(250))
        #expect(schedule.nextWake(reconcilerDue: due) == due)
    }

    @Test func aChangeSoonAfterADriftCheckOwesOneATickLater() {
        let start = clock.now
        var schedule = ControlSchedule(tickInterval: .milliseconds(250), startingAt: start)
        _ = schedule.wake(at: start)
        // A commit 50 ms later: acted on, but drift is not looked for again so soon...
        let change = start.advanced(by: .milliseconds(50))
        #expect(schedule.wake(at: change).checkDrift == false)
        // ... so the loop comes back for it when the tick interval has passed, not at the heartbeat.
        #expect(schedule.nextWake(reconcilerDue: nil) == start.advanced(by: .milliseconds(250)))
        #expect(schedule.wake(at: start.advanced(by: .milliseconds(250))).checkDrift)
        #expect(schedule.nextWake(reconcilerDue: nil) == start.advanced(by: .seconds(2)))
    }

    @Test func theReconcilerIsDueATickOnWhileADeployIsInFlightThenOnlyWhenACloudCheckFallsDue() async throws {
        let fixture = try Fixture(hereRoutesByRegistry: true)
        defer { fixture.cleanUp() }
        let reconciler = Reconciler(registry: fixture.registry, drivers: fixture.drivers, logger: fixture.logger, clock: clock)
        let tick = Duration.milliseconds(250)
        await reconciler.tick()
        // Nothing deployed, the routing checked: only a registry change can give it work.
        #expect(await reconciler.nextDue(tickInterval: tick) == nil)

        let deploy = try Intents.deploy(fixture.registry, endpoint: "a", version: "v2", strategy: .canary(percent: 50, intervalSeconds: 600),
                                        bakeSeconds: 0, reason: "test")
        await reconciler.tick()
        #expect(try fixture.registry.deployment(id: deploy.id)?.state.isActive == true)
        #expect(await reconciler.nextDue(tickInterval: tick) == clock.now.advanced(by: tick))

        _ = try Intents.rollback(fixture.registry, endpoint: "a", to: nil, reason: "done")
        for _ in 0..<5 { await reconciler.tick() }
        #expect(try fixture.registry.deployment(id: deploy.id)?.state == .rolledBack)
        #expect(await reconciler.nextDue(tickInterval: tick) == nil)

        // A deployment on the cloud target: once it is done, due at its drift check a minute on.
        let cloud = try Intents.deploy(fixture.registry, endpoint: "b", version: "v2", strategy: .allAtOnce, bakeSeconds: 0, reason: "test")
        for _ in 0..<20 where try fixture.registry.deployment(id: cloud.id)?.state != .succeeded {
            await reconciler.tick()
            _ = await eventually { await reconciler.isIdle }
        }
        await reconciler.tick()
        _ = await eventually { await reconciler.isIdle }
        #expect(await reconciler.nextDue(tickInterval: tick) == clock.now.advanced(by: .seconds(60)))
    }

    @Test func theNotificationLoopSleepsUntilTheNextRetryOfAnEntryNotSending() {
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        func state(_ name: String, retryIn seconds: TimeInterval?) -> NotificationState {
            NotificationState(channel: NotificationChannel(name: name, destination: .url("http://127.0.0.1:9/"), format: .json), cursor: 0,
                              nextAttemptAt: seconds.map { now.addingTimeInterval($0) })
        }
        let states = [state("a", retryIn: nil), state("b", retryIn: 4), state("c", retryIn: 1.5), state("d", retryIn: -2)]
        #expect(NotificationSchedule.due(states, now: now).map(\.channel.name) == ["a", "d"])
        #expect(NotificationSchedule.sleep(states, now: now, sending: [], maxSleep: .seconds(60)) == .milliseconds(1_500))
        // One still sending wakes the loop by its own write when it ends.
        #expect(NotificationSchedule.sleep(states, now: now, sending: ["c"], maxSleep: .seconds(60)) == .seconds(4))
        #expect(NotificationSchedule.sleep([state("a", retryIn: nil)], now: now, sending: [], maxSleep: .seconds(60)) == .seconds(60))
    }

    @Test(.timeLimit(.minutes(1))) func anEventIsStillSentWithoutAPollWhenTheLoopSleepsOnTheSharedWatcher() async throws {
        let fixture = try Fixture()
        defer { fixture.cleanUp() }
        let deck = try DeckReader(sourceName: "n.yaml", baseDirectory: fixture.folder, environment: [:])
            .parse("notifications:\n  - {name: hook, url: 'http://127.0.0.1:9/', format: json}\n")
        try DeckApplier.apply(deck, to: fixture.registry, source: "test")
        let receiver = FakeReceiver()
        let watcher = try RegistryWatcher(path: fixture.registry.path, notified: true)
        var loop = NotificationLoop(registry: fixture.registry, sender: receiver, logger: fixture.logger, clock: ContinuousClock())
        loop.watcher = watcher
        let running = Task { [loop] in try await loop.run() }
        defer { running.cancel() }
        // Asleep on the watcher (its longest sleep is a minute, past the test's limit), then an event.
        try await Task.sleep(for: .milliseconds(300))
        let id = try fixture.registry.write { db in
            try db.record(AuditEvent(at: Date(), actor: "daemon", endpoint: "a", kind: "deploy.failed", message: "deploy failed")).id
        }
        #expect(await eventually { receiver.delivered(to: "hook") == ["\(id ?? 0)"] })
    }
}
