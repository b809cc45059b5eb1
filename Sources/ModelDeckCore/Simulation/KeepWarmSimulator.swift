import Foundation

/// The platform a trace is replayed against: how long a start takes, how long an idle instance lives, and
/// what an invocation costs there.
public struct SimulatedTarget: Sendable {
    public var coldStartMilliseconds: Int64
    public var idleTimeoutSeconds: Int64
    /// How long a keep-warm ping runs on a warm instance (the model server answers it cheaply).
    public var pingMilliseconds: Int64
    public var memoryMB: Int
    public var rates: InvocationRates

    public init(coldStartMilliseconds: Int64, idleTimeoutSeconds: Int64, pingMilliseconds: Int64, memoryMB: Int, rates: InvocationRates) {
        self.coldStartMilliseconds = coldStartMilliseconds
        self.idleTimeoutSeconds = idleTimeoutSeconds
        self.pingMilliseconds = pingMilliseconds
        self.memoryMB = memoryMB
        self.rates = rates
    }
}

/// What one keep-warm policy did over a trace.
public struct SimulationOutcome: Codable, Equatable, Sendable {
    public var policy: String
    public var requests: Int64 = 0
    /// User requests that found no warm instance and waited for a start.
    public var coldStarts: Int64 = 0
    /// p99 of what callers waited, cold starts included, in milliseconds.
    public var p99Ms: Double?
    public var pings: Int64 = 0
    /// Pings that found no warm instance and started one.
    public var coldPings: Int64 = 0
    /// Time instances were alive (starting, busy or idle), summed over instances, in whole seconds.
    public var warmInstanceSeconds: Int64 = 0
    public var trafficCostMicros: Int64 = 0
    public var pingCostMicros: Int64 = 0

    public var totalCostMicros: Int64 { trafficCostMicros + pingCostMicros }
    /// Cold starts per million requests.
    public var coldStartPPM: Int64 { requests == 0 ? 0 : coldStarts * 1_000_000 / requests }

    private enum CodingKeys: String, CodingKey {
        case policy, requests, coldStarts, p99Ms, pings, coldPings, warmInstanceSeconds, trafficCostMicros, pingCostMicros
        case totalCostMicros, coldStartRate
    }

    public init(policy: String) { self.policy = policy }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        policy = try c.decode(String.self, forKey: .policy)
        requests = try c.decode(Int64.self, forKey: .requests)
        coldStarts = try c.decode(Int64.self, forKey: .coldStarts)
        p99Ms = try c.decodeIfPresent(Double.self, forKey: .p99Ms)
        pings = try c.decode(Int64.self, forKey: .pings)
        coldPings = try c.decode(Int64.self, forKey: .coldPings)
        warmInstanceSeconds = try c.decode(Int64.self, forKey: .warmInstanceSeconds)
        trafficCostMicros = try c.decode(Int64.self, forKey: .trafficCostMicros)
        pingCostMicros = try c.decode(Int64.self, forKey: .pingCostMicros)
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(policy, forKey: .policy)
        try c.encode(requests, forKey: .requests)
        try c.encode(coldStarts, forKey: .coldStarts)
        try c.encode(Format.percent(ppm: coldStartPPM), forKey: .coldStartRate)
        try c.encodeIfPresent(p99Ms, forKey: .p99Ms)
        try c.encode(pings, forKey: .pings)
        try c.encode(coldPings, forKey: .coldPings)
        try c.encode(warmInstanceSeconds, forKey: .warmInstanceSeconds)
        try c.encode(trafficCostMicros, forKey: .trafficCostMicros)
        try c.encode(pingCostMicros, forKey: .pingCostMicros)
        try c.encode(totalCostMicros, forKey: .totalCostMicros)
    }
}

extension SimulationOutcome {
    /// One plain line on how `self` did against `other`, for cold starts and ping cost, whichever way it went:
    /// `adaptive vs every 5m: fewer cold starts (1 vs 265) at lower ping cost ($0.004872 vs $0.005813)`.
    public func compared(with other: SimulationOutcome) -> String {
        func word(_ mine: Int64, _ theirs: Int64, less: String, more: String) -> String {
            mine < theirs ? less : mine > theirs ? more : "the same"
        }
        let starts = word(coldStarts, other.coldStarts, less: "fewer", more: "more")
        let cost = word(pingCostMicros, other.pingCostMicros, less: "lower", more: "higher")
        return "\(policy) vs \(other.policy): \(starts) cold starts (\(Format.grouped(coldStarts)) vs \(Format.grouped(other.coldStarts))) "
            + "at \(cost) ping cost (\(Format.dollars(micros: pingCostMicros)) vs \(Format.dollars(micros: other.pingCostMicros)); "
            + "\(Format.grouped(pings)) vs \(Format.grouped(other.pings)) pings)"
    }
}

