import Foundation
import Synchronization
import GRDB

/// One row of `metric_buckets`: what an endpoint's version did in one interval (10 s recent, 1 min older).
/// Adding two buckets is exact — counts add, histograms merge — which both the gateway's batched writes
/// and the rollup rely on.
public struct MetricBucket: Equatable, Sendable {
    public struct Key: Hashable, Sendable {
        public var endpoint: String
        public var version: String
        public var start: Int64
        public var width: Int64

        public init(endpoint: String, version: String, start: Int64, width: Int64) {
            self.endpoint = endpoint
            self.version = version
            self.start = start
            self.width = width
        }
    }

    public var requests: Int64 = 0
    public var errors: Int64 = 0
    public var coldStarts: Int64 = 0
    public var warmups: Int64 = 0
    public var warmupColdStarts: Int64 = 0
    /// All user requests, cold starts included (what callers waited).
    public var latency = LatencyHistogram()
    /// User requests that started an instance.
    public var coldLatency = LatencyHistogram()
    public var maxInFlight: Int64 = 0
    public var instances: Int64 = 0
    /// Memory × time, in MB·ms (the basis of GB-second prices).
    public var mbMs: Int64 = 0
    public var costMicros: Int64 = 0
    public var warmupCostMicros: Int64 = 0
    /// Synthetic probes of an endpoint someone else runs (http), apart from user traffic and pings: how many,
    /// how many failed (no answer, or not 2xx/3xx), how many waited for a cold start, and their latency.
    public var probes: Int64 = 0
    public var probeErrors: Int64 = 0
    public var probeColdStarts: Int64 = 0
    public var probeLatency = LatencyHistogram()
    /// The instances' highest average CPU (percent of one core) and memory (percent) use in the interval, where a
    /// platform bills instances by the hour and reports them (SageMaker real-time); nil where none was reported.
    public var cpuUtilizationPercent: Double?
    public var memoryUtilizationPercent: Double?

    public init() {}

    public mutating func add(_ other: MetricBucket) {
        requests += other.requests
        errors += other.errors
        coldStarts += other.coldStarts
        warmups += other.warmups
        warmupColdStarts += other.warmupColdStarts
        latency.add(other.latency)
        coldLatency.add(other.coldLatency)
        maxInFlight = max(maxInFlight, other.maxInFlight)
        instances = max(instances, other.instances)
        mbMs += other.mbMs
        costMicros += other.costMicros
        warmupCostMicros += other.warmupCostMicros
        probes += other.probes
        probeErrors += other.probeErrors
        probeColdStarts += other.probeColdStarts
        probeLatency.add(other.probeLatency)
        cpuUtilizationPercent = Self.larger(cpuUtilizationPercent, other.cpuUtilizationPercent)
        memoryUtilizationPercent = Self.larger(memoryUtilizationPercent, other.memoryUtilizationPercent)
    }

    private static func larger(_ a: Double?, _ b: Double?) -> Double? { [a, b].compactMap { $0 }.max() }

    public init(row: Row) throws {
        requests = row["requests"]
        errors = row["errors"]
        coldStarts = row["cold_starts"]
        warmups = row["warmups"]
        warmupColdStarts = row["warmup_cold_starts"]
        if let blob: Data = row["latency_hist"] { latency = try LatencyHistogram(encoded: blob) }
        if let blob: Data = row["cold_latency_hist"] { coldLatency = try LatencyHistogram(encoded: blob) }
        maxInFlight = row["max_in_flight"]
        instances = row["instances"]
        mbMs = row["mb_ms"]
        costMicros = row["cost_micros"]
        warmupCostMicros = row["warmup_cost_micros"]
        probes = row["probes"]
        probeErrors = row["probe_errors"]
        probeColdStarts = row["probe_cold_starts"]
        if let blob: Data = row["probe_latency_hist"] { probeLatency = try LatencyHistogram(encoded: blob) }
        cpuUtilizationPercent = row["cpu_utilization_pct"]
        memoryUtilizationPercent = row["memory_utilization_pct"]
    }

    /// Adds `self` to the stored bucket at `key` (creating it), in the caller's transaction.
    public func merge(into key: Key, _ db: Database) throws {
        var total = self
        if let stored = try Self.fetch(key, db) {
            total = stored
            total.add(self)
        }
        try total.store(at: key, db)
    }

