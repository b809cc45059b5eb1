import Foundation

/// An endpoint's idle times (gaps between invocations) in 1-minute bins over 4 hours, as the hybrid
/// histogram policy of "Serverless in the Wild" (Shahrad et al., USENIX ATC 2020) keeps them.
public struct IdleTimeHistogram: Equatable, Sendable {
    public static let binCount = 240
    /// Fewer idle times than this predict nothing yet.
    public static let minimumIdleTimes = 10
    /// Count of idle times per whole minute, 0..<240.
    public private(set) var bins: [Int]
    /// Idle times of 4 hours or more.
    public private(set) var outOfBounds: Int
    /// Idle times under 4 hours (the sum of `bins`), and the sum of the squared bin counts: kept as bins
    /// change, so the representativeness test is a few integer operations (the keep-warm simulator asks
    /// it millions of times).
    private var inRange = 0
    private var sumOfSquares = 0
    /// No idle time lies in a bin below `low` or above `high` (bounds, not exact), so the percentiles are
    /// found without walking the empty ends.
    private var low = binCount
    private var high = -1
    /// `windows` as `cacheWindows()` last computed it, until an idle time is added or forgotten: the keep-warm
    /// simulator plans again after every ping, when the histogram has not changed.
    private var cachedWindows: (prewarmSeconds: Int64, keepAliveSeconds: Int64)?? = .none

    public init() {
        bins = Array(repeating: 0, count: Self.binCount)
        outOfBounds = 0
    }

    /// The same idle times (the rest is derived from them).
    public static func == (lhs: IdleTimeHistogram, rhs: IdleTimeHistogram) -> Bool {
        lhs.outOfBounds == rhs.outOfBounds && lhs.bins == rhs.bins
    }

    public var count: Int { inRange + outOfBounds }

    public mutating func record(idleSeconds: Int64) { count(idleSeconds: idleSeconds, by: 1) }

    /// Takes back one `record(idleSeconds:)`: the idle time has left the window.
    public mutating func forget(idleSeconds: Int64) { count(idleSeconds: idleSeconds, by: -1) }

    private mutating func count(idleSeconds: Int64, by delta: Int) {
        let minute = Int(idleSeconds / 60)
        guard minute < Self.binCount else { outOfBounds += delta; return }
        let old = bins[minute]
        bins[minute] = old + delta
        low = min(low, minute)
        high = max(high, minute)
        // Kept tight as the ends empty, so a concentrated histogram's percentiles take a few steps.
        while low <= high, bins[low] == 0 { low += 1 }
        while high >= low, bins[high] == 0 { high -= 1 }
        if low > high { (low, high) = (Self.binCount, -1) }
        inRange += delta
        sumOfSquares += (old + delta) * (old + delta) - old * old
        cachedWindows = .none
    }

    /// Keeps `windows` until the histogram changes.
    public mutating func cacheWindows() {
        if case .none = cachedWindows { cachedWindows = .some(computedWindows) }
    }

    /// Idle times from the starts of the metric buckets (of `bucketSeconds`) that saw user requests: the gap
    /// between two busy buckets, less one bucket. Coarse (10 s) but far finer than the 1-minute bins.
    public static func from(busyBucketStarts starts: [Int64], bucketSeconds: Int64) -> IdleTimeHistogram {
        from(busyBuckets: starts.map { (start: $0, width: bucketSeconds) })
    }

    /// The same from buckets of several widths: 10-second buckets, the 1-minute buckets they are rolled up
    /// into after an hour, and the 1-minute buckets of CloudWatch. An idle time runs from a busy bucket's
    /// end to the next one's start.
    public static func from(busyBuckets: [(start: Int64, width: Int64)]) -> IdleTimeHistogram {
        var histogram = IdleTimeHistogram()
        let sorted = busyBuckets.sorted { $0.start < $1.start }
        for (previous, next) in zip(sorted, sorted.dropFirst()) where next.start > previous.start + previous.width {
            histogram.record(idleSeconds: next.start - previous.start - previous.width)
        }
        return histogram
    }

