import Foundation
import GRDB

extension Registry {
    /// Writes `steps` buckets of `width` seconds ending at `end` for every one of `endpoints` (version `version`),
    /// in one transaction and one INSERT … SELECT, each a copy of one of `prototypes` (picked by a fixed hash of
    /// the endpoint's index and the step, so the same fleet comes out at every run). For benchmarks at 100,000
    /// endpoints (3 million buckets), where writing bucket by bucket through `merge` would take most of the run;
    /// the rows are those `merge` writes (the histogram as encoded, its percentiles, the counts, the maximum in flight and
    /// the cost). They are inserted in the order the recorder inserts them, oldest start first: a bucket's row is
    /// made at its first flush and updated in place after, so the rows of one start lie together. Inserted
    /// endpoint by endpoint instead, the 10,000 buckets of one start lay on 10,000 pages, and the dashboard's read
    /// of the buckets that came to straddle its windows' starts went to the file for each (issue #20).
    public func seedBuckets(endpoints: [String], version: String, end: Int64, steps: Int, width: Int64, prototypes: [MetricBucket]) throws {
        guard !endpoints.isEmpty, steps > 0, !prototypes.isEmpty else { return }
        try write { db in
            try db.execute(sql: """
                CREATE TEMP TABLE seed_prototypes (i INTEGER PRIMARY KEY, requests INTEGER, errors INTEGER, latency_hist BLOB,
                                                   p50_ms REAL, p95_ms REAL, p99_ms REAL, cost_micros INTEGER,
                                                   max_in_flight INTEGER)
                """)
            defer { try? db.execute(sql: "DROP TABLE temp.seed_prototypes") }
            let insert = try db.makeStatement(sql: "INSERT INTO temp.seed_prototypes VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)")
            for (index, bucket) in prototypes.enumerated() {
                let percentiles = bucket.latency.milliseconds(atPercentiles: [50, 95, 99])
                try insert.execute(arguments: [index, bucket.requests, bucket.errors, bucket.latency.encoded(),
                                               percentiles[0], percentiles[1], percentiles[2], bucket.costMicros, bucket.maxInFlight])
            }
            try db.execute(sql: """
                WITH RECURSIVE step(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM step WHERE n + 1 < :steps)
                INSERT INTO metric_buckets (endpoint, version_id, start, width_s, requests, errors, latency_hist, p50_ms, p95_ms, p99_ms, cost_micros,
                                            max_in_flight)
                SELECT e.value, :version, :end - (step.n + 1) * :width, :width, p.requests, p.errors, p.latency_hist, p.p50_ms, p.p95_ms,
                       p.p99_ms, p.cost_micros, p.max_in_flight
                FROM json_each(:endpoints) AS e, step
                JOIN temp.seed_prototypes p ON p.i = (e.key * 7919 + step.n * 104729) % :count
                ORDER BY step.n DESC, e.value
                """, arguments: ["steps": steps, "version": version, "end": end, "width": width, "endpoints": jsonArray(endpoints),
                                 "count": prototypes.count])
        }
    }

    /// The recorder's flush as main wrote it before this branch (read each stored bucket, add, then `INSERT OR
    /// REPLACE` the whole row with a statement prepared per write): the `bucket-writes` benchmark's baseline,
    /// run in the same process as `merge` so that both see the same machine. Not for anything else.
    public func mergeAsBefore(_ batch: [MetricBucket.Key: MetricBucket]) throws {
        guard !batch.isEmpty else { return }
        try write { db in
            for (key, delta) in batch {
                var total = delta
                if let stored = try MetricBucket.fetch(key, db, prepared: false) {
                    total = stored
                    total.add(delta)
                }
                try total.store(at: key, db, replacing: true)
            }
        }
    }
}
