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
        // The plans that changed are stored for the dashboard, with the next batch of ping records.
        #expect(Set(unsaved.map(\.0)) == ["a", "b"])
        #expect(loop.ledger.add(plans: unsaved))
        await loop.ledger.write(to: fixture.registry, logger: fixture.logger)
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

    /// One pass as the loop makes it: plan at `now`, then plan again at once while pings finished meanwhile
    /// (here they finish as soon as they leave, sent at `now`). Returns every ping sent, and the next wake.
    func passes(_ loop: KeepWarmLoop<TestClock<Duration>>, _ agenda: inout KeepWarmAgenda, book: PingBook, clock: TestClock<Duration>,
                now: Date, unsaved saved: inout [String]) -> (sent: [KeepWarmLoop<TestClock<Duration>>.DuePing], next: TimeInterval?) {
        var sent: [KeepWarmLoop<TestClock<Duration>>.DuePing] = []
        var next: TimeInterval?
        repeat {
            var deadline = clock.now.advanced(by: .seconds(3_600))
            var starved = false
            var unsaved: [(String, KeepWarmPlan)] = []
            let due = loop.plan(&agenda, pings: book, now: now, deadline: &deadline, starved: &starved, unsaved: &unsaved)
            saved += unsaved.map(\.0)
            for ping in due {
                book.finish(ping.endpoint) { outcome in
                    outcome.sentAt = now
                    if let requested = ping.requested { outcome.answeredRequest = requested }
                }
            }
            sent += due
            let left = clock.now.duration(to: deadline).components
            next = deadline == clock.now.advanced(by: .seconds(3_600)) ? nil : Double(left.seconds) + Double(left.attoseconds) / 1e18
        } while book.hasFinished
        return (sent, next)
    }

    @Test func anEndpointThatIsNotDueIsNotPlannedAgainAtAnotherOnesPass() async throws {
        let fixture = try Fixture()
        defer { fixture.cleanUp() }
        let clock = TestClock()
        let loop = loop(fixture, clock: clock)
        var agenda = KeepWarmAgenda(["a": try state(fixture, "a", lastPing: 30), "b": try state(fixture, "b", lastPing: 10)])
        let book = PingBook()
        var saved: [String] = []
        let first = passes(loop, &agenda, book: book, clock: clock, now: now, unsaved: &saved)
        #expect(first.sent.isEmpty)
        #expect(Set(saved) == ["a", "b"], "both planned once, at the start")
        #expect(first.next == 30, "a is due in 30 s")
        // Were b planned again, its plan (marked here) would be put into words and stored again.
        agenda.withState("b") { $0.storedPlan = "marked"; $0.plannedRule = nil }
        saved = []
        let second = passes(loop, &agenda, book: book, clock: clock, now: now.addingTimeInterval(30), unsaved: &saved)
        #expect(second.sent.map(\.endpoint) == ["a"])
        #expect(!saved.contains("b"), "b, due in 20 s more, was not planned at a's pass")
        #expect(agenda["b"]?.storedPlan == "marked")
        #expect(second.next == 20)
        let third = passes(loop, &agenda, book: book, clock: clock, now: now.addingTimeInterval(50), unsaved: &saved)
        #expect(third.sent.map(\.endpoint) == ["b"])
        #expect(agenda["b"]?.storedPlan != "marked", "b is planned at its own wake")
    }

    @Test func aChangedPolicyIsPickedUpAndOnlyItsEndpointIsPlannedAgain() async throws {
        let fixture = try Fixture()
        defer { fixture.cleanUp() }
        let clock = TestClock()
        let loop = loop(fixture, clock: clock)
        for name in ["a", "b"] { try Intents.keepWarm(fixture.registry, endpoint: name, policy: .fixed(everySeconds: 300, concurrency: 1)) }
        try fixture.registry.noteLastPings(["a": now.addingTimeInterval(-100), "b": now.addingTimeInterval(-100)], now: now)
        var agenda = KeepWarmAgenda()
        var readings = KeepWarmLoop<TestClock<Duration>>.Readings()
        try await loop.reload(&agenda, &readings, now: now)
        #expect(agenda.pending == ["a", "b"])
        let book = PingBook()
        var saved: [String] = []
        #expect(passes(loop, &agenda, book: book, clock: clock, now: now, unsaved: &saved).next == 200)
        // A commit that changes no input (a ping's outcome recorded) reads the stamp and nothing more.
        try fixture.registry.noteKeepWarmFailure(endpoint: "a", reason: "nothing answers", now: now)
        try await loop.reload(&agenda, &readings, now: now)
        #expect(agenda.pending.isEmpty)
        // a's policy changes (`modeldeck warm a --every 2m`): a is read again and planned at once; b is not.
        try Intents.keepWarm(fixture.registry, endpoint: "a", policy: .fixed(everySeconds: 120, concurrency: 1))
        try await loop.reload(&agenda, &readings, now: now.addingTimeInterval(1))
        #expect(agenda.pending == ["a"])
        saved = []
        let pass = passes(loop, &agenda, book: book, clock: clock, now: now.addingTimeInterval(1), unsaved: &saved)
        #expect(saved == ["a"])
        #expect(agenda["a"]?.storedNext == now.addingTimeInterval(20), "a's next ping, 2 minutes after its last")
        #expect(pass.next == 19)
        // A ping asked for moves the keep-warm generation: b leaves at once, whatever its policy says.
        try Intents.pingNow(fixture.registry, endpoint: "b", now: now.addingTimeInterval(2))
        try await loop.reload(&agenda, &readings, now: now.addingTimeInterval(2))
        #expect(agenda.pending == ["b"])
        #expect(passes(loop, &agenda, book: book, clock: clock, now: now.addingTimeInterval(2), unsaved: &saved).sent.map(\.endpoint) == ["b"])
        // An endpoint whose keep-warm goes off (and has no request) leaves the agenda.
        try Intents.keepWarm(fixture.registry, endpoint: "a", policy: .off)
        try await loop.reload(&agenda, &readings, now: now.addingTimeInterval(3))
        #expect(agenda["a"] == nil)
    }

    /// Endpoints on their own intervals, the loop woken only at the deadline it gives (and when pings finish):
    /// over 10 minutes every ping leaves exactly when it is due, once.
    @Test func everyDuePingIsSentOnceAndOnTimeWhenTheLoopSleepsUntilItsDeadline() async throws {
        let fixture = try Fixture()
        defer { fixture.cleanUp() }
        let clock = TestClock()
        let loop = loop(fixture, clock: clock)
        var states: [String: KeepWarmEndpointState] = [:]
        var expected: [String: Int] = [:]
        let span: TimeInterval = 600
        for index in 0..<40 {
            let every = Int64(7 + index * 3)
            let firstDue = TimeInterval((index * 13) % Int(every))
            var state = try state(fixture, "a", policy: .fixed(everySeconds: every, concurrency: 1), lastPing: TimeInterval(every) - firstDue)
            state.endpoint.name = "e\(index)"
            states[state.endpoint.name] = state
            expected[state.endpoint.name] = Int((span - firstDue) / TimeInterval(every)) + 1
        }
        var agenda = KeepWarmAgenda(states)
        let book = PingBook()
        var sent: [String: [Date]] = [:]
        var saved: [String] = []
        var at = now
        while at <= now.addingTimeInterval(span) {
            let pass = passes(loop, &agenda, book: book, clock: clock, now: at, unsaved: &saved)
            for ping in pass.sent {
                #expect(ping.dueAt == at, "\(ping.endpoint) left when it was due")
                sent[ping.endpoint, default: []].append(at)
            }
            guard let next = pass.next else { break }
            at = at.addingTimeInterval(next)
        }
        #expect(sent.mapValues(\.count) == expected)
    }

    /// All due at once, with 3 slots: each finishing ping lets the next one leave, in due order; none is
    /// missed or sent twice.
    @Test func aBurstLeavesThroughTheSlotsEachPingOnce() async throws {
        let fixture = try Fixture()
        defer { fixture.cleanUp() }
        let clock = TestClock()
        let loop = loop(fixture, clock: clock, maxConcurrentPings: 3)
        var states: [String: KeepWarmEndpointState] = [:]
        for index in 0..<30 {
            var state = try state(fixture, "a", lastPing: 60 + Double(index))
            state.endpoint.name = String(format: "e%02d", index)
            states[state.endpoint.name] = state
        }
        var agenda = KeepWarmAgenda(states)
        let book = PingBook()
        var saved: [String] = []
        let pass = passes(loop, &agenda, book: book, clock: clock, now: now, unsaved: &saved)
        #expect(pass.sent.count == 30)
        #expect(Set(pass.sent.map(\.endpoint)).count == 30)
        #expect(pass.sent.map(\.dueAt) == pass.sent.map(\.dueAt).sorted(), "the longest overdue first")
        #expect(pass.next == 60, "the next round, a minute after they went")
    }
}