    /// The paper's test: enough idle times, mostly in range, and concentrated (coefficient of variation of
    /// the bin counts at least 2). A flat histogram predicts nothing.
    public var isRepresentative: Bool {
        guard count >= Self.minimumIdleTimes, outOfBounds * 2 <= count, inRange > 0 else { return false }
        // With N bins holding S idle times (mean m = S / N): CV ≥ 2 ⇔ Σc²/N − m² ≥ 4m² ⇔ N·Σc² ≥ 5·S², exactly.
        return Self.binCount * sumOfSquares >= 5 * inRange * inRange
    }

    /// Seconds after the last invocation to have an instance warm, and to keep it warm until: the 5th
    /// percentile less 10% and the 99th percentile plus 10%, at bin edges (the paper's margins).
    public var windows: (prewarmSeconds: Int64, keepAliveSeconds: Int64)? {
        if case .some(let cached) = cachedWindows { return cached }
        return computedWindows
    }

    private var computedWindows: (prewarmSeconds: Int64, keepAliveSeconds: Int64)? {
        guard isRepresentative else { return nil }
        func bin(atPercentile percentile: Double) -> Int {
            let rank = max(1, Int((percentile / 100 * Double(inRange)).rounded(.up)))
            // The bin where the count of idle times up to it first reaches `rank`: from below for a low
            // percentile, from above (the first bin whose count from the top passes inRange − rank) for a high one.
            if percentile <= 50 {
                var seen = 0
                for index in max(0, low)...min(high, Self.binCount - 1) {
                    seen += bins[index]
                    if seen >= rank { return index }
                }
            } else {
                var above = 0
                var index = min(high, Self.binCount - 1)
                while index >= max(0, low) {
                    if above + bins[index] > inRange - rank { return index }
                    above += bins[index]
                    index -= 1
                }
            }
            return Self.binCount - 1
        }
        let head = Int64(bin(atPercentile: 5)) * 60
        let tail = Int64(bin(atPercentile: 99) + 1) * 60
        return (head * 9 / 10, tail * 11 / 10)
    }
}

/// The starts of the busy metric buckets of the last 4 hours and their idle-time histogram, kept up to date
/// as time moves forward: at every moment, `histogram` equals what the daemon's
/// `IdleTimeHistogram.from(busyBucketStarts:)` computes from the buckets with `start >= now − 4 h`.
/// The keep-warm simulator replays millions of invocations through it instead of rebuilding each time.
public struct IdleTimeWindow: Sendable {
    public static let spanSeconds = Int64(IdleTimeHistogram.binCount) * 60
    public let bucketSeconds: Int64
    public private(set) var histogram = IdleTimeHistogram()
    private var starts: [Int64] = []
    private var head = 0

    public init(bucketSeconds: Int64) { self.bucketSeconds = bucketSeconds }

    /// Keeps the histogram's windows until it changes (`IdleTimeHistogram.cacheWindows`).
    public mutating func cacheWindows() { histogram.cacheWindows() }

    public var lastStart: Int64? { head < starts.count ? starts.last : nil }

    /// Adds a busy bucket; starts come in time order, and a repeated start is the same bucket.
    public mutating func add(busyBucketStart start: Int64) {
        if let last = lastStart {
            guard start > last else { return }
            if start - last > bucketSeconds { histogram.record(idleSeconds: start - last - bucketSeconds) }
        }
        starts.append(start)
    }

    /// The whole second at which the oldest start leaves the window, if any.
    public var nextEviction: Int64? { head < starts.count ? starts[head] + Self.spanSeconds + 1 : nil }

    /// Drops the starts before `now − 4 h`; returns whether what the planner sees changed: the histogram,
    /// or the last busy bucket (gone when the window empties).
    @discardableResult
    public mutating func advance(toSecond now: Int64) -> Bool {
        var changed = false
        while head < starts.count, starts[head] < now - Self.spanSeconds {
            if head + 1 == starts.count { changed = true }
            if head + 1 < starts.count, starts[head + 1] - starts[head] > bucketSeconds {
                histogram.forget(idleSeconds: starts[head + 1] - starts[head] - bucketSeconds)
                changed = true
            }
            head += 1
        }
        if head > 1_024 && head * 2 > starts.count {
            starts.removeFirst(head)
            head = 0
        }
        return changed
    }
}

