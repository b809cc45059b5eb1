import Foundation
import GRDB
import Testing
@testable import ModelDeckCore

struct MetricTiersTests {
    @Test func theStandardTiersRollAtAnHourAndADayOnWholeBuckets() {
        let tiers = MetricTiers.standard(retentionDays: 30)
        let now: Int64 = 1_800_000_000 + 86_400 + 3_600 + 125   // not on any boundary
        let plan = tiers.plan(now: now)
        let expected: [MetricTiers.Rollup] = [.init(toWidth: 60, before: (now - 3_600) / 60 * 60),
                                              .init(toWidth: 3_600, before: (now - 86_400) / 3_600 * 3_600)]
        #expect(plan.rollups == expected)
        #expect(plan.dropBefore == now - 30 * 86_400)
        // Every start, at every moment of a day: the width it belongs in.
        for offset in stride(from: Int64(0), to: 2 * 86_400, by: 97) {
            let start = now - offset
            let width = tiers.width(forBucketStartingAt: start, now: now)
            let expected: Int64 = start < plan.rollups[1].before ? 3_600 : start < plan.rollups[0].before ? 60 : 10
            #expect(width == expected)
            #expect(plan.rollups.allSatisfy { $0.before % $0.toWidth == 0 })
        }
        #expect(tiers.width(forBucketStartingAt: now - 31 * 86_400, now: now) == nil)
        #expect(tiers.description == "10s for 1h, 1m for 1d, 1h for 30d")
    }

