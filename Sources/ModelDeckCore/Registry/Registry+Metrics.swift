import Foundation
import GRDB

// The metric buckets: what the gateway and the drivers measured, and the live figures read from them.

extension StoredBucket: FetchableRecord {
    /// The columns `init(row:)` reads, in its order: rows are read by position, which at hundreds of
    /// thousands of buckets per dashboard snapshot is several times cheaper than looking each column up by name.
    static let selection = """
        endpoint, version_id, start, width_s, requests, errors, cold_starts, warmups, warmup_cold_starts, max_in_flight,
        cost_micros, warmup_cost_micros, probes, probe_errors, probe_cold_starts, latency_hist, cold_latency_hist, probe_latency_hist, p99_ms
        """

    /// `selection` without the histograms (left out as NULL): for the reads whose buckets add only counts and
    /// costs, which then copy no sketch out of SQLite.
    static let countsSelection = """
        endpoint, version_id, start, width_s, requests, errors, cold_starts, warmups, warmup_cold_starts, max_in_flight,
        cost_micros, warmup_cost_micros, probes, probe_errors, probe_cold_starts, NULL, NULL, NULL
        """

    /// A row selected with `selection` (the histogram columns may be NULL, or left out as NULL by the query;
    /// `p99_ms` may be left out).
    public init(row: Row) {
        self.init(endpoint: row[0], version: row[1], start: row[2], width: row[3], requests: row[4], errors: row[5],
                  coldStarts: row[6], warmups: row[7], warmupColdStarts: row[8], maxInFlight: row[9], costMicros: row[10],
                  warmupCostMicros: row[11], latency: row[15], coldLatency: row[16], probes: row[12], probeErrors: row[13],
                  probeColdStarts: row[14], probeLatency: row[17], p99Milliseconds: row.count > 18 ? row[18] : nil)
    }

    /// The SQL that picks the buckets overlapping `:from..<:to`. `start` is indexed; a bucket overlaps only
    /// if it starts less than the widest stored bucket before `:from`, which bounds the index range (the
    /// widest is read from the `(width_s, start)` index in one step, and is at most a day).
    static let overlapping = """
        start > :from - (SELECT IFNULL(MAX(width_s), 0) FROM metric_buckets) AND start < :to AND start + width_s > :from
        """

    /// The buckets that overlap `window`, of one endpoint (and version) or of all.
    static func fetchAll(_ db: Database, overlapping window: LiveWindow, endpoint: String? = nil, version: String? = nil) throws -> [StoredBucket] {
        try StoredBucket.fetchAll(db, sql: """
            SELECT \(selection) FROM metric_buckets
            WHERE \(overlapping) AND (:endpoint IS NULL OR endpoint = :endpoint) AND (:version IS NULL OR version_id = :version)
            ORDER BY start
            """, arguments: ["from": window.start, "to": window.end, "endpoint": endpoint, "version": version])
    }

    /// Every bucket that overlaps `window`, one at a time without holding them all (a dashboard snapshot at
    /// 10,000 endpoints reads 300,000 of them).
    static func forEach(_ db: Database, overlapping window: LiveWindow, _ body: (StoredBucket) throws -> Void) throws {
        let rows = try Row.fetchCursor(db, sql: "SELECT \(selection) FROM metric_buckets WHERE \(overlapping)",
                                       arguments: ["from": window.start, "to": window.end])
        while let row = try rows.next() { try body(StoredBucket(row: row)) }
    }

    /// The whole buckets overlapping `window` summed per endpoint in SQL, each sum as one bucket spanning the
    /// window, without histograms: counts and costs (not rates) for `LiveFigures.Builder(histograms: false)`.
    static func sums(_ db: Database, overlapping window: LiveWindow) throws -> [StoredBucket] {
        try Row.fetchAll(db, sql: """
            SELECT endpoint, '' AS version_id, :from AS start, :to - :from AS width_s, SUM(requests), SUM(errors), SUM(cold_starts),
                   SUM(warmups), SUM(warmup_cold_starts), MAX(max_in_flight), SUM(cost_micros), SUM(warmup_cost_micros), SUM(probes),
                   SUM(probe_errors), SUM(probe_cold_starts), NULL, NULL, NULL
            FROM metric_buckets WHERE \(overlapping) GROUP BY endpoint
            """, arguments: ["from": window.start, "to": window.end]).map(StoredBucket.init(row:))
    }
}

extension Registry {
    /// Every endpoint's live figures over `window` (or one endpoint's): the one computation behind every view.
    public func liveFigures(window: LiveWindow, endpoint: String? = nil) throws -> [String: EndpointFigures] {
        try read { db in try EndpointFigures.build(StoredBucket.fetchAll(db, overlapping: window, endpoint: endpoint), window: window) }
    }

    /// The stored buckets of `endpoint` that overlap `window`, oldest first (the endpoint detail draws them).
    public func buckets(endpoint: String, window: LiveWindow) throws -> [StoredBucket] {
        try read { db in try StoredBucket.fetchAll(db, overlapping: window, endpoint: endpoint) }
    }

