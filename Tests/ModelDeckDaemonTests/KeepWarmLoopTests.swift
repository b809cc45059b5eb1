import Clocks
import Foundation
import ModelDeckCore
import Testing
@testable import ModelDeckDaemon

/// Keep-warm's scheduling decisions (which pings leave now, how long the loop may sleep), on a test clock
/// with fake drivers.
struct KeepWarmLoopTests {
    @Test func anEndpointWhosePingsReachNothingIsAskedLessAndLessOften() {
        let pauses = (1...12).map { KeepWarmBackoff.pause(afterFailures: $0, first: 1) }
        #expect(Array(pauses.prefix(5)) == [1, 2, 4, 8, 16])
        #expect(pauses.last == 300) // at most every 5 minutes
        #expect(KeepWarmBackoff.pause(afterFailures: 10_000, first: 1) == 300)
        #expect(KeepWarmBackoff.pause(afterFailures: 0, first: 1) == 1)
    }

    let now = Date(timeIntervalSince1970: 1_800_000_000)

    func loop(_ fixture: Fixture, clock: TestClock<Duration>, maxConcurrentPings: Int = 32) -> KeepWarmLoop<TestClock<Duration>> {
        var loop = KeepWarmLoop(registry: fixture.registry, drivers: fixture.drivers, logger: fixture.logger, clock: clock)
        loop.maxConcurrentPings = maxConcurrentPings
        return loop
    }

    /// Endpoint `name` warmed every minute, last pinged `lastPing` seconds before `now`.
    func state(_ fixture: Fixture, _ name: String, policy: KeepWarmPolicy = .fixed(everySeconds: 60, concurrency: 2),
               lastPing: TimeInterval?, requested: Date? = nil) throws -> KeepWarmLoop<TestClock<Duration>>.EndpointState {
        var endpoint = try #require(try fixture.registry.endpoint(named: name))
        endpoint.keepWarm = policy
        let version = try #require(try fixture.registry.version(id: "m@v1"))
        return .init(endpoint: endpoint, weights: ["m@v1": 100], versions: ["m@v1": version], lastInvocation: nil,
                     lastPing: lastPing.map { now.addingTimeInterval(-$0) }, histogram: IdleTimeHistogram(), coldStartSeconds: 1,
                     storedPlan: nil, storedNext: nil, pingRequested: requested)
    }

    @Test func aDuePingLeavesAndTheLoopSleepsUntilTheNextOne() async throws {
        let fixture = try Fixture()
        defer { fixture.cleanUp() }
        let clock = TestClock()
        let loop = loop(fixture, clock: clock)
        var states = KeepWarmAgenda(["a": try state(fixture, "a", lastPing: 61), "b": try state(fixture, "b", lastPing: 30)])
        var deadline = clock.now.advanced(by: .seconds(5 * 60))
        var starved = false
        var unsaved: [(String, KeepWarmPlan)] = []
        let due = loop.plan(&states, pings: PingBook(), now: now, deadline: &deadline, starved: &starved, unsaved: &unsaved)
        #expect(due.map(\.endpoint) == ["a"])
        #expect(due.first?.pings == ["m@v1": 2], "two concurrent pings keep two instances warm")
        #expect(due.first?.dueAt == now.addingTimeInterval(-1))
        #expect(deadline == clock.now.advanced(by: .seconds(30)), "b is due in 30 s")
        #expect(!starved)
        // The plans that changed are stored for the dashboard, once the pings have left.
        #expect(Set(unsaved.map(\.0)) == ["a", "b"])
        await loop.save(unsaved, &states, now: now)
        let stored = try fixture.registry.keepWarmStates()
        #expect(stored["b"]?.nextPingAt == now.addingTimeInterval(30))
        #expect(stored["b"]?.plan.isEmpty == false)
    }

    @Test func aLearnedPlatformKeepAliveReplacesTheConfiguredIdleTimeout() async throws {
        let fixture = try Fixture()
        defer { fixture.cleanUp() }
        let clock = TestClock()
        let loop = loop(fixture, clock: clock)
        var learned = try state(fixture, "a", policy: .adaptive, lastPing: nil)
        learned.lastInvocation = now.addingTimeInterval(-100)
        learned.learnedKeepAlive = LearnedKeepAlive(seconds: 240, shortestColdGapSeconds: 300, contrary: 0, warmObservations: 5, coldObservations: 4)
        var configured = try state(fixture, "b", policy: .adaptive, lastPing: nil)
        configured.lastInvocation = learned.lastInvocation
        #expect(configured.endpoint.idleTimeoutSeconds > 240)
        var states = KeepWarmAgenda(["a": learned, "b": configured])
        var deadline = clock.now.advanced(by: .seconds(3_600))
        var starved = false
        var unsaved: [(String, KeepWarmPlan)] = []
        _ = loop.plan(&states, pings: PingBook(), now: now, deadline: &deadline, starved: &starved, unsaved: &unsaved)
        let planned = Dictionary(unsaved, uniquingKeysWith: { a, _ in a })
        func expected(idle: Int64) -> Date? {
            KeepWarmPlanner.decide(policy: .adaptive, now: now, lastInvocation: learned.lastInvocation, lastPing: nil,
                                   idleTimeoutSeconds: idle, coldStartSeconds: 1, histogram: IdleTimeHistogram()).nextPing
        }
        #expect(planned["a"]?.nextPing == expected(idle: 240), "the refresh ping comes before the platform's real reclaim")
        #expect(planned["b"]?.nextPing == expected(idle: configured.endpoint.idleTimeoutSeconds))
        #expect(planned["a"]!.nextPing! < planned["b"]!.nextPing!)
    }

