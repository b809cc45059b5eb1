import Foundation
import HeapModule

/// FaasCache's keep-alive policy, Greedy-Dual (Fuerst and Sharma, "FaasCache: Keeping Serverless Computing
/// Alive with Greedy-Dual Caching", ASPLOS 2021), as a warmer's choice of which endpoints to keep warm.
///
/// FaasCache treats warm instances as a cache of limited memory: each function's priority is
/// `clock + frequency × cost / size` (frequency: its invocations since it entered the cache; cost: its cold
/// start; size: its memory); when room is needed, the lowest priority is evicted, its frequency forgotten,
/// and the clock raised to its priority, so what was used long ago ages out. A warmer cannot evict, but it
/// can stop pinging: here the cache holds at most `capacity` endpoints, one instance each, kept by a ping
/// just before the platform's idle timeout would reclaim it (as adaptive does); an evicted endpoint is no
/// longer pinged.
public struct GreedyDualCache: Sendable {
    public let capacity: Int
    /// The priority of the last eviction.
    public private(set) var clock: Double = 0
    private let costPerSize: Double
    /// Per endpoint index: requests since it entered the cache, and its priority (−1: not cached).
    private var frequency: [Int] = []
    private var priorities: [Double] = []
    public private(set) var count = 0
    /// A member's entry may lag behind its priority (priorities only grow, so it is never above it): it is
    /// brought up to date when it reaches the top.
    private var heap = Heap<Entry>()

    /// Requests so far, and per endpoint index the number of its last one: ties in priority evict the
    /// least recently used, as LRU would.
    private var touches: UInt64 = 0
    private var lastTouch: [UInt64] = []

    /// A heap entry, ordered by priority; equal priorities (endpoints touched as often since the same clock)
    /// by the endpoint's last request, oldest first.
    private struct Entry: Comparable, Sendable {
        var priority: Double
        var order: UInt64
        var endpoint: Int32

        static func == (a: Entry, b: Entry) -> Bool { a.priority == b.priority && a.order == b.order }
        static func < (a: Entry, b: Entry) -> Bool { (a.priority, a.order) < (b.priority, b.order) }
    }

    private mutating func push(_ priority: Double, _ endpoint: Int32) {
        heap.insert(Entry(priority: priority, order: lastTouch[Int(endpoint)], endpoint: endpoint))
    }

    public init(capacity: Int, coldStartMilliseconds: Int64, memoryMB: Int) {
        self.capacity = max(1, capacity)
        costPerSize = Double(max(1, coldStartMilliseconds)) / Double(max(1, memoryMB))
    }

    public func contains(_ endpoint: Int32) -> Bool { priority(of: endpoint) != nil }
    public func priority(of endpoint: Int32) -> Double? {
        Int(endpoint) < priorities.count && priorities[Int(endpoint)] >= 0 ? priorities[Int(endpoint)] : nil
    }

    /// A request for `endpoint`: if it is not cached and the cache is full, the lowest-priority endpoint is
    /// evicted first (and returned), raising the clock; then the request is counted and the endpoint cached
    /// at its new priority.
    public mutating func touch(_ endpoint: Int32) -> Int32? {
        let e = Int(endpoint)
        if e >= priorities.count {
            priorities += Array(repeating: -1, count: e + 1 - priorities.count)
            frequency += Array(repeating: 0, count: e + 1 - frequency.count)
            lastTouch += Array(repeating: 0, count: e + 1 - lastTouch.count)
        }
        var evicted: Int32? = nil
        let admitted = priorities[e] < 0
        if admitted, count >= capacity {
            while let top = heap.popMin() {
                let current = priorities[Int(top.endpoint)]
                if current < 0 { continue }  // left the cache since
                if current != top.priority { push(current, top.endpoint); continue }  // lagging: up to date, back in
                priorities[Int(top.endpoint)] = -1
                frequency[Int(top.endpoint)] = 0
                count -= 1
                clock = top.priority
                evicted = top.endpoint
                break
            }
        }
        frequency[e] += 1
        touches += 1
        lastTouch[e] = touches
        let value = clock + Double(frequency[e]) * costPerSize
        priorities[e] = value
        if admitted {
            count += 1
            push(value, endpoint)
        }
        return evicted
    }
}

/// Replays a trace with the Greedy-Dual warmer on the same simulated target as `KeepWarmSimulator` (one
/// request per instance, the idle timeout, pings billed like requests). Endpoints share the cache, so the
/// trace is replayed in time order across endpoints. A cached endpoint's pings go out as the daemon would
/// send them: at the 1-second tick `idle timeout − 2 s` after its last activity (a request counted from the
/// start of its 10-second bucket, or a ping); a run of pings that each find the instance warm is counted in
/// one step, so the work is bounded by the trace's lines.
public enum GreedyDualSimulator {
    /// The default cache: half the endpoints, rounded up.
    public static func defaultCapacity(endpoints: Int) -> Int { max(1, (endpoints + 1) / 2) }

