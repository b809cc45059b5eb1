import Clocks
import Foundation
import ModelDeckCore
import Synchronization
import Testing
@testable import ModelDeckDaemon

/// A receiver that is down (every send fails) until told otherwise, and remembers every try.
final class FakeReceiver: NotificationSender {
    struct State {
        var down = false
        var tries: [(entry: String, key: String)] = []
        var delivered: [(entry: String, key: String, body: Data)] = []
    }

    let state = Mutex(State())

    func send(_ delivery: NotificationDelivery) async throws {
        let down = state.withLock { state in
            state.tries.append((delivery.channel.name, delivery.key))
            if !state.down { state.delivered.append((delivery.channel.name, delivery.key, delivery.body)) }
            return state.down
        }
        if down { throw ModelDeckError("127.0.0.1 answered HTTP 500") }
    }

    func delivered(to entry: String) -> [String] { state.withLock { $0.delivered.filter { $0.entry == entry }.map(\.key) } }
    func tries(to entry: String) -> [String] { state.withLock { $0.tries.filter { $0.entry == entry }.map(\.key) } }
}

/// The notification outbox's decisions on fake dates (no wall clock), a fake receiver and a real registry.
struct NotificationLoopTests {
    let t0 = Date(timeIntervalSince1970: 1_800_000_000)

    /// The fixture with notification entries applied, endpoint `a` in production.
    func fixture(_ notifications: String) throws -> Fixture {
        let fixture = try Fixture()
        let deck = try DeckReader(sourceName: "n.yaml", baseDirectory: fixture.folder, environment: [:]).parse("notifications:\n" + notifications)
        try DeckApplier.apply(deck, to: fixture.registry, source: "test")
        try fixture.registry.write { db in try db.execute(sql: "UPDATE endpoints SET production = 1 WHERE name = 'a'") }
        return fixture
    }

    func loop(_ fixture: Fixture, _ receiver: FakeReceiver) -> NotificationLoop<TestClock<Duration>> {
        NotificationLoop(registry: fixture.registry, sender: receiver, logger: fixture.logger, clock: TestClock(),
                         retry: RetrySchedule(first: 1, cap: 4))
    }

    /// Appends events to the audit log; returns their ids as keys.
    func record(_ fixture: Fixture, _ events: [(kind: String, endpoint: String)]) throws -> [String] {
        try events.map { event in
            try fixture.registry.write { db in
                try db.record(AuditEvent(at: t0, actor: "daemon", endpoint: event.endpoint, kind: event.kind, message: event.kind)).id
            }
        }.map { "\($0 ?? 0)" }
    }

    @Test func aReceiverThatWasDownGetsEveryEventOnceInOrderAfterCappedBackoff() async throws {
        let fixture = try fixture("  - {name: hook, url: 'http://127.0.0.1:9/', format: json}\n")
        defer { fixture.cleanUp() }
        let receiver = FakeReceiver()
        let loop = loop(fixture, receiver)
        receiver.state.withLock { $0.down = true }
        let keys = try record(fixture, [("deploy.failed", "a"), ("ping.sent", "a"), ("deploy.rolled_back", "b"), ("rollback.done", "a")])
        let wanted = [keys[0], keys[2], keys[3]]

        // Each failure doubles the pause (1 s, 2 s, 4 s, then 4 s: the cap); nothing is tried before it is due.
        var at = t0
        var retries: [TimeInterval] = []
        for _ in 0..<5 {
            await loop.pass(now: { [at] in at })
            let state = try #require(try fixture.registry.notificationState(named: "hook"))
            let next = try #require(state.nextAttemptAt)
            retries.append(next.timeIntervalSince(at))
            await loop.pass(now: { [at] in at.addingTimeInterval(0.5) })
            at = next
        }
        #expect(retries == [1, 2, 4, 4, 4])
        #expect(receiver.tries(to: "hook") == Array(repeating: keys[0], count: 5), "only the first event, and only when due")
        let failing = try #require(try fixture.registry.notificationState(named: "hook"))
        #expect(failing.failingSince == t0)
        #expect(failing.failedTotal == 5)
        #expect(failing.lastError == "127.0.0.1 answered HTTP 500")
        #expect(try fixture.registry.failingNotifications() == [FailingNotification(name: "hook", since: t0)])

        receiver.state.withLock { $0.down = false }
        await loop.pass(now: { [at] in at })
        #expect(receiver.delivered(to: "hook") == wanted)
        let healthy = try #require(try fixture.registry.notificationState(named: "hook"))
        #expect(healthy.cursor == Int64(keys[3]))
        #expect(healthy.failingSince == nil && healthy.failures == 0 && healthy.nextAttemptAt == nil)
        #expect(healthy.lastSuccessAt == at)
        #expect(try fixture.registry.failingNotifications().isEmpty)

        // Nothing new: nothing sent again.
        await loop.pass(now: { [at] in at.addingTimeInterval(10) })
        #expect(receiver.delivered(to: "hook") == wanted)
    }

