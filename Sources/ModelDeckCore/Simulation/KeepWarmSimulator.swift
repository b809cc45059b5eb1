import Foundation
import HeapModule

/// The platform a trace is replayed against: how long a start takes, how long an idle instance lives, and
/// what an invocation costs there.
public struct SimulatedTarget: Sendable {
    public var coldStartMilliseconds: Int64
    public var idleTimeoutSeconds: Int64
    /// How long a keep-warm ping runs on a warm instance (the model server answers it cheaply).
    public var pingMilliseconds: Int64
    public var memoryMB: Int
    public var rates: InvocationRates
    /// Provisioned-concurrency prices where the platform has them (Lambda), for `ProvisionedSimulator`.
    public var provisionedRates: ProvisionedRates? = nil

    public init(coldStartMilliseconds: Int64, idleTimeoutSeconds: Int64, pingMilliseconds: Int64, memoryMB: Int, rates: InvocationRates) {
        self.coldStartMilliseconds = coldStartMilliseconds
        self.idleTimeoutSeconds = idleTimeoutSeconds
        self.pingMilliseconds = pingMilliseconds
        self.memoryMB = memoryMB
        self.rates = rates
    }
}

/// Replays a trace against a keep-warm policy on a simulated serverless target, with the daemon's own
/// policy code: `KeepWarmPlanner.decide` (what the daemon's `plan` puts into words) decides every ping, from
/// the same `IdleTimeHistogram` the daemon learns (10-second busy buckets over the last 4 hours), the same
/// last-invocation and last-ping inputs, and the same recent concurrency (the peak of user requests in
/// flight in the hour before the last one, from the buckets' `max_in_flight`).
///
/// The target: one request per instance at a time (Lambda); a request takes the most recently idle warm
/// instance, else starts a new one and waits `coldStartMilliseconds`; an instance idle for the idle timeout
/// stops. Pings take warm instances the same way (C pings at once keep C instances warm) and are billed
/// like requests, cold starts included (Lambda bills the init phase). The daemon acts on a due ping at its
/// next 1-second tick. Times are kept to the microsecond, as traces give them.
///
/// Work is bounded by the trace's lines, whatever its span: a run of pings that each find their instances
/// warm with nothing else happening (a fixed warmer over a long quiet gap) is counted in one step
/// (`KeepWarmDecision.Repeat`).
public enum KeepWarmSimulator {
    /// - Parameter skipping: count runs of steady pings in one step (tests compare with `false`, round by round).
    public static func run(_ trace: Trace, policy: KeepWarmPolicy, target: SimulatedTarget, endpoints only: Set<Int32>? = nil,
                           skipping: Bool = true) -> SimulationOutcome {
        run(CallsByEndpoint(trace, only: only), policy: policy, target: target, skipping: skipping)
    }

    /// The same on a trace already grouped by endpoint (shared by several policies).
    public static func run(_ grouped: CallsByEndpoint, policy: KeepWarmPolicy, target: SimulatedTarget, skipping: Bool = true) -> SimulationOutcome {
        var outcome = SimulationOutcome(policy: policy.summary)
        var latency = SimulatedLatencies()
        var traffic = InvocationUsage()
        var pingTotal: Int64 = 0
        let (offsets, calls, end) = (grouped.offsets, grouped.calls, grouped.end)
        let endpointCount = grouped.endpoints.count
        guard let start = grouped.start, offsets[endpointCount] > 0 else { return outcome }
        for endpointIndex in 0..<endpointCount where offsets[endpointIndex + 1] > offsets[endpointIndex] {
            var endpoint = EndpointReplay(policy: policy, target: target, start: start, skipping: skipping)
            var figures = EndpointOutcome(endpoint: grouped.endpoints[endpointIndex])
            var pings = InvocationUsage()
            calls.withUnsafeBufferPointer { calls in
                for call in calls[offsets[endpointIndex]..<offsets[endpointIndex + 1]] {
                    endpoint.invoke(at: call.time, duration: call.duration, figures: &figures, latency: &latency, usage: &traffic, pingUsage: &pings)
                }
            }
            endpoint.finish(at: end, figures: &figures, pingUsage: &pings)
            figures.pingCostMicros = Money.micros(target.rates.cost(pings))
            outcome.requests += figures.requests
            outcome.coldStarts += figures.coldStarts
            outcome.pings += figures.pings
            outcome.coldPings += figures.coldPings
            outcome.warmInstanceSeconds += figures.aliveMicroseconds
            outcome.wastedWarmInstanceSeconds += max(0, figures.aliveMicroseconds - figures.servingMicroseconds)
            pingTotal += figures.pingCostMicros
            outcome.endpoints.append(figures)
        }
        outcome.warmInstanceSeconds /= 1_000_000
        outcome.wastedWarmInstanceSeconds /= 1_000_000
        outcome.p99Ms = latency.histogram.milliseconds(atPercentile: 99)
        outcome.trafficCostMicros = Money.micros(target.rates.cost(traffic))
        outcome.pingCostMicros = pingTotal
        return outcome
    }
}