    /// Writes what a platform measured (CloudWatch: `requests`, `errors`, `latency`, `costMicros`) over the
    /// stored bucket at `key`, in the caller's transaction: those fields are replaced, not added, because a
    /// platform revises recent figures and the same interval is collected again. What ModelDeck recorded
    /// itself in that bucket stays: warmups and their cold starts and cost, cold starts, instances, MB·ms.
    /// `maxInFlight` and `instances` keep the larger of the two (maxima, so writing them twice changes nothing);
    /// the instances' CPU and memory use are the platform's alone, and replaced.
    /// `coldStarts` is the platform's too when it counts them (`platformCountsColdStarts`: SageMaker does,
    /// Lambda's metrics do not).
    public func replaceObserved(at key: Key, platformCountsColdStarts: Bool = false, _ db: Database) throws {
        var total = try Self.fetch(key, db) ?? MetricBucket()
        total.requests = requests
        total.errors = errors
        if platformCountsColdStarts { total.coldStarts = coldStarts }
        total.latency = latency
        total.costMicros = costMicros
        total.maxInFlight = max(total.maxInFlight, maxInFlight)
        total.instances = max(total.instances, instances)  // instances billed by the hour (SageMaker real-time)
        total.cpuUtilizationPercent = cpuUtilizationPercent
        total.memoryUtilizationPercent = memoryUtilizationPercent
        try total.store(at: key, db)
    }

    /// The stored bucket at `key`, if any. Its statement is prepared once per connection (`cachedStatement`):
    /// a recorder flush reads one bucket per endpoint version, and preparing `SELECT *` again each time ran
    /// GRDB's authorizer once per column (issue #20's profile of 1,000 merged buckets). `prepared: false`
    /// prepares it at each read, as main did, for the `bucket-writes` benchmark's baseline only.
    public static func fetch(_ key: Key, _ db: Database, prepared: Bool = true) throws -> MetricBucket? {
        let statement = prepared ? try db.cachedStatement(sql: fetchSQL) : try db.makeStatement(sql: fetchSQL)
        return try Row.fetchOne(statement, arguments: [key.endpoint, key.version, key.start, key.width]).map(MetricBucket.init(row:))
    }

    private static let fetchSQL = "SELECT * FROM metric_buckets WHERE endpoint = ? AND version_id = ? AND start = ? AND width_s = ?"

    /// Every stored bucket of `endpoint` (all versions, all widths) that starts in [from, to).
    public static func fetchAll(_ db: Database, endpoint: String, from: Int64, to: Int64) throws -> [MetricBucket] {
        try Row.fetchAll(db, sql: "SELECT * FROM metric_buckets WHERE endpoint = ? AND start >= ? AND start < ?",
                         arguments: [endpoint, from, to]).map(MetricBucket.init(row:))
    }

    /// Writes the bucket at `key`, updating a stored one in place, stamped with the transaction's write
    /// sequence (`BucketWriteSequence`): the one place buckets are written, so the dashboard finds every
    /// bucket changed since its last refresh by `write_seq` alone.
    ///
    /// An upsert (`INSERT … ON CONFLICT DO UPDATE`) rather than `INSERT OR REPLACE`, which deletes the row and
    /// inserts another, rewriting the entries of every index (https://sqlite.org/lang_conflict.html, REPLACE);
    /// an update in place rewrites only the entries of the indexes whose columns change (here `write_seq`'s).
    /// Its statement is prepared once per connection (`cachedStatement`). `replacing` writes it the way main
    /// did (no stamp, `INSERT OR REPLACE`, prepared at each write), for the `bucket-writes` benchmark only.
    func store(at key: Key, _ db: Database, replacing: Bool = false) throws {
        let total = self
        let percentiles = total.latency.milliseconds(atPercentiles: [50, 95, 99])
        var arguments: StatementArguments = [
            key.endpoint, key.version, key.start, key.width, total.requests, total.errors,
            total.coldStarts, total.warmups, total.warmupColdStarts, total.latency.encoded(),
            total.coldLatency.encoded(), percentiles[0], percentiles[1], percentiles[2],
            total.maxInFlight, total.instances, total.mbMs, total.costMicros, total.warmupCostMicros,
            total.probes, total.probeErrors, total.probeColdStarts,
            total.probes > 0 ? total.probeLatency.encoded() : nil,
            total.cpuUtilizationPercent, total.memoryUtilizationPercent]
        if replacing { return try db.execute(sql: Self.replaceSQL, arguments: arguments) }
        arguments += [try BucketWriteSequence.stamp(db)]
        try db.cachedStatement(sql: Self.upsertSQL).execute(arguments: arguments)
    }

