import Foundation
import Testing
@testable import ModelDeckCore

struct KeepAliveTests {
    func gaps(warm: [Int64], cold: [Int64]) -> [KeepAliveObservation] {
        (warm.map { KeepAliveObservation(gapSeconds: $0, cold: false) } + cold.map { KeepAliveObservation(gapSeconds: $0, cold: true) }).shuffled()
    }

    @Test func aCleanBoundaryIsLearnedAtItsSafeEnd() throws {
        // Lambda-like: warm after 2–7 minutes, cold after 9 minutes and more.
        let learned = try #require(KeepAliveLearner.learn(gaps(warm: [120, 240, 300, 420], cold: [540, 600, 900])))
        #expect(learned.seconds == 420)
        #expect(learned.shortestColdGapSeconds == 540)
        #expect(learned.contrary == 0)
        #expect(learned.warmObservations == 4)
        #expect(learned.coldObservations == 3)
    }

    @Test func tooLittleEvidenceOnEitherSideLearnsNothing() {
        #expect(KeepAliveLearner.learn(gaps(warm: [120, 240, 300], cold: [540, 600])) == nil)
        #expect(KeepAliveLearner.learn(gaps(warm: [120, 240], cold: [540, 600, 900])) == nil)
        #expect(KeepAliveLearner.learn([]) == nil)
    }

    @Test func gapsShorterThanAMinuteAreNotEvidence() {
        // Cold starts within a burst (another instance was needed) say nothing about reclaiming.
        let learned = KeepAliveLearner.learn(gaps(warm: [120, 180, 240], cold: [5, 10, 20, 30, 600, 700, 800]))
        #expect(learned?.seconds == 240)
        #expect(learned?.contrary == 0)
        #expect(KeepAliveLearner.learn(gaps(warm: [120, 180, 240], cold: [5, 10, 59])) == nil)
    }

    @Test func theBoundaryIsTheOneFewestObservationsContradict() throws {
        // One early reclaim (cold at 200 s) and one lucky warm at 1,000 s do not move the boundary.
        let learned = try #require(KeepAliveLearner.learn(gaps(warm: [100, 150, 250, 300, 350, 1_000], cold: [200, 400, 450, 500, 1_200])))
        #expect(learned.seconds == 350)
        #expect(learned.shortestColdGapSeconds == 400)
        #expect(learned.contrary == 2)
    }

    @Test func onATieTheShorterKeepAliveWins() throws {
        // warm 300, cold 310, warm 320, cold 330...: the earlier boundary is the safer one to ping within.
        let learned = try #require(KeepAliveLearner.learn(gaps(warm: [100, 200, 300, 320], cold: [310, 400, 500, 600])))
        #expect(learned.seconds == 300)
        #expect(learned.shortestColdGapSeconds == 310)
        #expect(learned.contrary == 1)
    }

    @Test func equalGapsOnBothSidesAreNotSplit() throws {
        // Three warm and one cold at exactly 300 s: no threshold can fall between them.
        let learned = try #require(KeepAliveLearner.learn(gaps(warm: [100, 200, 300, 300, 300], cold: [300, 600, 700, 800])))
        #expect(learned.seconds == 300)
        #expect(learned.shortestColdGapSeconds == 600)
        #expect(learned.contrary == 1)
    }

    @Test func observationsAreTheGapsBetweenBucketsWithActivity() {
        let observed = KeepAliveLearner.observations(activity: [
            (start: 0, width: 10, cold: true),     // the first: no gap before it
            (start: 10, width: 10, cold: false),   // adjacent: no gap
            (start: 200, width: 10, cold: false),  // 180 s after the end of the one before
            (start: 800, width: 60, cold: true),   // 590 s
            (start: 860, width: 10, cold: true),   // adjacent to a rolled-up minute
        ])
        #expect(observed == [KeepAliveObservation(gapSeconds: 180, cold: false), KeepAliveObservation(gapSeconds: 590, cold: true)])
    }

