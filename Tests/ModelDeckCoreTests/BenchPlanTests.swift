import Foundation
import ModelDeckCore
import Testing

@Suite struct OpenLoopScheduleTests {
    @Test func fixedRateSpacesArrivalsEvenlyWhateverTheAnswersDo() {
        let arrivals = OpenLoopSchedule.fixed(rate: 20, durationMs: 1_000)
        #expect(arrivals.count == 20)
        #expect(arrivals.first == .zero)
        #expect(arrivals[1] == .milliseconds(50))
        #expect(arrivals.last == .milliseconds(950))
        // Strictly increasing: the schedule never waits and never bunches.
        #expect(zip(arrivals, arrivals.dropFirst()).allSatisfy { $0 < $1 })
    }

    @Test func fractionalRatesAndShortRunsRoundDown() {
        #expect(OpenLoopSchedule.fixed(rate: 0.5, durationMs: 4_000).count == 2)
        #expect(OpenLoopSchedule.fixed(rate: 3, durationMs: 100).isEmpty)
        #expect(OpenLoopSchedule.fixed(rate: 0, durationMs: 1_000).isEmpty)
    }

    @Test func rampOffersTheIntegralOfItsRateThenHolds() {
        let ramp = BenchPlan.Ramp(from: 1, to: 100, overMs: 60_000)
        let arrivals = OpenLoopSchedule.ramp(ramp)
        // ∫ over the ramp = (1 + 100) / 2 × 60 = 3,030; the hold is 30 s at 100/s = 3,000.
        #expect(arrivals.count == 6_030)
        #expect(zip(arrivals, arrivals.dropFirst()).allSatisfy { $0 < $1 })
        // The 3,030th request is due as the ramp ends.
        #expect(abs(arrivals[3_030].inSeconds - 60) < 0.001)
        // The first request after 0 is due when t + 99t²/120 = 1 (t ≈ 0.6507 s); late gaps are 10 ms (100/s).
        #expect(abs(arrivals[1].inSeconds - 0.6507) < 0.001)
        let late = arrivals[6_000].inSeconds - arrivals[5_999].inSeconds
        #expect(abs(late - 0.01) < 1e-6)
    }

    @Test func offeredRateRisesLinearlyToTheTarget() {
        let ramp = BenchPlan.Ramp(from: 10, to: 30, overMs: 2_000)
        #expect(OpenLoopSchedule.offeredRate(ramp, at: .zero) == 10)
        #expect(OpenLoopSchedule.offeredRate(ramp, at: .seconds(1)) == 20)
        #expect(OpenLoopSchedule.offeredRate(ramp, at: .seconds(5)) == 30)
    }
}

@Suite struct BenchPlanTests {
    func parse(only: String? = nil, rate: String = "20/s", duration: String = "60s", ramp: String = "1..100/s:60s",
               gaps: String = "1m,5m,15m,30m", budget: String? = nil) throws -> BenchPlan {
        try BenchPlan.parse(only: only, rate: rate, duration: duration, ramp: ramp, idleGaps: gaps, idleBudget: budget)
    }

    @Test func defaultsMatchTheSeedsBenchmark() throws {
        let plan = try parse()
        #expect(plan.phases == [.cold, .warm, .scale, .lukeWarm])
        #expect(plan.rate == 20)
        #expect(plan.ramp == BenchPlan.Ramp(from: 1, to: 100, overMs: 60_000))
        #expect(plan.idleGapsMs == [60_000, 300_000, 900_000, 1_800_000])
        // 1 cold + 1,200 warm + 6,030 on the ramp + 4 luke-warm.
        #expect(plan.requestCount == 1 + 1_200 + 6_030 + 4)
    }

    @Test func ratesInEitherUnit() throws {
        #expect(try BenchPlan.rate("600/min", what: "--rate") == 10)
        #expect(try BenchPlan.rate("5", what: "--rate") == 5)
        #expect(try parse(ramp: "2..8:4s").ramp == BenchPlan.Ramp(from: 2, to: 8, overMs: 4_000))
    }

