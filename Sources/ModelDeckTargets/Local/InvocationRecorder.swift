import Foundation
import ModelDeckCore
import Synchronization

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
    /// A probe of an endpoint someone else runs (http): counted apart from user traffic and pings; its cost is
    /// counted with the pings' (requests ModelDeck sends itself).
    public var probe: Bool
    public var inFlight: Int
    public var memoryMB: Int
    /// Prices of the endpoint's target; nil when its invocations cost nothing.
    public var rates: InvocationRates?

    public init(endpoint: String, version: String, at: Date, latencyMicroseconds: UInt64, status: Int, coldStart: Bool,
                warmup: Bool, probe: Bool = false, inFlight: Int, memoryMB: Int, rates: InvocationRates? = nil) {
        self.endpoint = endpoint
        self.version = version
        self.at = at
        self.latencyMicroseconds = latencyMicroseconds
        self.status = status
        self.coldStart = coldStart
        self.warmup = warmup
        self.probe = probe
        self.inFlight = inFlight
        self.memoryMB = memoryMB
        self.rates = rates
    }

    /// Exact cost of this invocation: what the caller waited (a cold start included, as Lambda bills the
    /// init phase), rounded up to the platform's billing granularity, on the endpoint's memory.
    public var cost: Decimal {
        guard let rates else { return 0 }
        return rates.cost(rates.usage(ofOneRunning: Int64(clamping: latencyMicroseconds), memoryMB: memoryMB))
    }

    /// Server-side failures count as errors (5xx, including the gateway's own 502 and 503); 4xx are the caller's.
    public var isError: Bool { status >= 500 }
}

/// Aggregates invocations into 10-second metric buckets per endpoint and version, and writes them to the
/// registry in one batched transaction per flush, merged with what is already there (so a restart or a
/// second writer adds to a bucket instead of overwriting it).
///
/// Costs are summed exactly (`Decimal`) and stored as whole micro-dollars per flush; the fraction left
/// over is carried to the next flush of the same endpoint and version. One Lambda request costs about
/// 0.2 µ$, so rounding each invocation (or each flush) would lose most of the bill; carried, the stored
/// total never trails the exact one by a micro-dollar or more.
///
/// Recording takes a lock for a few dictionary updates and never waits on SQLite: a request's answer does not
/// wait for the registry. Flushing takes the batch out under the lock and writes it outside.
public final class InvocationRecorder: Sendable {
    public static let bucketSeconds: Int64 = 10

    private let state = Mutex(Pending())
    /// Signalled by the first invocation recorded after a flush: the gateway's housekeeping sleeps until there
    /// is something to flush.
    private let wake: WakeSignal?

    public init(wake: WakeSignal? = nil) {
        self.wake = wake
    }

    public func record(_ invocation: Invocation) {
        let first = state.withLock { state in
            defer { state.record(invocation) }
            return state.pending.isEmpty
        }
        if first { wake?.signal() }
    }

    /// Buckets waiting for the next flush: one per endpoint, version and 10 seconds, however many requests.
    public var pendingBuckets: Int { state.withLock { $0.pending.count } }

    /// Writes everything recorded since the last flush, plus the live instance table of `endpoints`, in one
    /// transaction. Only instance rows that changed are written (`updated_at` is when a row last changed):
    /// a thousand idle instances cost nothing, and a flush with nothing new writes nothing. A failed write
    /// keeps the counts for the next flush rather than lose them.
    public func flush(to registry: Registry, instances: [LocalRuntime.InstanceSnapshot], endpoints: Set<String>) throws {
        let (batch, previous) = state.withLock { state in (state.takePriced(), state.written) }
        var current: [String: LocalRuntime.InstanceSnapshot] = [:]
        for instance in instances where endpoints.contains(instance.endpoint) { current[instance.id] = instance }
        let changed = current.values.filter { previous?[$0.id] != $0 }
        let gone = previous.map { $0.keys.filter { current[$0] == nil } } ?? []
        guard !batch.isEmpty || previous == nil || !changed.isEmpty || !gone.isEmpty else { return }
        state.withLock { $0.written = nil }
        let now = Date()
        do {
            try registry.recordGatewayFlush(buckets: batch, changed: changed.map { $0.record(now: now) }, gone: Array(gone),
                                            replacing: previous == nil ? endpoints : [])
            state.withLock { $0.written = current }
        } catch {
            state.withLock { state in
                for (key, delta) in batch { state.pending[key, default: MetricBucket()].add(delta) }
            }
            throw error
        }
    }
}