    /// - Parameter skipping: count runs of steady pings in one step (tests compare with `false`, round by round).
    public static func run(_ trace: Trace, capacity: Int, target: SimulatedTarget, endpoints only: Set<Int32>? = nil,
                           skipping: Bool = true) -> SimulationOutcome {
        var outcome = SimulationOutcome(policy: "greedy-dual ×\(capacity)")
        guard !trace.times.isEmpty else { return outcome }
        let idleTimeout = target.idleTimeoutSeconds * 1_000_000
        let coldStart = target.coldStartMilliseconds * 1_000
        let pingDuration = target.pingMilliseconds * 1_000
        let refresh = max(1, target.idleTimeoutSeconds - KeepWarmPlanner.refreshGuardSeconds) * 1_000_000
        let memoryMB = Int64(target.memoryMB)
        let warmPingBilled = memoryMB * target.rates.billedMilliseconds(microseconds: pingDuration)
        let coldPingBilled = memoryMB * target.rates.billedMilliseconds(microseconds: pingDuration + coldStart)

        let count = trace.endpoints.count
        var pools = Array(repeating: InstancePool(idleTimeout: idleTimeout, coldStart: coldStart), count: count)
        var figures = trace.endpoints.map { EndpointOutcome(endpoint: $0) }
        var pingUsage = Array(repeating: InvocationUsage(), count: count)
        /// For a cached endpoint: its last activity, from which its next ping is planned.
        var anchor = [Int64?](repeating: nil, count: count)
        var cache = GreedyDualCache(capacity: capacity, coldStartMilliseconds: target.coldStartMilliseconds, memoryMB: target.memoryMB)
        var latency = SimulatedLatencies()
        var traffic = InvocationUsage()

        /// Sends endpoint `e`'s pings due before `time`.
        func catchUp(_ e: Int, until time: Int64) {
            guard var last = anchor[e] else { return }
            while true {
                let at = (last + refresh).roundedUp(to: 1_000_000)
                guard at < time else { break }
                let cold = pools[e].acquire(at: at, running: pingDuration, alive: &figures[e].aliveMicroseconds)
                figures[e].pings += 1
                pingUsage[e].requests += 1
                pingUsage[e].billedMBMilliseconds += cold ? coldPingBilled : warmPingBilled
                if cold { figures[e].coldPings += 1 }
                last = at
                // Nothing else running and the ping warm: every later ping before `time` finds it warm too.
                if skipping, !cold, pools[e].busyCount == 1, pools[e].allBusyEnd(at: at + pingDuration), refresh >= pingDuration,
                   refresh < idleTimeout + pingDuration {
                    let more = time - 1 >= at + refresh ? (time - 1 - at) / refresh : 0
                    if more > 0 {
                        figures[e].pings += more
                        pingUsage[e].requests += more
                        pingUsage[e].billedMBMilliseconds += more * warmPingBilled
                        last = at + more * refresh
                        pools[e].moveAllBusy(until: last + pingDuration)
                    }
                    break
                }
            }
            anchor[e] = last
        }

        var end = Int64.min
        for index in 0..<trace.count {
            let e32 = trace.endpointIndices[index]
            if let only, !only.contains(e32) { continue }
            let e = Int(e32), time = trace.times[index], duration = trace.durations[index]
            end = max(end, time + duration)
            catchUp(e, until: time)
            let cold = pools[e].acquire(at: time, running: duration, alive: &figures[e].aliveMicroseconds)
            let waited = duration + (cold ? coldStart : 0)
            figures[e].requests += 1
            figures[e].servingMicroseconds += waited
            if cold { figures[e].coldStarts += 1 }
            latency.record(microseconds: waited)
            traffic.requests += 1
            traffic.billedMBMilliseconds += memoryMB * target.rates.billedMilliseconds(microseconds: waited)
            // As the daemon knows it: from the start of the request's 10-second bucket.
            let bucketStart = time / 10_000_000 * 10_000_000
            anchor[e] = max(anchor[e] ?? bucketStart, bucketStart)
            if let evicted = cache.touch(e32) {
                catchUp(Int(evicted), until: time)
                anchor[Int(evicted)] = nil
            }
        }
        for e in 0..<count where figures[e].requests > 0 {
            catchUp(e, until: end)
            pools[e].finish(at: end, alive: &figures[e].aliveMicroseconds)
            figures[e].pingCostMicros = Money.micros(target.rates.cost(pingUsage[e]))
            outcome.requests += figures[e].requests
            outcome.coldStarts += figures[e].coldStarts
            outcome.pings += figures[e].pings
            outcome.coldPings += figures[e].coldPings
            outcome.warmInstanceSeconds += figures[e].aliveMicroseconds
            outcome.wastedWarmInstanceSeconds += max(0, figures[e].aliveMicroseconds - figures[e].servingMicroseconds)
            outcome.pingCostMicros += figures[e].pingCostMicros
            outcome.endpoints.append(figures[e])
        }
        outcome.warmInstanceSeconds /= 1_000_000
        outcome.wastedWarmInstanceSeconds /= 1_000_000
        outcome.p99Ms = latency.histogram.milliseconds(atPercentile: 99)
        outcome.trafficCostMicros = Money.micros(target.rates.cost(traffic))
        return outcome
    }
}