/// Replays a trace against a keep-warm policy on a simulated serverless target, with the daemon's own
/// policy code: `KeepWarmPlanner.decide` (what the daemon's `plan` puts into words) decides every ping, from the same `IdleTimeHistogram` the daemon
/// learns (10-second busy buckets over the last 4 hours) and the same last-invocation and last-ping inputs.
///
/// The target: one request per instance at a time (Lambda); a request takes the most recently idle warm
/// instance, else starts a new one and waits `coldStartMilliseconds`; an instance idle for the idle timeout
/// stops. Pings take warm instances the same way (C pings at once keep C instances warm) and are billed
/// like requests, cold starts included (Lambda bills the init phase). The daemon acts on a due ping at its
/// next 1-second tick.
public enum KeepWarmSimulator {
    public static func run(_ trace: Trace, policy: KeepWarmPolicy, target: SimulatedTarget) -> SimulationOutcome {
        var outcome = SimulationOutcome(policy: policy.summary)
        var latency = LatencyHistogram()
        var traffic = InvocationUsage(), pings = InvocationUsage()
        // Invocations of each endpoint, in time order: endpoints never share instances, so each runs alone.
        var byEndpoint = Array(repeating: [Int](), count: trace.endpoints.count)
        for index in 0..<trace.count { byEndpoint[Int(trace.endpointIndices[index])].append(index) }
        let end = (0..<trace.count).reduce(Int64.min) { max($0, trace.times[$1] + Int64(trace.durations[$1])) }
        for indices in byEndpoint where !indices.isEmpty {
            var endpoint = EndpointReplay(policy: policy, target: target, start: trace.times[0])
            for index in indices {
                endpoint.invoke(at: trace.times[index], durationMilliseconds: Int64(trace.durations[index]),
                                outcome: &outcome, latency: &latency, usage: &traffic, pingUsage: &pings)
            }
            endpoint.finish(at: end, outcome: &outcome, pingUsage: &pings)
        }
        outcome.p99Ms = latency.milliseconds(atPercentile: 99)
        outcome.trafficCostMicros = Money.micros(target.rates.cost(traffic))
        outcome.pingCostMicros = Money.micros(target.rates.cost(pings))
        return outcome
    }
}

/// One endpoint's instances and keep-warm state during a replay. Times in milliseconds since the epoch.
private struct EndpointReplay {
    let policy: KeepWarmPolicy
    let target: SimulatedTarget
    let idleTimeout: Int64
    let coldStartSeconds: Int64

    /// Instances serving something, as (busy until, started at), a min-heap on busy-until.
    var busy = MinHeap()
    /// Idle instances as (idle since, started at), oldest first; requests take the newest.
    var idle: [(since: Int64, started: Int64)] = []
    var idleHead = 0

    var window = IdleTimeWindow(bucketSeconds: 10)
    var lastPing: Int64?
    var plan: KeepWarmDecision?
    /// The daemon's time: it starts with the trace.
    var clock: Int64

    init(policy: KeepWarmPolicy, target: SimulatedTarget, start: Int64) {
        self.policy = policy
        clock = start
        self.target = target
        idleTimeout = target.idleTimeoutSeconds * 1_000
        // As the daemon rounds the measured start time: up to whole seconds, at least one.
        coldStartSeconds = max(1, (target.coldStartMilliseconds + 999) / 1_000)
    }

    mutating func invoke(at time: Int64, durationMilliseconds: Int64, outcome: inout SimulationOutcome, latency: inout LatencyHistogram,
                         usage: inout InvocationUsage, pingUsage: inout InvocationUsage) {
        keepWarm(until: time, outcome: &outcome, pingUsage: &pingUsage)
        clock = max(clock, time)
        let cold = acquire(at: time, running: durationMilliseconds, outcome: &outcome)
        let waited = durationMilliseconds + (cold ? target.coldStartMilliseconds : 0)
        outcome.requests += 1
        if cold { outcome.coldStarts += 1 }
        latency.record(microseconds: UInt64(waited) * 1_000)
        usage.requests += 1
        usage.billedMBMilliseconds += Int64(target.memoryMB) * target.rates.billedMilliseconds(microseconds: waited * 1_000)
        let bucket = time / 10_000 * 10
        if window.lastStart != bucket {
            window.add(busyBucketStart: bucket)
            plan = nil
        }
    }

    mutating func finish(at end: Int64, outcome: inout SimulationOutcome, pingUsage: inout InvocationUsage) {
        keepWarm(until: end, outcome: &outcome, pingUsage: &pingUsage)
        release(until: Int64.max)
        for instance in idle[idleHead...] { outcome.warmInstanceSeconds += alive(instance, until: end) }
    }