    @Test func aScheduledRaiseIsWarmedWhenItsCronFiresWithItsConcurrency() async throws {
        let fixture = try Fixture()
        defer { fixture.cleanUp() }
        let clock = TestClock()
        let loop = loop(fixture, clock: clock)
        // Last pinged 2 minutes ago on a 5-minute interval: not due by the interval, but ten instances from `now`.
        var scheduled = try state(fixture, "a", policy: .fixed(everySeconds: 300, concurrency: 1), lastPing: 120)
        let firing = Calendar(identifier: .gregorian).dateComponents(in: TimeZone(identifier: "UTC")!, from: now)
        scheduled.endpoint.keepWarmSchedule = [
            ScheduledConcurrency(cron: try Cron(parsing: "\(firing.minute!) \(firing.hour!) * * *"), concurrency: 10),
            ScheduledConcurrency(cron: try Cron(parsing: "\(firing.minute!) \((firing.hour! + 10) % 24) * * *"), concurrency: 1),
        ]
        var states = KeepWarmAgenda(["a": scheduled])
        var deadline = clock.now.advanced(by: .seconds(3_600))
        var starved = false
        var unsaved: [(String, KeepWarmPlan)] = []
        let due = loop.plan(&states, pings: PingBook(), now: now, deadline: &deadline, starved: &starved, unsaved: &unsaved)
        #expect(due.map(\.endpoint) == ["a"])
        #expect(due.first?.pings == ["m@v1": 10])
        #expect(due.first?.dueAt == now)
    }

    @Test func atMostTheSlotsLeaveAtOnceAndTheRestWaitForOne() async throws {
        let fixture = try Fixture()
        defer { fixture.cleanUp() }
        let clock = TestClock()
        let loop = loop(fixture, clock: clock, maxConcurrentPings: 1)
        var states = KeepWarmAgenda(["a": try state(fixture, "a", lastPing: 120), "b": try state(fixture, "b", lastPing: 120)])
        var deadline = clock.now.advanced(by: .seconds(5))
        var starved = false
        var unsaved: [(String, KeepWarmPlan)] = []
        let due = loop.plan(&states, pings: PingBook(), now: now, deadline: &deadline, starved: &starved, unsaved: &unsaved)
        #expect(due.count == 1)
        #expect(starved, "the other due ping waits for a slot, and a finishing ping wakes the loop")
    }

    @Test func anEndpointBeingPingedOrBackingOffIsNotPingedAgain() async throws {
        let fixture = try Fixture()
        defer { fixture.cleanUp() }
        let clock = TestClock()
        let loop = loop(fixture, clock: clock)
        let book = PingBook()
        book.start("a")
        book.start("b")
        // b's pings reached nothing twice: it waits 2 s (then 4 s, …) before the next try.
        book.finish("b") { outcome in
            outcome.failures = 2
            outcome.retryAt = now.addingTimeInterval(KeepWarmBackoff.pause(afterFailures: 2, first: 1))
        }
        var states = KeepWarmAgenda(["a": try state(fixture, "a", lastPing: 600), "b": try state(fixture, "b", lastPing: 600)])
        var deadline = clock.now.advanced(by: .seconds(5))
        var starved = false
        var unsaved: [(String, KeepWarmPlan)] = []
        let due = loop.plan(&states, pings: book, now: now, deadline: &deadline, starved: &starved, unsaved: &unsaved)
        #expect(due.isEmpty)
        #expect(deadline == clock.now.advanced(by: .seconds(1)), "a is looked at again a second after its pings went")

        var later = clock.now.advanced(by: .seconds(5))
        book.finish("a") { $0.sentAt = now }
        let next = loop.plan(&states, pings: book, now: now, deadline: &later, starved: &starved, unsaved: &unsaved)
        #expect(next.isEmpty)
        #expect(later == clock.now.advanced(by: .seconds(2)), "b's retry is due after its 2 s pause")
        let after = loop.plan(&states, pings: book, now: now.addingTimeInterval(2), deadline: &later, starved: &starved, unsaved: &unsaved)
        #expect(after.map(\.endpoint) == ["b"])
    }

    @Test func aTargetThatCannotBeDrivenIsNotPinged() async throws {
        let fixture = try Fixture()
        defer { fixture.cleanUp() }
        fixture.there.state.withLock { $0.unavailable = "no AWS credentials" }
        let clock = TestClock()
        var states = KeepWarmAgenda(["a": try state(fixture, "a", lastPing: 600), "b": try state(fixture, "b", lastPing: 600)])
        var deadline = clock.now.advanced(by: .seconds(5))
        var starved = false
        var unsaved: [(String, KeepWarmPlan)] = []
        let due = loop(fixture, clock: clock).plan(&states, pings: PingBook(), now: now, deadline: &deadline, starved: &starved, unsaved: &unsaved)
        #expect(due.map(\.endpoint) == ["a"])
    }

    @Test func aPingAskedForLeavesWhateverThePolicy() async throws {
        let fixture = try Fixture()
        defer { fixture.cleanUp() }
        let clock = TestClock()
        let asked = now.addingTimeInterval(-3)
        var states = KeepWarmAgenda(["a": try state(fixture, "a", policy: .off, lastPing: nil, requested: asked),
                      "b": try state(fixture, "b", policy: .off, lastPing: nil)])
        var deadline = clock.now.advanced(by: .seconds(5))
        var starved = false
        var unsaved: [(String, KeepWarmPlan)] = []
        let due = loop(fixture, clock: clock).plan(&states, pings: PingBook(), now: now, deadline: &deadline, starved: &starved, unsaved: &unsaved)
        #expect(due.map(\.endpoint) == ["a"])
        #expect(due.first?.requested == asked && due.first?.dueAt == asked)
        #expect(due.first?.pings == ["m@v1": 1])
    }
}
