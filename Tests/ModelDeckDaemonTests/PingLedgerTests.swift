import Foundation
@testable import ModelDeckCore
import Testing
@testable import ModelDeckDaemon

/// Keep-warm's records go to the registry in batches: the first after a write waits, then writes them all.
struct PingLedgerTests {
    let now = Date(timeIntervalSince1970: 1_800_000_000)

    @Test func pingsOfSeveralEndpointsAreWrittenTogetherAndAnAnsweredRequestIsCleared() async throws {
        let fixture = try Fixture()
        defer { fixture.cleanUp() }
        try Intents.pingNow(fixture.registry, endpoint: "a", actor: "alice", now: now)
        let ledger = PingLedger(window: .milliseconds(1))
        let first = ledger.add(PingRecord(endpoint: "a", sentAt: now.addingTimeInterval(1), dueAt: now, count: 2,
                                          summary: "2 pings: 1 cold (up to 840 ms), 1 warm", answering: now), invocations: [])
        let second = ledger.add(PingRecord(endpoint: "b", sentAt: now.addingTimeInterval(2), dueAt: now.addingTimeInterval(1),
                                           count: 1, summary: "1 ping: 0 cold, 1 warm", answering: nil), invocations: [])
        #expect(first && !second, "only the first since the last write writes")
        #expect(try fixture.registry.keepWarmStates()["b"] == nil, "nothing is written before the window ends")
        #expect(ledger.waiting == 2)

        await ledger.write(to: fixture.registry, logger: fixture.logger)
        let states = try fixture.registry.keepWarmStates()
        #expect(states["a"]?.lastPingAt == now.addingTimeInterval(1))
        #expect(states["a"]?.lastPingDueAt == now)
        #expect(states["a"]?.pingsSent == 2)
        #expect(states["a"]?.pingRequestedAt == nil, "the request it answered is cleared")
        #expect(states["b"]?.lastPingAt == now.addingTimeInterval(2))
        #expect(states["b"]?.lastResult == "1 ping: 0 cold, 1 warm")
        let sent = try fixture.registry.events(since: nil).filter { $0.kind == "ping.sent" }
        #expect(sent.map(\.endpoint) == ["a"], "only an answered request has its audit event")
        #expect(ledger.waiting == 0)

        // After a write, the next record claims the next one.
        #expect(ledger.add(PingRecord(endpoint: "b", sentAt: now.addingTimeInterval(3), dueAt: now.addingTimeInterval(2),
                                      count: 1, summary: "1 ping: 0 cold, 1 warm", answering: nil), invocations: []))
        await ledger.write(to: fixture.registry, logger: fixture.logger)
        #expect(try fixture.registry.keepWarmStates()["b"]?.pingsSent == 2)
    }

    @Test func aRequestMadeWhileThePingsWentOutStaysAsked() async throws {
        let fixture = try Fixture()
        defer { fixture.cleanUp() }
        try Intents.pingNow(fixture.registry, endpoint: "a", actor: "alice", now: now)
        let ledger = PingLedger(window: .milliseconds(1))
        // The pings answered an earlier request than the one stored now.
        _ = ledger.add(PingRecord(endpoint: "a", sentAt: now, dueAt: now, count: 1, summary: "1 ping: 0 cold, 1 warm",
                                  answering: now.addingTimeInterval(-5)), invocations: [])
        await ledger.write(to: fixture.registry, logger: fixture.logger)
        let state = try #require(try fixture.registry.keepWarmStates()["a"])
        #expect(state.pingRequestedAt == now)
        #expect(state.pingRequestedBy == "alice")
        #expect(state.lastPingAt == now)
    }

    @Test func changedPlansGoWithTheRecordsAndALaterPlanReplacesTheOneWaiting() async throws {
        let fixture = try Fixture()
        defer { fixture.cleanUp() }
        let ledger = PingLedger(window: .milliseconds(1))
        #expect(!ledger.add(plans: []), "nothing to write claims no write")
        let first = ledger.add(plans: [("a", KeepWarmPlan(nextPing: now.addingTimeInterval(60), concurrency: 1, reason: "fixed: every 1m")),
                                       ("b", KeepWarmPlan(nextPing: now.addingTimeInterval(30), concurrency: 1, reason: "fixed: every 1m"))])
        let record = ledger.add(PingRecord(endpoint: "a", sentAt: now, dueAt: now, count: 1, summary: "1 ping: 0 cold, 1 warm",
                                           answering: nil), invocations: [])
        let later = ledger.add(plans: [("a", KeepWarmPlan(nextPing: now.addingTimeInterval(120), concurrency: 1, reason: "fixed: every 2m"))])
        #expect(first && !record && !later, "one write for plans and records alike")
        #expect(ledger.waitingPlans == 2)
        #expect(try fixture.registry.keepWarmStates()["a"] == nil, "nothing is written before the window ends")

        await ledger.write(to: fixture.registry, logger: fixture.logger)
        let states = try fixture.registry.keepWarmStates()
        #expect(states["a"]?.nextPingAt == now.addingTimeInterval(120), "the later plan replaced the one waiting")
        #expect(states["a"]?.plan == "fixed: every 2m")
        #expect(states["a"]?.lastPingAt == now, "the record kept the plan's columns")
        #expect(states["b"]?.nextPingAt == now.addingTimeInterval(30))
        #expect(ledger.waitingPlans == 0 && ledger.waiting == 0)
    }
}

extension PingLedgerTests {
    @Test func aFailedWriteIsTriedAgainByItselfUntilTheRegistryTakesIt() async throws {
        let fixture = try Fixture()
        defer { fixture.cleanUp() }
        try fixture.registry.write { db in
            try db.execute(sql: "CREATE TRIGGER refuse BEFORE INSERT ON keep_warm_state BEGIN SELECT RAISE(ABORT, 'refused'); END")
        }
        let ledger = PingLedger(window: .milliseconds(1), retryDelay: .milliseconds(20))
        #expect(ledger.add(plans: [("a", KeepWarmPlan(nextPing: now.addingTimeInterval(60), concurrency: 1, reason: "fixed: every 1m"))]))
        let writing = Task { await ledger.write(to: fixture.registry, logger: fixture.logger) }
        let deadline = ContinuousClock.now + .seconds(10)
        while ledger.failures == 0 && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(5)) }
        #expect(ledger.failures >= 1, "the trigger refused the first write")
        #expect(try fixture.registry.keepWarmStates()["a"] == nil)

        // No other ping or plan comes: the same task writes it once the registry takes it.
        try fixture.registry.write { db in try db.execute(sql: "DROP TRIGGER refuse") }
        await writing.value
        #expect(try fixture.registry.keepWarmStates()["a"]?.plan == "fixed: every 1m")
        #expect(ledger.waitingPlans == 0)
    }
}
