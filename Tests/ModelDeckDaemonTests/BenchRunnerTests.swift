import Foundation
import ModelDeckCore
@testable import ModelDeckDaemon
import Synchronization
import Testing

/// A target that answers after `delay`, counting how many requests it holds at once.
final class SlowTarget: BenchTransport {
    let delay: Duration
    let coldAnswers: Bool
    private let state = Mutex<(inFlight: Int, most: Int, sent: Int, coldAsked: Int)>((0, 0, 0, 0))

    init(delay: Duration, coldAnswers: Bool = false) {
        self.delay = delay
        self.coldAnswers = coldAnswers
    }

    var canForceCold: Bool { true }
    var notes: [String] { ["a fake"] }
    var most: Int { state.withLock { $0.most } }
    var sent: Int { state.withLock { $0.sent } }
    var coldAsked: Int { state.withLock { $0.coldAsked } }

    func send(cold: Bool) async -> BenchAnswer {
        state.withLock { state in
            state.inFlight += 1
            state.most = max(state.most, state.inFlight)
            state.sent += 1
            if cold { state.coldAsked += 1 }
        }
        try? await Task.sleep(for: delay)
        state.withLock { $0.inFlight -= 1 }
        return BenchAnswer(status: 200, coldStart: cold && coldAnswers, instance: "i-1", processStartMs: cold ? 3 : nil, modelLoadMs: cold ? 40 : nil)
    }
}

@Suite struct BenchRunnerTests {
    @Test func requestsLeaveOnScheduleWhileEarlierOnesAreStillWaiting() async {
        // 20 requests a second for half a second against a target that takes 400 ms: a closed loop would hold one
        // at a time; the open loop holds several, and every one of them is counted.
        let target = SlowTarget(delay: .milliseconds(400))
        let plan = BenchPlan(phases: [.warm], rate: 20, durationMs: 500)
        let (figures, samples, partial) = await BenchRunner(plan: plan, transport: target).run()
        #expect(target.sent == 10)
        #expect(target.most >= 2, "the generator waited for answers (coordinated omission)")
        #expect(samples.count == 10)
        #expect(figures.warm?.requests == 10)
        #expect(figures.warm.map { $0.p50Ms >= 400 } == true, "latency is measured from the due time, the wait included")
        #expect(figures.notes == ["a fake"])
        #expect(!partial)
    }

    @Test func theColdPhaseAsksForAColdInstanceAndKeepsTheSplit() async {
        let target = SlowTarget(delay: .milliseconds(1), coldAnswers: true)
        let (figures, _, _) = await BenchRunner(plan: BenchPlan(phases: [.cold]), transport: target).run()
        #expect(target.coldAsked == 1)
        #expect(figures.cold?.coldStart == true)
        #expect(figures.cold?.processStartMs == 3)
        #expect(figures.cold?.modelLoadMs == 40)
    }

    @Test func aStopKeepsWhatWasMeasuredAndSaysPartial() async {
        let target = SlowTarget(delay: .milliseconds(1))
        let stop = BenchStop()
        let plan = BenchPlan(phases: [.warm, .scale], rate: 50, durationMs: 60_000)
        let runner = BenchRunner(plan: plan, transport: target, stop: stop) { progress in
            if progress.sent >= 51 { stop.stop() }
        }
        let (figures, samples, partial) = await runner.run()
        #expect(partial)
        #expect(figures.scale == nil)
        #expect((figures.warm?.requests ?? 0) >= 51 && samples.count < 3_000)
    }

    @Test func lukeWarmSendsAWarmerThenTheFirstRequestsAfterEachGap() async {
        let target = SlowTarget(delay: .milliseconds(1))
        var plan = BenchPlan(phases: [.lukeWarm], idleGapsMs: [10, 20])
        plan.lukeWarmRequests = 3
        let (figures, samples, _) = await BenchRunner(plan: plan, transport: target).run()
        #expect(figures.lukeWarm?.map(\.gapMs) == [10, 20])
        #expect(figures.lukeWarm?.map(\.requests) == [3, 3])
        #expect(samples.count == 2 * (1 + 3))
        #expect(target.most >= 3, "the first requests after a gap leave together")
    }
}