    private static let columns = """
        endpoint, version_id, start, width_s, requests, errors, cold_starts, warmups, warmup_cold_starts,
        latency_hist, cold_latency_hist, p50_ms, p95_ms, p99_ms, max_in_flight, instances, mb_ms,
        cost_micros, warmup_cost_micros, probes, probe_errors, probe_cold_starts, probe_latency_hist,
        cpu_utilization_pct, memory_utilization_pct
        """
    private static let values = "?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?"
    private static let replaceSQL = "INSERT OR REPLACE INTO metric_buckets (\(columns)) VALUES (\(values))"
    private static let upsertSQL = """
        INSERT INTO metric_buckets (\(columns), write_seq) VALUES (\(values), ?)
        ON CONFLICT (endpoint, version_id, start, width_s) DO UPDATE SET
            requests = excluded.requests, errors = excluded.errors, cold_starts = excluded.cold_starts,
            warmups = excluded.warmups, warmup_cold_starts = excluded.warmup_cold_starts,
            latency_hist = excluded.latency_hist, cold_latency_hist = excluded.cold_latency_hist,
            p50_ms = excluded.p50_ms, p95_ms = excluded.p95_ms, p99_ms = excluded.p99_ms,
            max_in_flight = excluded.max_in_flight, instances = excluded.instances, mb_ms = excluded.mb_ms,
            cost_micros = excluded.cost_micros, warmup_cost_micros = excluded.warmup_cost_micros,
            probes = excluded.probes, probe_errors = excluded.probe_errors, probe_cold_starts = excluded.probe_cold_starts,
            probe_latency_hist = excluded.probe_latency_hist,
            cpu_utilization_pct = excluded.cpu_utilization_pct, memory_utilization_pct = excluded.memory_utilization_pct,
            write_seq = excluded.write_seq
        """
}

/// The write sequence of `metric_buckets` (migration "2026-11-30 bucket write sequence"): a one-row counter
/// bumped once per transaction that writes buckets, and every bucket that transaction writes stamped with
/// the new value. A reader that saw the counter at `v` finds every bucket written since with `write_seq > v`
/// (an index), which is how the dashboard refreshes without reading its windows again. Deletes are not
/// stamped: only the rollup deletes buckets inside a day, and it writes the coarser bucket holding them in the
/// same transaction (stamped), older than any live window.
///
/// Once per transaction rather than per row: the counter is one row, bumped at the transaction's first
/// bucket; the value is kept for the connection until the transaction ends (GRDB's `afterNextTransaction`).
/// Kept in Swift because SQLite has no transaction identifier to key it by, and a trigger per row is what
/// made `cost_hours` cost a quarter of the write rate.
public enum BucketWriteSequence {
    private static let current = Mutex<[ObjectIdentifier: Int64]>([:])

    /// The transaction's stamp, bumping the counter at its first call in the transaction.
    static func stamp(_ db: Database) throws -> Int64 {
        let connection = ObjectIdentifier(db)
        if let value = current.withLock({ $0[connection] }) { return value }
        let value = try Int64.fetchOne(db, sql: """
            INSERT INTO bucket_write_sequence (id, value) VALUES (1, 1) ON CONFLICT (id) DO UPDATE SET value = value + 1 RETURNING value
            """) ?? 0
        current.withLock { $0[connection] = value }
        let forget: @Sendable (Database) -> Void = { _ in _ = current.withLock { $0.removeValue(forKey: connection) } }
        db.afterNextTransaction(onCommit: forget, onRollback: forget)
        return value
    }

    /// The counter as of `db`'s snapshot: every bucket written so far has `write_seq` at most this.
    static func value(_ db: Database) throws -> Int64 {
        try Int64.fetchOne(db, sql: "SELECT value FROM bucket_write_sequence WHERE id = 1") ?? 0
    }
}

/// Keeps `metric_buckets` small: buckets move to coarser tiers as they age (`MetricTiers`: 10 s → 1 min
/// after an hour, 1 min → 1 h after a day) and go after the retention. Merging is exact (counts add,
/// latency sketches merge bin by bin), so a rollup changes no total.
///
/// The work is cut into steps of at most `batchRows` source rows, each its own transaction when run through
/// `Registry.rollUpMetrics`: a backlog (a daemon that was down for days, or a registry migrated from
/// 1-minute buckets) never holds the write lock for long, and a step that is interrupted loses nothing,
/// because it deletes exactly the rows it merged, in the same transaction.
public enum MetricRollup {
    public static let fineWidth: Int64 = 10
    public static let coarseWidth: Int64 = 60
    /// 10-second buckets are kept this long.
    public static let fineFor: Int64 = 3_600
    public static let defaultRetentionDays = 30
    /// Source rows merged per transaction.
    public static let defaultBatchRows = 2_000

    public struct Progress: Sendable, Equatable {
        public var rolledUp = 0
        public var dropped = 0
        /// Whether nothing more is due.
        public var done = true
    }

    /// Everything due at `now`, in the caller's transaction (tests, small registries). The daemon uses
    /// `Registry.rollUpMetrics`, one bounded transaction per step.
    @discardableResult
    public static func run(_ db: Database, now: Date, retentionDays: Int = defaultRetentionDays) throws -> (rolledUp: Int, dropped: Int) {
        try run(db, now: now, tiers: .standard(retentionDays: retentionDays))
    }