/// When to ping an endpoint next, and why: the keep-warm policy as a pure function.
public struct KeepWarmPlan: Equatable, Sendable {
    /// Nil when no ping is planned.
    public var nextPing: Date?
    /// Pings to send at once: instances to keep warm.
    public var concurrency: Int
    /// One line for the TUI and the logs.
    public var reason: String
}

/// The planner's decision before it is put into words: when to ping, how many, and which rule decided.
/// The daemon stores `reason`; the keep-warm simulator, which asks millions of times, never needs it.
public struct KeepWarmDecision: Equatable, Sendable {
    public enum Rule: Equatable, Sendable {
        case off
        case fixed(everySeconds: Int64)
        /// Adaptive, histogram not representative yet: keep instances warm on the idle clock.
        case learning(idleTimes: Int, refreshSeconds: Int64)
        /// Adaptive, warm from `prewarmSeconds` to `keepAliveSeconds` after a request.
        case window(prewarmSeconds: Int64, keepAliveSeconds: Int64, Outcome)
        /// Adaptive, no request for longer than the histogram spans: nothing to learn from, nobody to keep
        /// warm for, so it scales to zero until a request comes.
        case dormant(spanSeconds: Int64)
    }

    public enum Outcome: Equatable, Sendable { case ping, prewarm, coveredByIdleTimeout, pastWindow }

    /// While nothing else happens (no request, no change to the histogram), the pings after `nextPing` come
    /// every `everySeconds`: each one's plan, made when the one before went, is this plan moved on. They stop
    /// at the first that would come after `lastDue`, or be planned at or after `plannedBefore`. The keep-warm
    /// simulator skips over such a run in one step, so its work is bounded by the trace's lines, not its span.
    public struct Repeat: Equatable, Sendable {
        public var everySeconds: Int64
        public var lastDue: Date?
        public var plannedBefore: Date?
    }

    public var nextPing: Date?
    public var concurrency: Int
    public var rule: Rule
    public var repeats: Repeat? = nil

    /// One line for the TUI and the logs.
    public var reason: String {
        let instances = concurrency > 1 ? " ×\(concurrency)" : ""
        switch rule {
        case .off: return "keep-warm off"
        case .fixed(let every): return "every \(Format.duration(seconds: every))"
        case .learning(let idleTimes, let refresh):
            return "adaptive, learning (\(idleTimes) idle times): every \(Format.duration(seconds: refresh))\(instances)"
        case .dormant(let span):
            return "adaptive: no request for \(Format.duration(seconds: span)); scaled to zero until one comes"
        case .window(let prewarm, let keepAlive, let outcome):
            let window = "warm \(Format.duration(seconds: prewarm))–\(Format.duration(seconds: keepAlive)) after a request"
            switch outcome {
            case .ping: return "adaptive: \(window)\(instances)"
            case .prewarm: return "adaptive: \(window)\(instances); cold until the pre-warm"
            case .coveredByIdleTimeout: return "adaptive: \(window); the idle timeout covers it"
            case .pastWindow: return "adaptive: \(window); past the window, let it scale to zero"
            }
        }
    }

    public var plan: KeepWarmPlan { KeepWarmPlan(nextPing: nextPing, concurrency: concurrency, reason: reason) }
}

public enum KeepWarmPlanner {
    /// How long before an instance is reclaimed the ping that keeps it goes out: the daemon acts at 1-second
    /// ticks, and a ping takes a moment to reach the instance.
    public static let refreshGuardSeconds: Int64 = 2

    /// The width of the newest metric bucket: a request counted in it came at most this long before the
    /// bucket's end, which is what `lastInvocation` says.
    public static let lastInvocationSlackSeconds: Int64 = 10

    /// The window over which `recentConcurrency` is measured: the peak of user requests in flight at once in
    /// the hour before the last request.
    public static let concurrencyWindowSeconds: Int64 = 3_600

    /// The most instances adaptive keeps warm for one endpoint.
    public static let maxAdaptiveConcurrency = 100