extension LocalRuntime.InstanceSnapshot {
    func record(now: Date) -> InstanceRecord {
        InstanceRecord(id: id, endpoint: endpoint, versionId: version, state: state, inFlight: inFlight, maxConcurrency: maxConcurrency,
                       pid: pid, address: port > 0 ? "127.0.0.1:\(port)" : nil, coldStartMs: coldStartMilliseconds, startedAt: startedAt,
                       lastUsedAt: lastUsedAt, updatedAt: now)
    }
}

/// What a recorder holds between flushes.
private struct Pending: Sendable {
    var pending: [MetricBucket.Key: MetricBucket] = [:]
    var pendingCost: [MetricBucket.Key: (traffic: Decimal, warmup: Decimal)] = [:]
    private struct Series: Hashable { var endpoint: String; var version: String }
    private var carried: [Series: (traffic: Decimal, warmup: Decimal)] = [:]

    mutating func record(_ invocation: Invocation) {
        let start = Int64(invocation.at.timeIntervalSince1970) / InvocationRecorder.bucketSeconds * InvocationRecorder.bucketSeconds
        let key = MetricBucket.Key(endpoint: invocation.endpoint, version: invocation.version, start: start, width: InvocationRecorder.bucketSeconds)
        // In place: a copy out of the dictionary and back would copy the bucket's histograms at every request.
        Self.add(invocation, to: &pending[key, default: MetricBucket()])
        if invocation.rates != nil {
            var cost = pendingCost[key] ?? (0, 0)
            if invocation.warmup || invocation.probe { cost.warmup += invocation.cost } else { cost.traffic += invocation.cost }
            pendingCost[key] = cost
        }
    }

    private static func add(_ invocation: Invocation, to delta: inout MetricBucket) {
        if invocation.probe {
            delta.probes += 1
            if HTTPProbe.failed(status: invocation.status) { delta.probeErrors += 1 }
            if invocation.coldStart { delta.probeColdStarts += 1 }
            delta.probeLatency.record(microseconds: invocation.latencyMicroseconds)
        } else if invocation.warmup {
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
    }

    /// Moves the exact costs into whole micro-dollars on the batch, carrying each series' remainder.
    mutating func takePriced() -> [MetricBucket.Key: MetricBucket] {
        var batch = pending
        pending = [:]
        for (key, cost) in pendingCost.sorted(by: { $0.key.start < $1.key.start }) {
            let series = Series(endpoint: key.endpoint, version: key.version)
            let carry = carried[series] ?? (0, 0)
            let traffic = Self.wholeMicros(cost.traffic + carry.traffic), warmup = Self.wholeMicros(cost.warmup + carry.warmup)
            batch[key, default: MetricBucket()].costMicros += traffic.micros
            batch[key, default: MetricBucket()].warmupCostMicros += warmup.micros
            carried[series] = (traffic.rest, warmup.rest)
        }
        pendingCost = [:]
        return batch
    }

    /// Whole micro-dollars (rounded down) of `dollars`, and the dollars left over.
    static func wholeMicros(_ dollars: Decimal) -> (micros: Int64, rest: Decimal) {
        var scaled = dollars * 1_000_000
        var whole = Decimal()
        NSDecimalRound(&whole, &scaled, 0, .down)
        return (NSDecimalNumber(decimal: whole).int64Value, (scaled - whole) / 1_000_000)
    }

    /// The instance rows as this recorder last wrote them, by id; nil before the first flush (and after a
    /// failed one), when every row of the served endpoints is replaced.
    var written: [String: LocalRuntime.InstanceSnapshot]?
}