    /// Sends every ping the daemon would send before `time`, re-planning as it would at each tick that matters:
    /// after a ping, after a new busy bucket, and when an old idle time leaves the 4-hour window.
    mutating func keepWarm(until time: Int64, outcome: inout SimulationOutcome, pingUsage: inout InvocationUsage) {
        if case .off = policy { return }
        while true {
            if plan == nil { plan = replan(at: clock) }
            let due = plan!.nextPing.map(tick)
            let eviction = window.nextEviction.map { $0 * 1_000 }
            let next = min(due ?? .max, eviction ?? .max)
            guard next < time else { return }
            let now = max(next, clock)
            clock = now
            if window.advance(toSecond: now / 1_000) {
                plan = replan(at: now)
                guard let again = plan!.nextPing, tick(again) <= now else { continue }
            } else if due.map({ $0 > now }) ?? true {
                continue
            }
            ping(at: now, count: plan!.concurrency, outcome: &outcome, usage: &pingUsage)
            lastPing = now
            plan = nil
        }
    }

    /// The daemon's first 1-second tick at or after `date`, in milliseconds.
    func tick(_ date: Date) -> Int64 { Int64((date.timeIntervalSince1970 * 1_000).rounded()).roundedUp(to: 1_000) }

    func replan(at now: Int64) -> KeepWarmDecision {
        func date(_ ms: Int64) -> Date { Date(timeIntervalSince1970: TimeInterval(ms) / 1_000) }
        // As the daemon reads it: the end of the latest busy bucket of the last 4 hours, the latest a request in it can have come.
        let lastInvocation = window.lastStart.map { date(($0 + window.bucketSeconds) * 1_000) }
        return KeepWarmPlanner.decide(policy: policy, now: date(now), lastInvocation: lastInvocation,
                                    lastPing: lastPing.map(date), idleTimeoutSeconds: target.idleTimeoutSeconds,
                                    coldStartSeconds: coldStartSeconds, histogram: window.histogram)
    }

    mutating func ping(at time: Int64, count: Int, outcome: inout SimulationOutcome, usage: inout InvocationUsage) {
        for _ in 0..<count {
            let cold = acquire(at: time, running: target.pingMilliseconds, outcome: &outcome)
            let ran = target.pingMilliseconds + (cold ? target.coldStartMilliseconds : 0)
            outcome.pings += 1
            if cold { outcome.coldPings += 1 }
            usage.requests += 1
            usage.billedMBMilliseconds += Int64(target.memoryMB) * target.rates.billedMilliseconds(microseconds: ran * 1_000)
        }
    }

    /// Takes a warm instance or starts one; returns whether it was a cold start.
    mutating func acquire(at time: Int64, running duration: Int64, outcome: inout SimulationOutcome) -> Bool {
        release(until: time)
        // Instances idle for the whole timeout have stopped.
        while idleHead < idle.count, idle[idleHead].since + idleTimeout <= time {
            outcome.warmInstanceSeconds += alive(idle[idleHead], until: .max)
            idleHead += 1
        }
        if idleHead > 4_096 && idleHead * 2 > idle.count {
            idle.removeFirst(idleHead)
            idleHead = 0
        }
        if idleHead < idle.count {
            let instance = idle.removeLast()
            busy.push(until: time + duration, started: instance.started)
            return false
        }
        busy.push(until: time + target.coldStartMilliseconds + duration, started: time)
        return true
    }

    /// Instances whose work ended by `time` become idle (in order, so `idle` stays sorted).
    mutating func release(until time: Int64) {
        while let top = busy.min, top.until <= time {
            busy.pop()
            idle.append((top.until, top.started))
        }
    }

    /// Milliseconds → whole seconds an idle instance was alive, from its start until it stopped or `end`.
    func alive(_ instance: (since: Int64, started: Int64), until end: Int64) -> Int64 {
        (min(instance.since + idleTimeout, end) - instance.started) / 1_000
    }
}

extension Int64 {
    func roundedUp(to step: Int64) -> Int64 { (self + step - 1) / step * step }
}

/// A binary min-heap of (busy until, started at) on busy-until.
private struct MinHeap {
    private var items: [(until: Int64, started: Int64)] = []

    var min: (until: Int64, started: Int64)? { items.first }

    mutating func push(until: Int64, started: Int64) {
        items.append((until, started))
        var child = items.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard items[child].until < items[parent].until else { break }
            items.swapAt(child, parent)
            child = parent
        }
    }

    mutating func pop() {
        let last = items.removeLast()
        guard !items.isEmpty else { return }
        items[0] = last
        var parent = 0
        while true {
            let left = parent * 2 + 1, right = left + 1
            var smallest = parent
            if left < items.count && items[left].until < items[smallest].until { smallest = left }
            if right < items.count && items[right].until < items[smallest].until { smallest = right }
            if smallest == parent { return }
            items.swapAt(parent, smallest)
            parent = smallest
        }
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
