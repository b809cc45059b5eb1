import Foundation
import ModelDeckCore
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
}