    @discardableResult
    public static func run(_ db: Database, now: Date, tiers: MetricTiers) throws -> (rolledUp: Int, dropped: Int) {
        var total = Progress()
        while true {
            let progress = try step(db, now: now, tiers: tiers, batchRows: defaultBatchRows)
            total.rolledUp += progress.rolledUp
            total.dropped += progress.dropped
            if progress.done { return (total.rolledUp, total.dropped) }
        }
    }

    /// One step: up to `batchRows` rows of the finest rollup that is due (or of the retention's deletes).
    /// Call again until `done`.
    public static func step(_ db: Database, now: Date, tiers: MetricTiers, batchRows: Int) throws -> Progress {
        let plan = tiers.plan(now: Int64(now.timeIntervalSince1970.rounded(.down)))
        let batch = max(1, batchRows)
        for rollup in plan.rollups {
            for width in try widths(db, below: rollup.toWidth) {
                let rows = try Row.fetchAll(db, sql: """
                    SELECT rowid AS row_id, * FROM metric_buckets WHERE width_s = ? AND start < ? ORDER BY start LIMIT ?
                    """, arguments: [width, rollup.before, batch])
                guard !rows.isEmpty else { continue }
                var coarse: [MetricBucket.Key: MetricBucket] = [:]
                for row in rows {
                    let key = MetricBucket.Key(endpoint: row["endpoint"], version: row["version_id"],
                                               start: MetricTiers.floor(row["start"], to: rollup.toWidth), width: rollup.toWidth)
                    coarse[key, default: MetricBucket()].add(try MetricBucket(row: row))
                }
                for (key, bucket) in coarse { try bucket.merge(into: key, db) }
                let ids = rows.map { $0["row_id"] as Int64 }
                try db.execute(sql: "DELETE FROM metric_buckets WHERE rowid IN (\(ids.map { _ in "?" }.joined(separator: ",")))",
                               arguments: StatementArguments(ids))
                return Progress(rolledUp: rows.count, dropped: 0, done: false)
            }
        }
        try db.execute(sql: """
            DELETE FROM metric_buckets WHERE rowid IN (SELECT rowid FROM metric_buckets WHERE start < ? LIMIT ?)
            """, arguments: [plan.dropBefore, batch])
        let dropped = db.changesCount
        return Progress(rolledUp: 0, dropped: dropped, done: dropped < batch)
    }

    /// The bucket widths stored below `limit`, each found through the (width_s, start) index.
    static func widths(_ db: Database, below limit: Int64) throws -> [Int64] {
        var result: [Int64] = []
        var after: Int64 = 0
        while let width = try Int64.fetchOne(db, sql: "SELECT MIN(width_s) FROM metric_buckets WHERE width_s > ? AND width_s < ?",
                                             arguments: [after, limit]) {
            result.append(width)
            after = width
        }
        return result
    }
}

extension Registry {
    /// What the daemon does once a minute: the tiered rollup (`rollUpMetrics`), then a truncating
    /// checkpoint. SQLite's automatic checkpoints run at commits but cannot reset the WAL while a reader
    /// holds a snapshot in it; with a dashboard loading snapshots back to back there always is one, and the
    /// WAL grew by every write (46 MB for a 3.6 MB registry in `modeldeck-bench registry-growth`, 2
    /// endpoints × 2 days). A TRUNCATE checkpoint waits (busy timeout) for the readers of the moment to
    /// finish, while new ones read the main file, then empties the WAL. Returns whether it could.
    @discardableResult
    public func maintain(now: Date, tiers: MetricTiers) throws -> (rolledUp: Int, dropped: Int, walEmptied: Bool) {
        let rollup = try rollUpMetrics(now: now, tiers: tiers)
        return (rollup.rolledUp, rollup.dropped, try checkpoint())
    }

    /// Runs every rollup and deletion due at `now`, one transaction per step of at most `batchRows` rows,
    /// so other writers (the gateway, the CLI) get the lock between steps. Returns the totals and how many
    /// transactions it took.
    @discardableResult
    public func rollUpMetrics(now: Date, tiers: MetricTiers = .standard(), batchRows: Int = MetricRollup.defaultBatchRows)
        throws -> (rolledUp: Int, dropped: Int, transactions: Int) {
        var rolledUp = 0, dropped = 0, transactions = 0
        while true {
            let progress = try write { db in try MetricRollup.step(db, now: now, tiers: tiers, batchRows: batchRows) }
            transactions += 1
            rolledUp += progress.rolledUp
            dropped += progress.dropped
            if progress.done { return (rolledUp, dropped, transactions) }
        }
    }
}
