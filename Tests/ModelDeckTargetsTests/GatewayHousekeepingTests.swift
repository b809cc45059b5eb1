import Clocks
import Foundation
import GRDB
import ModelDeckCore
import Testing
@testable import ModelDeckTargets

/// The gateway's housekeeping wakes when something falls due, not on a tick: its schedule on a test clock,
/// then a real gateway whose look for crashed processes is an hour apart, so nothing else could have done it.
struct GatewayHousekeepingTests {
    let clock = TestClock<Duration>()

    @Test func withNothingRunningNothingIsDueAndARunningFleetIsDueAtItsFirstReclaim() {
        let now = clock.now
        #expect(HousekeepingSchedule.nextDue(now: now, reclaimable: [], startRetries: [], live: false, reapInterval: .seconds(1)) == nil)
        // A crash-looping version's next start is waited for; one already allowed is not a reason to wake.
        #expect(HousekeepingSchedule.nextDue(now: now, reclaimable: [], startRetries: [now.advanced(by: .seconds(8)), now.advanced(by: .seconds(-1))],
                                             live: false, reapInterval: .seconds(1)) == now.advanced(by: .seconds(8)))
        // The first idle instance's reclaim, or the look for crashed processes, whichever is first.
        let reclaims = [now.advanced(by: .seconds(600)), now.advanced(by: .milliseconds(300))]
        #expect(HousekeepingSchedule.nextDue(now: now, reclaimable: reclaims, startRetries: [], live: true, reapInterval: .seconds(1))
                == now.advanced(by: .milliseconds(300)))
        #expect(HousekeepingSchedule.nextDue(now: now, reclaimable: [now.advanced(by: .seconds(600))], startRetries: [], live: true,
                                             reapInterval: .seconds(1)) == now.advanced(by: .seconds(1)))
    }

    @Test func aFlushIsDueOnlyWhenSomethingWasRecordedOrAnInstanceChangedAndNotSoonerThanItsInterval() {
        let last = clock.now
        #expect(HousekeepingSchedule.flushDue(recorded: false, instancesChanged: false, lastFlush: last, flushInterval: .milliseconds(500)) == nil)
        #expect(HousekeepingSchedule.flushDue(recorded: true, instancesChanged: false, lastFlush: last, flushInterval: .milliseconds(500))
                == last.advanced(by: .milliseconds(500)))
        #expect(HousekeepingSchedule.flushDue(recorded: false, instancesChanged: true, lastFlush: last, flushInterval: .milliseconds(500))
                == last.advanced(by: .milliseconds(500)))
    }

    @Test func theFirstInvocationAfterAFlushSignalsAndTheOnesAfterItDoNot() throws {
        let harness = try GatewayHarness(versions: ["v1": []], endpoint: """
          - {name: sentiment, model: sentiment, target: local, memory: 256MB, traffic: {v1: 100}}
        """)
        defer { harness.cleanUp() }
        let wake = WakeSignal()
        let recorder = InvocationRecorder(wake: wake)
        let invocation = Invocation(endpoint: "sentiment", version: "sentiment@v1", at: Date(), latencyMicroseconds: 900, status: 200,
                                    coldStart: false, warmup: false, inFlight: 1, memoryMB: 128)
        recorder.record(invocation)
        recorder.record(invocation)
        #expect(wake.count == 1)
        try recorder.flush(to: harness.registry, instances: [], endpoints: ["sentiment"])
        #expect(recorder.pendingBuckets == 0)
        recorder.record(invocation)
        #expect(wake.count == 2)
    }

    @Test(.timeLimit(.minutes(2))) func withoutATickARequestIsStillFlushedAndTheIdleInstanceStillReclaimed() async throws {
        let harness = try GatewayHarness(versions: ["v1": []], endpoint: """
          - {name: sentiment, model: sentiment, target: local, memory: 256MB, idle_timeout: 2s, traffic: {v1: 100}}
        """)
        defer { harness.cleanUp() }
        var settings = harness.settings()
        settings.maintenanceInterval = .seconds(3_600) // no look for crashed processes within the test
        try await harness.withGateway(settings) { client in
            let first = try await client.invoke()
            #expect(first.status == 200)
            // Written while the gateway runs: the recorded invocation woke housekeeping.
            #expect(try await eventually(20) {
                try harness.registry.read { db in try Int.fetchOne(db, sql: "SELECT SUM(requests) FROM metric_buckets") } == 1
            })
            #expect(try await eventually(20) { try harness.instanceRows().count == 1 })
            let pid: Int32 = try #require(try harness.instanceRows().first?["pid"])
            // Idle past 2 s: stopped at its reclaim time, and the table says so.
            #expect(try await eventually(20) { try harness.instanceRows().isEmpty && !processIsAlive(pid) })
        }
    }
}