    @Test func tiersAreReadFromTheCommandLineAndBadOnesRefusedByName() throws {
        let tiers = try MetricTiers.parse("10s:2h, 5m:7d, 1h", retentionSeconds: 90 * 86_400)
        let expected: [MetricTiers.Tier] = [.init(width: 10, keptFor: 7_200), .init(width: 300, keptFor: 604_800), .init(width: 3_600, keptFor: 7_776_000)]
        #expect(tiers.tiers == expected)
        let single: [MetricTiers.Tier] = [.init(width: 60, keptFor: 86_400)]
        #expect(try MetricTiers.parse("1m", retentionSeconds: 86_400).tiers == single)
        let refusals: [(String, String)] = [
            ("10s:1h,7s:1d,1h", "multiple of 10s"),
            ("10s:1h,25s:1d,1h", "multiple of 10s"),
            ("10s:30s,1m:1d,1h", "less than one 1m bucket"),
            ("10s:1d,1m:1h,1h", "longer than the tier before"),
            ("10s:1h,1m,1h", "expected WIDTH:KEPT"),
            ("10s:1h,1m:1d,1h:30d", "expected WIDTH:KEPT"),
            ("0s:1h,1h", "1s to 1d"),
            ("ten:1h,1h", "not a duration"),
        ]
        for (text, reason) in refusals {
            #expect { try MetricTiers.parse(text, retentionSeconds: 30 * 86_400) } throws: { error in
                "\(error)".contains(reason)
            }
        }
        #expect(throws: ModelDeckError.self) { try MetricTiers.parse("10s:1h,1h", retentionSeconds: 3_600) }
    }

    func bucket(_ requests: Int64, latencies: [UInt64], cost: Int64 = 3) -> MetricBucket {
        var bucket = MetricBucket()
        bucket.requests = requests
        bucket.errors = requests / 7
        bucket.costMicros = cost * requests
        bucket.mbMs = requests * 100
        for micros in latencies { bucket.latency.record(microseconds: micros) }
        if let first = latencies.first {
            bucket.coldStarts = 1
            bucket.coldLatency.record(microseconds: first)
        }
        return bucket
    }

    struct Totals: Equatable {
        var requests: Int64 = 0, errors: Int64 = 0, cost: Int64 = 0, mbMs: Int64 = 0, cold: Int64 = 0
        var latency = LatencyHistogram(), coldLatency = LatencyHistogram()
    }

    func totals(_ registry: Registry) throws -> Totals {
        try registry.read { db in
            var totals = Totals()
            for row in try Row.fetchAll(db, sql: "SELECT * FROM metric_buckets") {
                let bucket = try MetricBucket(row: row)
                totals.requests += bucket.requests
                totals.errors += bucket.errors
                totals.cost += bucket.costMicros
                totals.mbMs += bucket.mbMs
                totals.cold += bucket.coldStarts
                totals.latency.add(bucket.latency)
                totals.coldLatency.add(bucket.coldLatency)
            }
            return totals
        }
    }

    /// Every bucket has the width its age calls for, and no two buckets of one version overlap.
    func expectTiered(_ registry: Registry, _ tiers: MetricTiers, now: Int64, sourceWidth: Int64 = 10) throws {
        let rows = try registry.read { db in
            try Row.fetchAll(db, sql: "SELECT endpoint, version_id, start, width_s FROM metric_buckets ORDER BY endpoint, version_id, start")
        }
        var previous: (key: String, end: Int64)?
        for row in rows {
            let start: Int64 = row["start"], width: Int64 = row["width_s"]
            let key = "\(row["endpoint"] as String)/\(row["version_id"] as String)"
            #expect(width == max(sourceWidth, tiers.width(forBucketStartingAt: start, now: now) ?? -1), "bucket at \(start) is \(width) s wide")
            #expect(start % width == 0)
            if let previous, previous.key == key { #expect(start >= previous.end, "buckets overlap at \(start)") }
            previous = (key, start + width)
        }
    }

    @Test func twoDaysOfTenSecondBucketsRollThroughEveryTierWithNothingLost() throws {
        let scratch = Scratch()
        defer { scratch.cleanUp() }
        let registry = try Registry(path: scratch.registryPath)
        let tiers = MetricTiers.standard(retentionDays: 30)
        var random = SeededRandom(seed: 1)
        let begin: Int64 = 1_800_000_000 / 86_400 * 86_400
        var written = Totals()
        // Two days and a bit, written an hour at a time, rolled up after each hour as the daemon does.
        for hour in 0..<50 {
            let hourStart = begin + Int64(hour) * 3_600
            try registry.write { db in
                for slot in stride(from: hourStart, to: hourStart + 3_600, by: 10) where random.next() % 3 != 0 {
                    for version in ["m@v1", "m@v2"] where version == "m@v1" || random.next() % 4 == 0 {
                        let latencies = (0..<Int(random.next() % 5 + 1)).map { _ in 1_000 + random.next() % 900_000 }
                        let b = bucket(Int64(latencies.count), latencies: latencies)
                        try b.merge(into: .init(endpoint: "e", version: version, start: slot, width: 10), db)
                        written.requests += b.requests; written.errors += b.errors; written.cost += b.costMicros
                        written.mbMs += b.mbMs; written.cold += b.coldStarts
                        written.latency.add(b.latency); written.coldLatency.add(b.coldLatency)
                    }
                }
            }
            let now = hourStart + 3_600 + Int64(random.next() % 60)
            let result = try registry.rollUpMetrics(now: Date(timeIntervalSince1970: TimeInterval(now)), tiers: tiers, batchRows: 100)
            #expect(result.transactions >= 1)
            try expectTiered(registry, tiers, now: now)
            #expect(try totals(registry) == written)
        }
        let widths = try registry.read { db in try Int64.fetchAll(db, sql: "SELECT DISTINCT width_s FROM metric_buckets ORDER BY width_s") }
        #expect(widths == [10, 60, 3_600])
    }

    @Test func aBacklogIsRolledUpInBoundedTransactionsThatLoseNothing() throws {
        let scratch = Scratch()
        defer { scratch.cleanUp() }
        let registry = try Registry(path: scratch.registryPath)
        let tiers = MetricTiers.standard(retentionDays: 2)
        let begin: Int64 = 1_800_000_000 / 3_600 * 3_600
        // A daemon that was down for three days: 10-second buckets all the way back, some past the retention.
        try registry.write { db in
            for slot in stride(from: begin, to: begin + 3 * 86_400, by: 30) {
                try bucket(2, latencies: [5_000, UInt64(slot % 1_000_000 + 1)]).merge(into: .init(endpoint: "e", version: "v", start: slot, width: 10), db)
            }
        }
        let now = begin + 3 * 86_400
        var steps: [MetricRollup.Progress] = []
        while true {
            let progress = try registry.write { db in
                try MetricRollup.step(db, now: Date(timeIntervalSince1970: TimeInterval(now)), tiers: tiers, batchRows: 500)
            }
            steps.append(progress)
            #expect(progress.rolledUp <= 500 && progress.dropped <= 500)
            if progress.done { break }
            #expect(steps.count < 1_000)
        }
        #expect(steps.count > 10)   // the backlog took many short transactions, not one long one
        try expectTiered(registry, tiers, now: now)
        // What is left is exactly what fell inside the retention: two requests per 30 s.
        let kept = try totals(registry)
        let keptSlots = stride(from: begin, to: now, by: 30).filter { $0 >= now - 2 * 86_400 }.count
        #expect(kept.requests == Int64(keptSlots) * 2)
        #expect(kept.latency.count == UInt64(keptSlots) * 2)
        // And running again finds nothing due.
        let again = try registry.rollUpMetrics(now: Date(timeIntervalSince1970: TimeInterval(now)), tiers: tiers, batchRows: 500)
        #expect(again.rolledUp == 0 && again.dropped == 0 && again.transactions == 1)
    }

    @Test func coarserBucketsFromAPlatformJoinTheTiersToo() throws {
        let scratch = Scratch()
        defer { scratch.cleanUp() }
        let registry = try Registry(path: scratch.registryPath)
        let tiers = MetricTiers.standard()
        let begin: Int64 = 1_800_000_000 / 3_600 * 3_600
        // CloudWatch writes 1-minute buckets; the gateway 10-second ones for another endpoint.
        try registry.write { db in
            for minute in 0..<(3 * 60) {
                try bucket(10, latencies: Array(repeating: 40_000, count: 10)).merge(into: .init(endpoint: "aws", version: "v", start: begin + Int64(minute) * 60, width: 60), db)
            }
        }
        let now = begin + 86_400 + 2 * 3_600
        try registry.rollUpMetrics(now: Date(timeIntervalSince1970: TimeInterval(now)), tiers: tiers)
        let rows = try registry.read { db in try Row.fetchAll(db, sql: "SELECT start, width_s, requests FROM metric_buckets ORDER BY start") }
        let widths: [Int64] = [3_600, 3_600] + Array(repeating: 60, count: 60)
        #expect(rows.map { $0["width_s"] as Int64 } == widths)
        #expect(rows.reduce(0) { $0 + ($1["requests"] as Int64) } == 1_800)
        try expectTiered(registry, tiers, now: now, sourceWidth: 60)
    }

    @Test func adaptiveKeepWarmReadsHourBucketsAsAnHour() {
        // An idle time runs from a busy bucket's end: a 1-hour bucket ends an hour after it starts, whatever
        // the tier that made it (with `--tiers 10s:1h,1h`, hour buckets reach into keep-warm's 4-hour window).
        let histogram = IdleTimeHistogram.from(busyBuckets: [(start: 0, width: 3_600), (start: 3_600 + 600, width: 10),
                                                             (start: 3_600 + 610 + 120, width: 60)])
        #expect(histogram.count == 2)
        #expect(histogram.bins[10] == 1)   // 600 s after the hour bucket's end, not 4,200 s after its start
        #expect(histogram.bins[2] == 1)    // 120 s
    }
}