    /// The daemon's loop reads the entries' states, then starts each one not already sending. A delivery
    /// that ended in between had moved the cursor past what the loop read: sending from the state as read
    /// sent its last event again (CI saw a receiver get the same key twice).
    @Test func aDeliveryStartedFromAStateReadBeforeTheLastDeliveryEndedSendsNothingTwice() async throws {
        let fixture = try fixture("  - {name: hook, url: 'http://127.0.0.1:9/', format: json}\n")
        defer { fixture.cleanUp() }
        let receiver = FakeReceiver()
        let loop = loop(fixture, receiver)
        let keys = try record(fixture, [("deploy.failed", "a"), ("deploy.rolled_back", "a")])
        let stale = try #require(try fixture.registry.notificationState(named: "hook"))
        await loop.pass(now: { t0 })
        #expect(receiver.delivered(to: "hook") == keys)
        await loop.deliver(stale, now: { t0 })
        #expect(receiver.tries(to: "hook") == keys, "each event once")
    }

    @Test func aProductionEntryGetsOnlyProductionEndpointsEventsAndANamedOneOnlyItsEndpoint() async throws {
        let fixture = try fixture("""
              - {name: prod, url: 'http://127.0.0.1:9/', format: slack, production: true}
              - {name: only-b, url: 'http://127.0.0.1:9/', format: json, endpoints: [b], events: [deploy.failed, deploy.requested]}
              - {name: all, url: 'http://127.0.0.1:9/', format: json}

            """)
        defer { fixture.cleanUp() }
        let receiver = FakeReceiver()
        let keys = try record(fixture, [("deploy.failed", "a"), ("deploy.failed", "b"), ("deploy.requested", "b"), ("drift.detected", "a")])
        await loop(fixture, receiver).pass(now: { t0 })
        #expect(receiver.delivered(to: "prod") == [keys[0], keys[3]])
        #expect(receiver.delivered(to: "only-b") == [keys[1], keys[2]])
        #expect(receiver.delivered(to: "all") == [keys[0], keys[1], keys[3]])
        // Every entry's cursor is past everything, wanted or not.
        #expect(try fixture.registry.notificationStates().map(\.cursor) == Array(repeating: Int64(keys[3])!, count: 3))
    }

    @Test func aNewEntryStartsAfterTheEventsAlreadyInTheLog() async throws {
        let fixture = try Fixture()
        defer { fixture.cleanUp() }
        _ = try record(fixture, [("deploy.failed", "a")])
        let deck = try DeckReader(sourceName: "n.yaml", baseDirectory: fixture.folder, environment: [:])
            .parse("notifications:\n  - {name: late, url: 'http://127.0.0.1:9/', format: json}\n")
        try DeckApplier.apply(deck, to: fixture.registry, source: "test")
        let receiver = FakeReceiver()
        await loop(fixture, receiver).pass(now: { t0 })
        #expect(receiver.tries(to: "late").isEmpty)
        let keys = try record(fixture, [("deploy.failed", "a")])
        await loop(fixture, receiver).pass(now: { t0 })
        #expect(receiver.delivered(to: "late") == keys)
    }
}
