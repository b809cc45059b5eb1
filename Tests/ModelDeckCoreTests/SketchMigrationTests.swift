import Foundation
import GRDB
import Testing
@testable import ModelDeckCore

/// A registry written before the latency sketches (HDR pairs in `metric_buckets`) upgrades in place when
/// opened: every blob converted, every count and total unchanged.
struct SketchMigrationTests {
    static func legacyPairs(_ pairs: [(UInt64, UInt64)]) -> Data {
        var data = Data()
        for (value, count) in pairs {
            withUnsafeBytes(of: value.littleEndian) { data.append(contentsOf: $0) }
            withUnsafeBytes(of: count.littleEndian) { data.append(contentsOf: $0) }
        }
        return data
    }

    @Test func anOldRegistryUpgradesInPlaceWithItsTotalsUnchanged() throws {
        let scratch = Scratch()
        defer { scratch.cleanUp() }
        let path = scratch.registryPath
        // The registry as the last release left it: migrated up to 2026-11-25, HDR pairs in the blobs.
        var random = SeededRandom(seed: 2026)
        var expected: [Int64: (requests: Int64, latency: [UInt64: UInt64], cold: UInt64)] = [:]
        do {
            let pool = try DatabasePool(path: path)
            try Migrations.migrator.migrate(pool, upTo: "2026-11-25 ping due time")
            try pool.write { db in
                for index in 0..<2_500 {   // more than one page of the migration's batches
                    var pairs: [UInt64: UInt64] = [:]
                    for _ in 0..<Int(random.next() % 40 + 1) { pairs[1_000 + random.next() % 3_000_000, default: 0] += random.next() % 9 + 1 }
                    let cold: [(UInt64, UInt64)] = index % 5 == 0 ? [(2_500_000, 1)] : []
                    let requests = Int64(pairs.values.reduce(0, +))
                    try db.execute(sql: """
                        INSERT INTO metric_buckets (endpoint, version_id, start, width_s, requests, latency_hist, cold_latency_hist, p99_ms)
                        VALUES ('e', 'm@v1', ?, 60, ?, ?, ?, 12.5)
                        """, arguments: [Int64(index) * 60, requests, Self.legacyPairs(pairs.map { ($0.key, $0.value) }), Self.legacyPairs(cold)])
                    expected[Int64(index) * 60] = (requests, pairs, UInt64(cold.count))
                }
                // An empty histogram and a NULL one stay so.
                try db.execute(sql: "INSERT INTO metric_buckets (endpoint, version_id, start, width_s, latency_hist) VALUES ('e', 'm@v1', -60, 60, X'')")
                try db.execute(sql: "INSERT INTO metric_buckets (endpoint, version_id, start, width_s) VALUES ('e', 'm@v1', -120, 60)")
            }
            try pool.close()
        }

        let registry = try Registry(path: path)   // the upgrade
        let rows = try registry.read { db in try Row.fetchAll(db, sql: "SELECT * FROM metric_buckets WHERE start >= 0 ORDER BY start") }
        #expect(rows.count == 2_500)
        var allRequests: UInt64 = 0, allStored: UInt64 = 0
        for row in rows {
            let start: Int64 = row["start"]
            let bucket = try MetricBucket(row: row)
            let want = try #require(expected[start])
            #expect(bucket.requests == want.requests)
            #expect(bucket.latency.count == UInt64(want.requests))
            #expect(bucket.coldLatency.count == want.cold)
            #expect((row["latency_hist"] as Data).count <= LatencyHistogram.maximumEncodedBytes)
            #expect(row["p99_ms"] == 12.5)
            // Every percentile within the sketch's accuracy of the old pairs'.
            let sorted = want.latency.keys.sorted().flatMap { Array(repeating: $0, count: Int(want.latency[$0]!)) }
            for p in [50.0, 95, 99] {
                let truth = Double(LatencySketchTests.exact(sorted, p))
                #expect(abs((bucket.latency.milliseconds(atPercentile: p) ?? 0) * 1_000 - truth) <= truth * 0.005)
            }
            allRequests += UInt64(bucket.requests)
            allStored += bucket.latency.count
        }
        #expect(allStored == allRequests)
        let empties = try registry.read { db in try Row.fetchAll(db, sql: "SELECT latency_hist FROM metric_buckets WHERE start < 0 ORDER BY start") }
        #expect((empties[0]["latency_hist"] as Data?) == nil && (empties[1]["latency_hist"] as Data?) == Data())
        // Opening it again migrates nothing twice.
        let again = try Registry(path: path)
        let first = try again.read { db in try Data.fetchOne(db, sql: "SELECT latency_hist FROM metric_buckets WHERE start = 0") }
        #expect(first == (rows[0]["latency_hist"] as Data))
    }
}
