import Foundation
import GRDB
import Testing
@testable import ModelDeckCore

struct MetricRollupTests {
    func bucket(requests: Int64, errors: Int64 = 0, latencies: [UInt64], cold: [UInt64] = [], inFlight: Int64 = 1) -> MetricBucket {
        var bucket = MetricBucket()
        bucket.requests = requests
        bucket.errors = errors
        bucket.coldStarts = Int64(cold.count)
        for micros in latencies + cold { bucket.latency.record(microseconds: micros) }
        for micros in cold { bucket.coldLatency.record(microseconds: micros) }
        bucket.maxInFlight = inFlight
        bucket.mbMs = requests * 256 * 5
        return bucket
    }

    @Test func theRecentPeakConcurrencyIsTheHourBeforeTheLastBusyBucket() throws {
        let scratch = Scratch()
        defer { scratch.cleanUp() }
        let registry = try Registry(path: scratch.registryPath)
        let last: Int64 = 1_800_010_000
        try registry.write { db in
            // e: 5 at once two hours before its last bucket (too old), 3 within the hour, 1 in the last bucket.
            for (start, inFlight) in [(last - 7_200, 5), (last - 3_000, 3), (last, 1)] {
                try bucket(requests: 1, latencies: [1_000], inFlight: Int64(inFlight))
                    .merge(into: .init(endpoint: "e", version: "m@v1", start: start, width: 10), db)
            }
            // f: a minute bucket (rolled up) just inside the hour; g: only warm-ups, no user requests.
            try bucket(requests: 2, latencies: [1_000, 1_000], inFlight: 4).merge(into: .init(endpoint: "f", version: "m@v1", start: last - 3_600, width: 60), db)
            try bucket(requests: 1, latencies: [1_000], inFlight: 1).merge(into: .init(endpoint: "f", version: "m@v1", start: last, width: 10), db)
            try bucket(requests: 0, latencies: [], inFlight: 9).merge(into: .init(endpoint: "g", version: "m@v1", start: last, width: 10), db)
        }
        let peaks = try registry.recentPeakConcurrency(since: last - 4 * 3_600)
        #expect(peaks == ["e": 3, "f": 4])
        // Nothing since `since`: no figure (the planner then warms one).
        #expect(try registry.recentPeakConcurrency(since: last + 1).isEmpty)
    }

    @Test func tenSecondBucketsOlderThanAnHourBecomeOneMinuteBucketsWithNothingLost() throws {
        let scratch = Scratch()
        defer { scratch.cleanUp() }
        let registry = try Registry(path: scratch.registryPath)
        let now = Date(timeIntervalSince1970: 1_800_003_600 + 30)
        let old: Int64 = 1_800_000_000 - 7_200 // two hours before `now`'s hour
        try registry.write { db in
            // Six 10 s buckets in one old minute, and one recent bucket that must stay fine-grained.
            for index in 0..<6 {
                try bucket(requests: 10, errors: index == 0 ? 2 : 0, latencies: Array(repeating: 5_000, count: 10),
                           cold: index == 3 ? [900_000] : [], inFlight: Int64(index))
                    .merge(into: .init(endpoint: "e", version: "m@v1", start: old + Int64(index) * 10, width: 10), db)
            }
            try bucket(requests: 3, latencies: [1_000, 1_000, 1_000])
                .merge(into: .init(endpoint: "e", version: "m@v1", start: 1_800_003_600, width: 10), db)
        }
        let result = try registry.write { db in try MetricRollup.run(db, now: now) }
        #expect(result.rolledUp == 6)
        let rows = try registry.read { db in try Row.fetchAll(db, sql: "SELECT * FROM metric_buckets ORDER BY start") }
        #expect(rows.count == 2)
        let minute = try MetricBucket(row: rows[0])
        #expect(rows[0]["width_s"] == 60)
        #expect(rows[0]["start"] == old)
        #expect(minute.requests == 60)
        #expect(minute.errors == 2)
        #expect(minute.coldStarts == 1)
        #expect(minute.latency.count == 61)
        #expect(minute.coldLatency.count == 1)
        #expect(minute.maxInFlight == 5)
        #expect(minute.mbMs == 60 * 256 * 5)
        #expect((rows[0]["p99_ms"] as Double?).map { $0 > 5 } == true)
        #expect(rows[1]["width_s"] == 10)

        // Running again changes nothing: the minute is not counted twice.
        let before = try dump(registry)
        try registry.write { db in _ = try MetricRollup.run(db, now: now) }
        #expect(try dump(registry) == before)
    }

    @Test func platformFiguresReplaceEarlierOnesAndKeepWarmupsThroughTheRollup() throws {
        let scratch = Scratch()
        defer { scratch.cleanUp() }
        let registry = try Registry(path: scratch.registryPath)
        let now = Date(timeIntervalSince1970: 1_800_003_600 + 30)
        let minute: Int64 = 1_800_000_000 - 7_200
        let key = MetricBucket.Key(endpoint: "e", version: "m@v1", start: minute, width: 60)
        var observed = bucket(requests: 40, errors: 2, latencies: Array(repeating: 20_000, count: 40), inFlight: 3)
        observed.costMicros = 19
        var revised = observed
        revised.requests = 41
        var warmup = MetricBucket()
        warmup.warmups = 2
        warmup.warmupColdStarts = 1
        warmup.warmupCostMicros = 7
        warmup.mbMs = 1_000
        warmup.maxInFlight = 2
        try registry.write { db in
            try observed.replaceObserved(at: key, db)  // CloudWatch's minute
            try warmup.merge(into: .init(endpoint: "e", version: "m@v1", start: minute + 20, width: 10), db)  // a ping in it
            _ = try MetricRollup.run(db, now: now)
            try revised.replaceObserved(at: key, db)  // collected again, revised
            try revised.replaceObserved(at: key, db)  // and again
        }
        let stored = try #require(try registry.read { db in try MetricBucket.fetch(key, db) })
        #expect(stored.requests == 41 && stored.errors == 2 && stored.latency.count == 40 && stored.costMicros == 19)
        #expect(stored.warmups == 2 && stored.warmupColdStarts == 1 && stored.warmupCostMicros == 7 && stored.mbMs == 1_000)
        #expect(stored.maxInFlight == 3)
        #expect(try registry.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM metric_buckets") } == 1)
    }

    @Test func bucketsOlderThanTheRetentionAreDropped() throws {
        let scratch = Scratch()
        defer { scratch.cleanUp() }
        let registry = try Registry(path: scratch.registryPath)
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        try registry.write { db in
            try bucket(requests: 1, latencies: [1_000]).merge(into: .init(endpoint: "e", version: "v", start: 1_800_000_000 - 31 * 86_400, width: 60), db)
            try bucket(requests: 1, latencies: [1_000]).merge(into: .init(endpoint: "e", version: "v", start: 1_800_000_000 - 29 * 86_400, width: 60), db)
        }
        try registry.write { db in _ = try MetricRollup.run(db, now: now, retentionDays: 30) }
        let starts = try registry.read { db in try Int64.fetchAll(db, sql: "SELECT start FROM metric_buckets") }
        #expect(starts == [1_800_000_000 - 29 * 86_400])
    }
}