    @Test(arguments: [("0/s", "must be more than 0/s"), ("-3/s", "must be more than 0/s"), ("fast", "is not a rate"),
                      ("5000/s", "at most 2000/s"), ("20/h", "is not a rate")])
    func badRatesAreRefusedNamingTheLimit(text: String, message: String) {
        #expect(throws: ModelDeckError.self) { try parse(rate: text) }
        do { _ = try parse(rate: text) } catch { #expect("\(error)".contains(message), "\(error)") }
    }

    @Test func rampsMustRise() {
        #expect(throws: ModelDeckError("--ramp '100..1/s:60s' must rise: 1 is not above 100")) { try parse(ramp: "100..1/s:60s") }
        #expect(throws: ModelDeckError.self) { try parse(ramp: "1-100/s") }
    }

    @Test func gapsOverTheIdleBudgetAreRefused() throws {
        #expect(throws: ModelDeckError("--idle-gaps add up to 2h, over the idle budget of 1h; shorten them or raise --idle-budget")) {
            try parse(gaps: "1h,1h")
        }
        #expect(try parse(gaps: "1h,1h", budget: "2h").idleGapsMs == [3_600_000, 3_600_000])
        // Without a luke-warm phase the gaps do not matter.
        #expect(try parse(only: "warm", gaps: "1h,1h").phases == [.warm])
    }

    @Test func unknownPhaseIsRefused() {
        #expect(throws: ModelDeckError("--only 'lukewarm' is not a phase; use cold, warm, scale or luke-warm")) { try parse(only: "lukewarm") }
    }
}

@Suite struct BenchFiguresTests {
    func sample(_ dueMs: Int, _ latencyMs: Double, status: Int = 200, cold: Bool = false, instance: String? = nil) -> BenchSample {
        BenchSample(due: .milliseconds(dueMs), latencyMicroseconds: UInt64(latencyMs * 1_000), status: status, coldStart: cold, instance: instance)
    }

    @Test func warmFiguresComeFromAnHDRHistogram() {
        let samples = (1...100).map { sample($0 * 10, Double($0)) }
        let warm = BenchFigures.Latency(samples)
        #expect(warm.requests == 100)
        #expect(warm.errors == 0)
        // Three significant digits: within 0.1%.
        #expect(abs(warm.p50Ms - 50) <= 0.05)
        #expect(abs(warm.p99Ms - 99) <= 0.099)
        #expect(abs(warm.maxMs - 100) <= 0.1)
    }

    @Test func failuresCountAsErrorsAndNoAnswerIsAFailure() {
        let warm = BenchFigures.Latency([sample(0, 1), sample(10, 1, status: 503), sample(20, 1, status: 0), sample(30, 1, status: 404)])
        #expect(warm.errors == 2)
    }

    @Test func coldSplitLeavesTheFirstAnswer() {
        var first = sample(0, 900, cold: true)
        first.processStartMs = 100
        first.modelLoadMs = 700
        let cold = BenchFigures.Cold(first)
        #expect(cold.totalMs == 900)
        #expect(cold.firstAnswerMs == 100)
        #expect(BenchFigures.Cold(sample(0, 50)).firstAnswerMs == nil)
    }

    @Test func timeToScaleEndsAtTheFirstCleanSecondAtTheTargetRate() {
        let ramp = BenchPlan.Ramp(from: 1, to: 10, overMs: 2_000)
        // Second 2 (the first at the target rate) is slow; second 3 is within 2 × 10 ms.
        let samples = [sample(0, 10, cold: true, instance: "a"), sample(500, 10),
                       sample(1_500, 300, cold: true, instance: "b"), sample(2_100, 100), sample(2_500, 90),
                       sample(3_100, 15), sample(3_600, 12)]
        let scale = ScaleAnalysis.figures(samples, ramp: ramp, referenceP99Ms: 10, multiple: 2)
        #expect(scale.timeToScaleMs == 4_000)
        #expect(scale.instancesStarted == 2)
        #expect(scale.coldStarts == 2)
    }

    @Test func anErrorAtTheTargetRateMeansNotScaledYet() {
        let ramp = BenchPlan.Ramp(from: 1, to: 10, overMs: 1_000)
        let samples = [sample(1_100, 10, status: 503), sample(1_200, 10)]
        #expect(ScaleAnalysis.figures(samples, ramp: ramp, referenceP99Ms: 10, multiple: 2).timeToScaleMs == nil)
    }

    @Test func withoutAWarmPhaseTheRampsFirstSecondIsTheReference() {
        let ramp = BenchPlan.Ramp(from: 1, to: 10, overMs: 1_000)
        let samples = [sample(0, 500, cold: true), sample(500, 20), sample(1_200, 30)]
        let scale = ScaleAnalysis.figures(samples, ramp: ramp, referenceP99Ms: nil, multiple: 2)
        #expect(scale.referenceP99Ms == 20)
        #expect(scale.timeToScaleMs == 2_000)
    }

    @Test func lukeWarmShareIsTheColdFirstRequests() {
        let gap = BenchFigures.LukeWarm(gapMs: 5_000, samples: [sample(0, 800, cold: true), sample(0, 20)])
        #expect(gap.coldShare == 0.5)
        #expect(gap.cold == 1)
    }
}