    /// - Parameters:
    ///   - idleTimeoutSeconds: how long the target keeps an idle instance.
    ///   - coldStartSeconds: how long a start takes; a pre-warm is sent that much early.
    ///   - recentConcurrency: the most user requests in flight at once in the hour before the last one.
    public static func plan(policy: KeepWarmPolicy, now: Date, lastInvocation: Date?, lastPing: Date?,
                            idleTimeoutSeconds: Int64, coldStartSeconds: Int64, histogram: IdleTimeHistogram,
                            recentConcurrency: Int = 1) -> KeepWarmPlan {
        decide(policy: policy, now: now, lastInvocation: lastInvocation, lastPing: lastPing, idleTimeoutSeconds: idleTimeoutSeconds,
               coldStartSeconds: coldStartSeconds, histogram: histogram, recentConcurrency: recentConcurrency).plan
    }

    /// The policy itself: `plan` without the words.
    ///
    /// Adaptive is the hybrid histogram policy of "Serverless in the Wild" (Shahrad et al., USENIX ATC 2020):
    /// from the endpoint's idle-time histogram, a pre-warm window (5th percentile less 10%) and a keep-alive
    /// window (99th percentile plus 10%); while the histogram is not representative, the paper's fallback,
    /// a keep-alive as long as the histogram's range (4 hours). On top of the paper, which owns the platform
    /// and decides reclaims itself, a warmer only has pings, so:
    /// - an instance is kept by one ping just before the platform would reclaim it (idle timeout after the
    ///   last activity, the last request counted from the start of its bucket, less `refreshGuardSeconds`),
    ///   not on a shorter clock: traffic that keeps it warm costs no pings, and no ping arrives cold;
    /// - when the instance would be reclaimed before the pre-warm window opens, it is let go and started
    ///   again by one pre-warm ping, a cold start's time before the window;
    /// - it keeps as many instances as the recent peak of requests in flight (a burst of N needs N), each
    ///   refreshed by the same pings.
    public static func decide(policy: KeepWarmPolicy, now: Date, lastInvocation: Date?, lastPing: Date?,
                              idleTimeoutSeconds: Int64, coldStartSeconds: Int64, histogram: IdleTimeHistogram,
                              recentConcurrency: Int = 1) -> KeepWarmDecision {
        switch policy {
        case .off:
            return KeepWarmDecision(nextPing: nil, concurrency: 0, rule: .off)
        case .fixed(let every, let concurrency):
            return KeepWarmDecision(nextPing: lastPing.map { $0.addingTimeInterval(TimeInterval(every)) } ?? now,
                                    concurrency: concurrency, rule: .fixed(everySeconds: every),
                                    repeats: .init(everySeconds: every, lastDue: nil, plannedBefore: nil))
        case .adaptive:
            let span = IdleTimeWindow.spanSeconds
            let instances = min(max(1, recentConcurrency), maxAdaptiveConcurrency)
            let refresh = max(1, idleTimeoutSeconds - refreshGuardSeconds)
            if lastInvocation.map({ now.timeIntervalSince($0) >= TimeInterval(span) }) ?? (lastPing != nil) {
                // Pinging on without requests would keep an unused endpoint warm forever. A new endpoint (no
                // request and no ping yet) still gets its first ping, so its first caller finds it warm.
                return KeepWarmDecision(nextPing: nil, concurrency: 0, rule: .dormant(spanSeconds: span))
            }
            guard let last = lastInvocation else {
                return KeepWarmDecision(nextPing: now, concurrency: 1, rule: .learning(idleTimes: histogram.count, refreshSeconds: refresh))
            }
            // The kept instances are reclaimed an idle timeout after the last activity that reached all of
            // them: a ping (the last request may have used only one), else the last request, which may have
            // ended as early as the start of its bucket.
            let requestEnd = last.addingTimeInterval(TimeInterval(-lastInvocationSlackSeconds))
            let anchor: Date
            if let lastPing, instances > 1 || lastPing > requestEnd { anchor = lastPing } else { anchor = requestEnd }
            let refreshAt = anchor.addingTimeInterval(TimeInterval(refresh))
            let dormantAt = last.addingTimeInterval(TimeInterval(span))
            guard let windows = histogram.windows else {
                // Not representative yet: the paper's fallback, kept warm for the histogram's range.
                return KeepWarmDecision(nextPing: refreshAt, concurrency: instances,
                                        rule: .learning(idleTimes: histogram.count, refreshSeconds: refresh),
                                        repeats: .init(everySeconds: refresh, lastDue: nil, plannedBefore: dormantAt))
            }
            func window(_ outcome: KeepWarmDecision.Outcome) -> KeepWarmDecision.Rule {
                .window(prewarmSeconds: windows.prewarmSeconds, keepAliveSeconds: windows.keepAliveSeconds, outcome)
            }
            if windows.keepAliveSeconds <= idleTimeoutSeconds - lastInvocationSlackSeconds {
                return KeepWarmDecision(nextPing: nil, concurrency: 0, rule: window(.coveredByIdleTimeout))
            }
            let warmUntil = last.addingTimeInterval(TimeInterval(windows.keepAliveSeconds))
            let warmFrom = last.addingTimeInterval(TimeInterval(windows.prewarmSeconds - coldStartSeconds - refreshGuardSeconds))
            // Still warm when the window opens: keep it. Else let it go cold and pre-warm, but only when that
            // saves pings: kept, the instance takes a ping every `refresh` from `refreshAt` to the window's end;
            // let go, one pre-warm at `warmFrom` and a ping every `refresh` from there. The pre-warm arrives cold
            // (billed with its start, as Lambda bills the init phase, and warm only from then), so when both
            // need as many pings the instance is kept.
            let prewarm = refreshAt < warmFrom && lastPing.map { $0 < warmFrom } ?? true
                && pings(from: warmFrom, through: warmUntil, every: refresh) < pings(from: refreshAt, through: warmUntil, every: refresh)
            let next = prewarm ? warmFrom : refreshAt
            guard next <= warmUntil else {
                return KeepWarmDecision(nextPing: nil, concurrency: 0, rule: window(.pastWindow))
            }
            return KeepWarmDecision(nextPing: next, concurrency: instances, rule: window(prewarm ? .prewarm : .ping),
                                    repeats: .init(everySeconds: refresh, lastDue: warmUntil, plannedBefore: dormantAt))
        }
    }