    /// Adds a batch of measured buckets to the stored ones (creating them), in one transaction: counts add
    /// and histograms merge, so a second writer or a restart adds to a bucket instead of overwriting it.
    public func merge(_ batch: [MetricBucket.Key: MetricBucket]) throws {
        guard !batch.isEmpty else { return }
        try write { db in
            for (key, delta) in batch { try delta.merge(into: key, db) }
        }
    }

    /// Writes what a platform measured over the stored buckets (`MetricBucket.replaceObserved`), in one transaction.
    public func replaceObserved(_ batch: [MetricBucket.Key: MetricBucket], platformCountsColdStarts: Bool) throws {
        guard !batch.isEmpty else { return }
        try write { db in
            for (key, bucket) in batch.sorted(by: { $0.key.start < $1.key.start }) {
                try bucket.replaceObserved(at: key, platformCountsColdStarts: platformCountsColdStarts, db)
            }
        }
    }

    /// The stored bucket at `key`, if any.
    public func bucket(at key: MetricBucket.Key) throws -> MetricBucket? {
        try read { db in try MetricBucket.fetch(key, db) }
    }

    /// Rolls old 10-second buckets up and drops those past retention (`MetricRollup`).
    @discardableResult
    public func rollUpMetrics(now: Date, retentionDays: Int) throws -> (rolledUp: Int, dropped: Int) {
        try write { db in try MetricRollup.run(db, now: now, retentionDays: retentionDays) }
    }

    /// Which versions of `endpoint` may have served since `since` (`ServingVersions`).
    public func servingVersions(endpoint: String, since: Date) throws -> Set<String> {
        try read { db in try ServingVersions.load(db, endpoint: endpoint, since: since) }
    }

    /// The user traffic of `version` on `endpoint` since `since`, as the deploy gate judges it.
    public func versionHealth(endpoint: String, version: String, since: Date, now: Date = Date()) throws -> VersionHealth {
        try read { db in try VersionHealth.load(db, endpoint: endpoint, version: version, since: since, now: now) }
    }

    /// The intervals in which each of `endpoints` had user requests since `since` (`start`, `width` in
    /// seconds, oldest first): what adaptive keep-warm learns idle times from.
    public func busyIntervals(endpoints: [String], since: Date) throws -> [String: [(start: Int64, width: Int64)]] {
        guard !endpoints.isEmpty else { return [:] }
        return try read { db in
            var result: [String: [(start: Int64, width: Int64)]] = [:]
            for row in try Row.fetchAll(db, sql: """
                SELECT DISTINCT endpoint, start, width_s FROM metric_buckets
                WHERE requests > 0 AND start >= ? AND endpoint IN (SELECT value FROM json_each(?)) ORDER BY start
                """, arguments: [Int64(since.timeIntervalSince1970), jsonArray(endpoints)]) {
                result[row["endpoint"], default: []].append((row["start"], row["width_s"]))
            }
            return result
        }
    }

    /// Per endpoint version, the worst p99 of each minute since `since` (a bucket's stored p99), for sparklines,
    /// each with the bucket that holds it (SQLite gives a bare column of the row `MAX` picked).
    static func minuteP99s(_ db: Database, since: Int64) throws -> [RollingFigures.VersionKey: [RollingSparkline.Point]] {
        var result: [RollingFigures.VersionKey: [RollingSparkline.Point]] = [:]
        let rows = try Row.fetchCursor(db, sql: """
            SELECT endpoint, version_id, start / 60 * 60 AS minute, MAX(p99_ms) AS p99, start FROM metric_buckets
            WHERE start >= ? AND requests > 0 AND p99_ms IS NOT NULL GROUP BY endpoint, version_id, minute
            """, arguments: [since])
        while let row = try rows.next() {
            result[RollingFigures.VersionKey(endpoint: row[0], version: row[1]), default: []]
                .append(.init(start: row[4], p99: row[3]))
        }
        return result
    }

    /// One endpoint version's worst p99 in the minute that starts at `minute`, and the bucket that holds it,
    /// through the primary key; nil when none of its buckets there has requests and a p99.
    static func minuteP99(_ db: Database, _ version: RollingFigures.VersionKey, minute: Int64) throws -> RollingSparkline.Point? {
        guard let row = try Row.fetchOne(db.cachedStatement(sql: """
            SELECT MAX(p99_ms), start FROM metric_buckets
            WHERE endpoint = ? AND version_id = ? AND start >= ? AND start < ? AND requests > 0 AND p99_ms IS NOT NULL
            """), arguments: [version.endpoint, version.version, minute, minute + 60]), let p99: Double = row[0] else { return nil }
        return RollingSparkline.Point(start: row[1], p99: p99)
    }
}

/// Plain strings as a JSON array, for `json_each` (one bound argument however many values).
func jsonArray(_ values: [String]) -> String {
    String(decoding: (try? JSONEncoder().encode(values)) ?? Data("[]".utf8), as: UTF8.self)
}

extension Registry {
    /// The buckets of `endpoint` that start in `from..<to` (Unix seconds), whatever their width.
    public func buckets(endpoint: String, startingFrom from: Int64, to: Int64) throws -> [MetricBucket] {
        try read { db in try MetricBucket.fetchAll(db, endpoint: endpoint, from: from, to: to) }
    }
}