    /// A luke-warm gap whose first requests answered warm (`warm` of them), cold (`cold`) or failed (`failed`).
    func gap(_ ms: Int64, warm: Int = 0, cold: Int = 0, failed: Int = 0) -> BenchFigures.LukeWarm {
        BenchFigures.LukeWarm(gapMs: ms, samples: Array(repeating: BenchSample(due: .zero, latencyMicroseconds: 20_000, status: 200), count: warm)
            + Array(repeating: BenchSample(due: .zero, latencyMicroseconds: 900_000, status: 200, coldStart: true), count: cold)
            + Array(repeating: BenchSample(due: .zero, latencyMicroseconds: 30_000_000, status: 0), count: failed))
    }

    @Test func aLukeWarmCurveGivesOneObservationPerGap() {
        let observed = KeepAliveLearner.observations(lukeWarm: [
            gap(500, warm: 1),              // under a second: nothing at the planner's resolution
            gap(60_000, warm: 1),
            gap(90_500, warm: 1, cold: 2),  // sent at once: one kept instance answered, the others started
            gap(300_000, failed: 2),        // no answer: says nothing
            gap(600_400, cold: 1, failed: 1),
        ])
        #expect(observed == [
            KeepAliveObservation(gapSeconds: 60, cold: false, fromBench: true),
            KeepAliveObservation(gapSeconds: 90, cold: false, fromBench: true),   // warm: rounded down
            KeepAliveObservation(gapSeconds: 601, cold: true, fromBench: true),   // cold: rounded up
        ])
        #expect(KeepAliveLearner.observations(lukeWarm: []).isEmpty)
    }

    @Test func aBenchCurveAloneIsEnoughEvidence() throws {
        // bench's default gaps, one first request each: warm after 1 and 5 minutes, cold after 15 and 30.
        let curve = KeepAliveLearner.observations(lukeWarm: [gap(60_000, warm: 1), gap(300_000, warm: 1), gap(900_000, cold: 1), gap(1_800_000, cold: 1)])
        let learned = try #require(KeepAliveLearner.learn(curve))
        #expect(learned.seconds == 300)
        #expect(learned.shortestColdGapSeconds == 900)
        #expect(learned.benchObservations == 4)
        #expect(learned.contrary == 0)
        // Bench gaps under a minute count: they are exact and nothing else runs. The local fixture's 2 s idle timeout:
        let local = try #require(KeepAliveLearner.learn(KeepAliveLearner.observations(lukeWarm: [gap(1_000, warm: 1), gap(4_000, cold: 1)])))
        #expect(local.seconds == 1)
        #expect(local.shortestColdGapSeconds == 4)
        // A curve that never went cold (or never stayed warm) brackets nothing.
        #expect(KeepAliveLearner.learn(KeepAliveLearner.observations(lukeWarm: [gap(60_000, warm: 1), gap(300_000, warm: 1)])) == nil)
        #expect(KeepAliveLearner.learn(KeepAliveLearner.observations(lukeWarm: [gap(60_000, cold: 1), gap(300_000, cold: 1)])) == nil)
    }

    @Test func aBenchCurveCompletesTrafficThatIsNotEnoughAlone() throws {
        // Traffic: warm after 2–4 minutes, but only two cold starts after long gaps: not enough alone.
        let traffic = gaps(warm: [120, 180, 240], cold: [700, 800])
        #expect(KeepAliveLearner.learn(traffic) == nil)
        let learned = try #require(KeepAliveLearner.learn(traffic + KeepAliveLearner.observations(lukeWarm: [gap(600_000, cold: 1)])))
        #expect(learned.seconds == 240)
        #expect(learned.shortestColdGapSeconds == 600)
        #expect(learned.benchObservations == 1)
        #expect(learned.warmObservations == 3)
        #expect(learned.coldObservations == 3)
        // Where the curve and traffic disagree, the boundary is still the one fewest observations contradict:
        // one bench gap warm at 10 minutes against three cold starts of traffic after 7–13 minutes.
        let disputed = try #require(KeepAliveLearner.learn(gaps(warm: [120, 180, 240], cold: [420, 480, 780])
                                                            + KeepAliveLearner.observations(lukeWarm: [gap(600_000, warm: 1)])))
        #expect(disputed.seconds == 240)
        #expect(disputed.contrary == 1)
    }

    /// The sample deck's registry, its endpoint and that endpoint's version.
    func sampleRegistry(_ scratch: Scratch) throws -> (Registry, String, String) {
        let registry = try Registry(path: scratch.registryPath)
        try DeckApplier.apply(try parseDeck(sampleDeck()), to: registry, source: "deck.yaml", actor: "test")
        let endpoint = try #require(try registry.endpoints().first?.name)
        let version = try #require(try registry.versions(model: "sentiment").first?.id)
        return (registry, endpoint, version)
    }

    @Test func theRegistryLearnsEachEndpointFromItsBucketsVersionByVersion() throws {
        let scratch = Scratch()
        defer { scratch.cleanUp() }
        let (registry, endpoint, version) = try sampleRegistry(scratch)
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        var start = Int64(now.timeIntervalSince1970) - 20_000
        // Warm after 2, 3, 4 minutes of idleness; cold after 10, 12, 15 (the last as a ping's cold start).
        var buckets: [(MetricBucket.Key, MetricBucket)] = []
        for (gap, cold) in [(0, true), (120, false), (180, false), (240, false), (600, true), (720, true), (900, true)] as [(Int64, Bool)] {
            start += gap + 10
            var bucket = MetricBucket()
            if gap == 900 { bucket.warmups = 1; bucket.warmupColdStarts = 1 } else { bucket.requests = 1; bucket.coldStarts = cold ? 1 : 0 }
            buckets.append((MetricBucket.Key(endpoint: endpoint, version: version, start: start, width: 10), bucket))
        }
        try registry.write { db in for (key, bucket) in buckets { try bucket.merge(into: key, db) } }
        let learned = try registry.learnedKeepAlives(endpoints: [endpoint, "nobody"], since: now.addingTimeInterval(-KeepAliveLearner.lookbackSeconds))
        #expect(learned.keys.sorted() == [endpoint])
        #expect(learned[endpoint]?.seconds == 240)
        #expect(learned[endpoint]?.shortestColdGapSeconds == 600)
        // Older than the window: not evidence.
        #expect(try registry.learnedKeepAlives(endpoints: [endpoint], since: now).isEmpty)
    }

    @Test func theRegistryAddsTheNewestBenchRunWithALukeWarmCurve() throws {
        let scratch = Scratch()
        defer { scratch.cleanUp() }
        let (registry, endpoint, version) = try sampleRegistry(scratch)
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        let since = now.addingTimeInterval(-KeepAliveLearner.lookbackSeconds)
        #expect(try registry.learnedKeepAlives(endpoints: [endpoint], since: since).isEmpty)
        let subject = try registry.benchSubject(endpoint: endpoint, version: version, force: true, reason: "test")
        func run(_ curve: [BenchFigures.LukeWarm]?) throws -> Int64 {
            let started = try registry.startBenchRun(subject, plan: BenchPlan(), reason: nil, now: now)
            var figures = BenchFigures()
            figures.lukeWarm = curve
            try registry.finishBenchRun(started.id, figures: figures, partial: false, now: now)
            return started.id
        }
        _ = try run([gap(60_000, warm: 1), gap(900_000, cold: 1)])
        let measured = try run([gap(60_000, warm: 1), gap(240_000, warm: 1), gap(420_000, cold: 1)])
        _ = try run(nil)   // a later run without a luke-warm phase does not hide it
        let learned = try #require(try registry.learnedKeepAlives(endpoints: [endpoint, "nobody"], since: since)[endpoint])
        #expect(learned.seconds == 240)
        #expect(learned.shortestColdGapSeconds == 420)
        #expect(learned.benchRun == measured)
        #expect(learned.benchObservations == 3)
        // Any age: a bench run is a deliberate measurement, run rarely.
        #expect(try registry.learnedKeepAlives(endpoints: [endpoint], since: now.addingTimeInterval(86_400 * 30))[endpoint]?.benchRun == measured)
    }
}