/// One endpoint's instances and keep-warm state during a replay. Times in microseconds since the epoch.
private struct EndpointReplay {
    let policy: KeepWarmPolicy
    let target: SimulatedTarget
    let idleTimeout: Int64
    let coldStart: Int64
    let pingDuration: Int64
    let coldStartSeconds: Int64
    /// Only the adaptive policy learns from traffic.
    let learns: Bool
    let memoryMB: Int64
    let warmPingBilled: Int64
    let coldPingBilled: Int64
    let skipping: Bool

    var pool: InstancePool

    var window = IdleTimeWindow(bucketSeconds: 10)
    /// Ends of the user requests in flight, to measure concurrency as the gateway does.
    var inFlight = Heap<Int64>()
    var concurrency = ConcurrencyWindow()
    var lastPing: Int64?
    var plan: KeepWarmDecision?
    /// The daemon's time: it starts with the trace.
    var clock: Int64

    init(policy: KeepWarmPolicy, target: SimulatedTarget, start: Int64, skipping: Bool) {
        self.policy = policy
        self.skipping = skipping
        clock = start
        self.target = target
        idleTimeout = target.idleTimeoutSeconds * 1_000_000
        coldStart = target.coldStartMilliseconds * 1_000
        pool = InstancePool(idleTimeout: idleTimeout, coldStart: coldStart)
        pingDuration = target.pingMilliseconds * 1_000
        // As the daemon rounds the measured start time: up to whole seconds, at least one.
        coldStartSeconds = max(1, (target.coldStartMilliseconds + 999) / 1_000)
        learns = policy == .adaptive
        memoryMB = Int64(target.memoryMB)
        warmPingBilled = memoryMB * target.rates.billedMilliseconds(microseconds: pingDuration)
        coldPingBilled = memoryMB * target.rates.billedMilliseconds(microseconds: pingDuration + coldStart)
    }

    mutating func invoke(at time: Int64, duration: Int64, figures: inout EndpointOutcome, latency: inout SimulatedLatencies,
                         usage: inout InvocationUsage, pingUsage: inout InvocationUsage) {
        keepWarm(until: time, figures: &figures, pingUsage: &pingUsage)
        clock = max(clock, time)
        let cold = pool.acquire(at: time, running: duration, alive: &figures.aliveMicroseconds)
        let waited = duration + (cold ? coldStart : 0)
        figures.requests += 1
        figures.servingMicroseconds += waited
        if cold { figures.coldStarts += 1 }
        latency.record(microseconds: waited)
        usage.requests += 1
        usage.billedMBMilliseconds += memoryMB * target.rates.billedMilliseconds(microseconds: waited)
        guard learns else { return }
        let second = time / 1_000_000
        let bucket = second / 10 * 10
        // In flight as the gateway counts it: this request and those it finds running.
        while let end = inFlight.min, end <= time { inFlight.removeMin() }
        inFlight.insert(time + duration)
        if concurrency.record(inFlight: inFlight.count, bucket: bucket, window: KeepWarmPlanner.concurrencyWindowSeconds) { plan = nil }
        if window.lastStart != bucket {
            window.add(busyBucketStart: bucket)
            plan = nil
        }
    }

    mutating func finish(at end: Int64, figures: inout EndpointOutcome, pingUsage: inout InvocationUsage) {
        keepWarm(until: end, figures: &figures, pingUsage: &pingUsage)
        pool.finish(at: end, alive: &figures.aliveMicroseconds)
    }

    /// Sends every ping the daemon would send before `time`, re-planning as it would at each tick that matters:
    /// after a ping, after a new busy bucket, and when an old idle time leaves the 4-hour window.
    mutating func keepWarm(until time: Int64, figures: inout EndpointOutcome, pingUsage: inout InvocationUsage) {
        if case .off = policy { return }
        while true {
            if plan == nil { plan = replan(at: clock) }
            let due = plan!.nextPing.map(tick)
            let eviction = learns ? window.nextEviction.map { $0 * 1_000_000 } : nil
            let next = min(due ?? .max, eviction ?? .max)
            guard next < time else { return }
            let now = max(next, clock)
            clock = now
            if learns, window.advance(toSecond: now / 1_000_000) {
                plan = replan(at: now)
                guard let again = plan!.nextPing, tick(again) <= now else { continue }
            } else if due.map({ $0 > now }) ?? true {
                continue
            }
            let count = plan!.concurrency
            let coldBefore = figures.coldPings
            ping(at: now, count: count, figures: &figures, usage: &pingUsage)
            lastPing = now
            plan = replan(at: now)
            if skipping, figures.coldPings == coldBefore { skipSteadyPings(after: now, count: count, until: time, figures: &figures, usage: &pingUsage) }
        }
    }

