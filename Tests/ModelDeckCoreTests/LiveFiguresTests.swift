import Foundation
import Testing
@testable import ModelDeckCore

/// The one computation of the live figures every view reads.
struct LiveFiguresTests {
    func stored(_ start: Int64, width: Int64 = 10, requests: Int64, errors: Int64 = 0, latencies: [UInt64] = [], cold: [UInt64] = [],
                pings: Int64 = 0, cost: Int64 = 0, pingCost: Int64 = 0, version: String = "m@v1") -> StoredBucket {
        var latency = LatencyHistogram(), coldLatency = LatencyHistogram()
        for value in latencies { latency.record(microseconds: value) }
        for value in cold { coldLatency.record(microseconds: value); latency.record(microseconds: value) }
        return StoredBucket(endpoint: "e", version: version, start: start, width: width, requests: requests, errors: errors,
                            coldStarts: Int64(cold.count), warmups: pings, maxInFlight: 2, costMicros: cost, warmupCostMicros: pingCost,
                            latency: latency.encoded(), coldLatency: coldLatency.encoded())
    }

    /// Equal to the latency sketch's relative accuracy (0.5%, `LatencyHistogram`).
    func near(_ value: Double?, _ expected: Double) -> Bool {
        value.map { abs($0 - expected) <= expected * 0.005 } ?? false
    }

    func figures(_ buckets: [StoredBucket], window: LiveWindow) throws -> LiveFigures {
        var builder = LiveFigures.Builder(window: window)
        for bucket in buckets { try builder.add(bucket) }
        return builder.figuresNow()
    }

    @Test func aBucketThatStraddlesTheWindowCountsWholeButItsRateProRata() throws {
        let window = LiveWindow(start: 1_000, end: 1_060)
        // 995–1005 straddles the start (half inside); 1050–1060 is inside; 1060–1070 starts at the end: outside.
        let live = try figures([stored(995, requests: 10), stored(1_050, requests: 6), stored(1_060, requests: 100)], window: window)
        #expect(live.requests == 16)
        #expect(live.requestsPerSecond == (5.0 + 6.0) / 60)
        #expect(live.windowSeconds == 60)
    }

    @Test func aWiderBucketFromAPlatformIsProRatedByItsOwnWidth() throws {
        let window = LiveWindow(start: 1_030, end: 1_060)
        let live = try figures([stored(1_000, width: 60, requests: 60, cost: 600)], window: window)
        #expect(live.requests == 60)
        #expect(live.requestsPerSecond == 30.0 / 30)
        #expect(live.burnMicrosPerHour == 300 * 3_600 / 30)
    }

    @Test func pingsAreCountedApartAndNeverInLatencyOrErrors() throws {
        let window = LiveWindow(start: 0, end: 60)
        let live = try figures([stored(0, requests: 0, pings: 5, pingCost: 50), stored(10, requests: 4, errors: 1, latencies: [1_000, 2_000, 3_000, 4_000])],
                               window: window)
        #expect(live.pings == 5)
        #expect(live.requests == 4)
        #expect(live.errorRate == 0.25)
        #expect(near(live.p99Milliseconds, 4))
        #expect(live.pingBurnMicrosPerHour == 50 * 60)
        #expect(live.burnMicrosPerHour == 50 * 60)
    }

    @Test func warmAndColdPercentilesArePartsOfTheWhole() throws {
        let window = LiveWindow(start: 0, end: 60)
        let live = try figures([stored(0, requests: 5, latencies: [1_000, 1_000, 2_000, 2_000], cold: [900_000])], window: window)
        #expect(live.coldStarts == 1)
        #expect(near(live.p99Milliseconds, 900))
        #expect(near(live.warmP99Milliseconds, 2))
        #expect(near(live.coldP99Milliseconds, 900))
    }

    @Test func anEmptyWindowHasNoPercentilesAndNoErrorRate() throws {
        let live = try figures([], window: LiveWindow(start: 0, end: 300))
        #expect(live == LiveFigures(windowSeconds: 300))
        #expect(live.errorRate == nil && live.p99Milliseconds == nil && live.requestsPerSecond == 0)
    }

    @Test func anEndpointsTotalIsItsVersionsAddedUp() throws {
        let window = LiveWindow(start: 0, end: 60)
        let buckets = [stored(0, requests: 3, latencies: [1_000, 2_000, 3_000]),
                       stored(0, requests: 2, errors: 2, latencies: [10_000, 20_000], version: "m@v2")]
        let built = try #require(try EndpointFigures.build(buckets, window: window)["e"])
        #expect(built.versions.count == 2)
        #expect(built.total.requests == 5 && built.total.errors == 2)
        #expect(near(built.total.p99Milliseconds, 20))
        #expect(near(built.versions["m@v1"]?.p99Milliseconds, 3))
        #expect(built.total == (try figures(buckets, window: window)))
    }

    @Test func theWindowOfTheLastSecondsEndsNow() {
        let window = LiveWindow(last: 300, now: Date(timeIntervalSince1970: 10_000.7))
        #expect(window.start == 9_700 && window.end == 10_000)
        #expect(window.share(ofBucketAt: 9_695, width: 10) == 0.5)
        #expect(window.share(ofBucketAt: 10_000, width: 10) == 0)
        // The bucket still filling (9,995–10,005 at 10,000) has all its requests in its first 5 seconds.
        #expect(window.share(ofBucketAt: 9_995, width: 10) == 1)
    }

    @Test func theDeployGateReadsTheSameWindowAsTheViews() throws {
        let scratch = Scratch()
        defer { scratch.cleanUp() }
        let registry = try Registry(path: scratch.registryPath)
        var bucket = MetricBucket()
        bucket.requests = 3
        bucket.errors = 1
        for value: UInt64 in [1_000, 2_000] { bucket.latency.record(microseconds: value) }
        bucket.coldStarts = 1
        bucket.coldLatency.record(microseconds: 800_000)
        bucket.latency.record(microseconds: 800_000)
        try registry.merge([MetricBucket.Key(endpoint: "e", version: "m@v1", start: 1_000, width: 10): bucket])
        let now = Date(timeIntervalSince1970: 1_030)
        let health = try registry.versionHealth(endpoint: "e", version: "m@v1", since: Date(timeIntervalSince1970: 1_005), now: now)
        let live = try #require(try registry.liveFigures(window: LiveWindow(start: 1_005, end: 1_031))["e"]?.versions["m@v1"])
        #expect(health.requests == live.requests && health.errors == live.errors && health.coldStarts == live.coldStarts)
        #expect(health.p99Milliseconds == live.warmP99Milliseconds)
        #expect(near(health.p99Milliseconds, 2))
    }
}
