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

    @Test func theRegistryLearnsEachEndpointFromItsBucketsVersionByVersion() throws {
        let scratch = Scratch()
        defer { scratch.cleanUp() }
        let registry = try Registry(path: scratch.registryPath)
        try DeckApplier.apply(try parseDeck(sampleDeck()), to: registry, source: "deck.yaml", actor: "test")
        let endpoint = try #require(try registry.endpoints().first?.name)
        let version = try #require(try registry.versions(model: "sentiment").first?.id)
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
}