    /// Rounds of pings at `from`, `from + every`, … up to `through`.
    static func pings(from: Date, through: Date, every seconds: Int64) -> Int64 {
        guard from <= through else { return 0 }
        return Int64(through.timeIntervalSince(from) / TimeInterval(seconds)) + 1
    }

    /// A fixed policy under its concurrency schedule at `now`: the policy with the concurrency in force (0
    /// stops pinging until the next entry fires); when the entry in force fired, if no ping went since (so
    /// instances raised at 08:00 are warmed at 08:00, not an interval later); and when the next entry fires.
    public static func scheduled(_ policy: KeepWarmPolicy, schedule: [ScheduledConcurrency], now: Date,
                                 lastPing: Date?) -> (policy: KeepWarmPolicy, firedSinceLastPing: Date?, nextChange: Date?) {
        guard case .fixed(let every, let base) = policy, !schedule.isEmpty else { return (policy, nil, nil) }
        let force = ScheduledConcurrency.inForce(schedule, at: now)
        let concurrency = force.concurrency ?? base
        guard concurrency > 0 else { return (.off, nil, force.next) }
        let fired = force.since.flatMap { since in lastPing.map { $0 < since } ?? true ? since : nil }
        return (.fixed(everySeconds: every, concurrency: concurrency), fired, force.next)
    }

    /// Pings each version taking traffic needs: the policy's concurrency for the main version, and its
    /// share of it (at least one) for the others — warm what takes traffic, a canary included.
    public static func pings(concurrency: Int, weights: [String: Int]) -> [String: Int] {
        guard concurrency > 0 else { return [:] }
        let primary = TrafficSplit.primary(of: weights)
        var result: [String: Int] = [:]
        for (version, weight) in weights where weight > 0 {
            result[version] = version == primary ? concurrency : max(1, (concurrency * weight + 99) / 100)
        }
        return result
    }
}