    /// After a round of `count` warm pings at `now`, with nothing else running, the rounds the plan repeats
    /// (`KeepWarmDecision.Repeat`) before `time` find the same instances warm and change nothing but the
    /// clock: count them at once. Exactly what the loop would do, round by round.
    mutating func skipSteadyPings(after now: Int64, count: Int, until time: Int64, figures: inout EndpointOutcome,
                                  usage: inout InvocationUsage) {
        guard let plan, let repeats = plan.repeats, plan.concurrency == count, let first = plan.nextPing.map(tick),
              pool.busyCount == count, pool.allBusyEnd(at: now + pingDuration) else { return }
        let every = repeats.everySeconds * 1_000_000
        // Each round must find the last one's instances idle and not yet reclaimed.
        guard every >= pingDuration, every < idleTimeout + pingDuration,
              first - now >= pingDuration, first - now < idleTimeout + pingDuration else { return }
        var limit = time  // exclusive: rounds strictly before
        if learns, let eviction = window.nextEviction { limit = min(limit, eviction * 1_000_000) }
        // Round j (at first + j·every) is planned at the round before it (now, for j = 0).
        var rounds = limit > first ? (limit - 1 - first) / every + 1 : 0
        if let lastDue = repeats.lastDue.map(microseconds) {
            // The plan's own times (before the tick) must not pass lastDue.
            let planned = plan.nextPing.map(microseconds)!
            rounds = min(rounds, planned > lastDue ? 0 : (lastDue - planned) / every + 1)
        }
        if let plannedBefore = repeats.plannedBefore.map(microseconds), rounds > 1 {
            // Round j ≥ 1 is planned at round j − 1's time, which must come before plannedBefore.
            rounds = min(rounds, plannedBefore > first ? (plannedBefore - 1 - first) / every + 2 : 1)
        }
        guard rounds > 0 else { return }
        let last = first + (rounds - 1) * every
        let pings = rounds * Int64(count)
        figures.pings += pings
        usage.requests += pings
        usage.billedMBMilliseconds += pings * warmPingBilled
        pool.moveAllBusy(until: last + pingDuration)
        lastPing = last
        clock = last
        self.plan = replan(at: last)
    }

    /// The daemon's first 1-second tick at or after `date`, in microseconds.
    func tick(_ date: Date) -> Int64 { microseconds(date).roundedUp(to: 1_000_000) }

    func microseconds(_ date: Date) -> Int64 { Int64((date.timeIntervalSince1970 * 1_000_000).rounded()) }

    mutating func replan(at now: Int64) -> KeepWarmDecision {
        if learns { window.cacheWindows() }
        func date(_ us: Int64) -> Date { Date(timeIntervalSince1970: TimeInterval(us) / 1_000_000) }
        // As the daemon reads it: the end of the latest busy bucket of the last 4 hours, the latest a request in it can have come.
        let lastInvocation = window.lastStart.map { date(($0 + window.bucketSeconds) * 1_000_000) }
        return KeepWarmPlanner.decide(policy: policy, now: date(now), lastInvocation: lastInvocation,
                                      lastPing: lastPing.map(date), idleTimeoutSeconds: target.idleTimeoutSeconds,
                                      coldStartSeconds: coldStartSeconds, histogram: window.histogram,
                                      recentConcurrency: concurrency.peak)
    }

    mutating func ping(at time: Int64, count: Int, figures: inout EndpointOutcome, usage: inout InvocationUsage) {
        for _ in 0..<count {
            let cold = pool.acquire(at: time, running: pingDuration, alive: &figures.aliveMicroseconds)
            figures.pings += 1
            if cold { figures.coldPings += 1 }
            usage.requests += 1
            usage.billedMBMilliseconds += cold ? coldPingBilled : warmPingBilled
        }
    }

}

/// The peak of user requests in flight over the last `window` seconds of busy buckets, as the daemon reads
/// it from the buckets' `max_in_flight`: a monotonic queue of (bucket, peak), so the peak is its head.
struct ConcurrencyWindow {
    private var buckets: [(start: Int64, peak: Int)] = []
    private var head = 0

    var peak: Int { head < buckets.count ? buckets[head].peak : 1 }

    /// Records `inFlight` in the bucket starting at `bucket`; returns whether the peak changed.
    mutating func record(inFlight: Int, bucket: Int64, window: Int64) -> Bool {
        let before = peak
        while head < buckets.count, buckets[head].start < bucket - window { head += 1 }
        while buckets.count > head, buckets[buckets.count - 1].peak <= inFlight { buckets.removeLast() }
        buckets.append((bucket, inFlight))
        if head > 1_024 && head * 2 > buckets.count {
            buckets.removeFirst(head)
            head = 0
        }
        return peak != before
    }
}

extension SimulatedTarget {
    /// What a registry endpoint runs like: its memory and idle timeout, its target's prices (nil when the
    /// target is not priced), and the longest cold start measured on its instances (nil when none was).
    public struct EndpointSettings: Sendable {
        public var memoryMB: Int
        public var idleTimeoutSeconds: Int64
        public var rates: InvocationRates?
        public var target: Target
        public var coldStartMilliseconds: Int64?
    }
}
