import Foundation
import GRDB
import ModelDeckCore

/// One invocation as the gateway saw it.
public struct Invocation: Sendable {
    public var endpoint: String
    public var version: String
    public var at: Date
    /// From arrival at the gateway to the last byte of the answer: queueing and cold start included,
    /// because that is what the caller waited.
    public var latencyMicroseconds: UInt64
    public var status: Int
    public var coldStart: Bool
    /// A keep-warm ping (`X-ModelDeck-Warmup: 1`): counted apart, never in user latency, errors or SLOs.
    public var warmup: Bool
    public var inFlight: Int
    public var memoryMB: Int

    public init(endpoint: String, version: String, at: Date, latencyMicroseconds: UInt64, status: Int, coldStart: Bool,
                warmup: Bool, inFlight: Int, memoryMB: Int) {
        self.endpoint = endpoint
        self.version = version
        self.at = at
        self.latencyMicroseconds = latencyMicroseconds
        self.status = status
        self.coldStart = coldStart
        self.warmup = warmup
        self.inFlight = inFlight
        self.memoryMB = memoryMB
    }

    /// Server-side failures count as errors (5xx, including the gateway's own 502 and 503); 4xx are the caller's.
    public var isError: Bool { status >= 500 }
}

/// Aggregates invocations into 10-second metric buckets per endpoint and version, and writes them to the
/// registry in one batched transaction per flush, merged with what is already there (so a restart or a
/// second writer adds to a bucket instead of overwriting it).
public actor InvocationRecorder {
    public static let bucketSeconds: Int64 = 10

    struct BucketKey: Hashable {
        let endpoint: String
        let version: String
        let start: Int64
    }

    struct Delta {
        var requests: Int64 = 0
        var errors: Int64 = 0
        var coldStarts: Int64 = 0
        var warmups: Int64 = 0
        var warmupColdStarts: Int64 = 0
        var latency = LatencyHistogram()
        var coldLatency = LatencyHistogram()
        var maxInFlight: Int64 = 0
        var mbMs: Int64 = 0
    }

    private var pending: [BucketKey: Delta] = [:]

    public init() {}

    public func record(_ invocation: Invocation) {
        let start = Int64(invocation.at.timeIntervalSince1970) / Self.bucketSeconds * Self.bucketSeconds
        let key = BucketKey(endpoint: invocation.endpoint, version: invocation.version, start: start)
        var delta = pending[key] ?? Delta()
        if invocation.warmup {
            delta.warmups += 1
            if invocation.coldStart { delta.warmupColdStarts += 1 }
        } else {
            delta.requests += 1
            if invocation.isError { delta.errors += 1 }
            if invocation.coldStart {
                delta.coldStarts += 1
                delta.coldLatency.record(microseconds: invocation.latencyMicroseconds)
            }
            delta.latency.record(microseconds: invocation.latencyMicroseconds)
        }
        delta.maxInFlight = max(delta.maxInFlight, Int64(invocation.inFlight))
        delta.mbMs += Int64(invocation.memoryMB) * Int64(invocation.latencyMicroseconds / 1_000)
        pending[key] = delta
    }

    /// Writes everything recorded since the last flush, plus the live instance table of `endpoints`,
    /// in one transaction.
    public func flush(to registry: Registry, instances: [LocalRuntime.InstanceSnapshot], endpoints: Set<String>) throws {
        let batch = pending
        pending = [:]
        do {
            try registry.write { db in
                for (key, delta) in batch { try Self.merge(delta, into: key, db) }
                try Self.replaceInstances(instances, of: endpoints, db)
            }
        } catch {
            // Keep the counts for the next flush rather than lose them.
            for (key, delta) in batch { pending[key] = Self.combine(pending[key], delta) }
            throw error
        }
    }

    private static func combine(_ a: Delta?, _ b: Delta) -> Delta {
        guard var a else { return b }
        a.requests += b.requests
        a.errors += b.errors
        a.coldStarts += b.coldStarts
        a.warmups += b.warmups
        a.warmupColdStarts += b.warmupColdStarts
        a.latency.add(b.latency)
        a.coldLatency.add(b.coldLatency)
        a.maxInFlight = max(a.maxInFlight, b.maxInFlight)
        a.mbMs += b.mbMs
        return a
    }

    private static func merge(_ delta: Delta, into key: BucketKey, _ db: Database) throws {
        var total = delta
        if let row = try Row.fetchOne(db, sql: """
            SELECT * FROM metric_buckets WHERE endpoint = ? AND version_id = ? AND start = ? AND width_s = ?
            """, arguments: [key.endpoint, key.version, key.start, bucketSeconds]) {
            var existing = Delta(requests: row["requests"], errors: row["errors"], coldStarts: row["cold_starts"],
                                 warmups: row["warmups"], warmupColdStarts: row["warmup_cold_starts"],
                                 maxInFlight: row["max_in_flight"], mbMs: row["mb_ms"])
            if let blob: Data = row["latency_hist"] { existing.latency = try LatencyHistogram(encoded: blob) }
            if let blob: Data = row["cold_latency_hist"] { existing.coldLatency = try LatencyHistogram(encoded: blob) }
            total = combine(existing, delta)
        }
        try db.execute(sql: """
            INSERT OR REPLACE INTO metric_buckets
                (endpoint, version_id, start, width_s, requests, errors, cold_starts, warmups, warmup_cold_starts,
                 latency_hist, cold_latency_hist, p50_ms, p95_ms, p99_ms, max_in_flight, mb_ms)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, arguments: [key.endpoint, key.version, key.start, bucketSeconds, total.requests, total.errors,
                             total.coldStarts, total.warmups, total.warmupColdStarts, total.latency.encoded(),
                             total.coldLatency.encoded(), total.latency.milliseconds(atPercentile: 50),
                             total.latency.milliseconds(atPercentile: 95), total.latency.milliseconds(atPercentile: 99),
                             total.maxInFlight, total.mbMs])
    }

    private static func replaceInstances(_ instances: [LocalRuntime.InstanceSnapshot], of endpoints: Set<String>, _ db: Database) throws {
        let now = Date()
        for endpoint in endpoints {
            try db.execute(sql: "DELETE FROM instances WHERE endpoint = ?", arguments: [endpoint])
        }
        for instance in instances where endpoints.contains(instance.endpoint) {
            try db.execute(sql: """
                INSERT INTO instances (id, endpoint, version_id, state, in_flight, max_concurrency, pid, address,
                                       cold_start_ms, started_at, last_used_at, updated_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, arguments: [instance.id, instance.endpoint, instance.version, instance.state.rawValue, instance.inFlight,
                                 instance.maxConcurrency, instance.pid, "127.0.0.1:\(instance.port)",
                                 instance.coldStartMilliseconds, instance.startedAt, instance.lastUsedAt, now])
        }
    }
}
