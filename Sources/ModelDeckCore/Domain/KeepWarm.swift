import Foundation

/// An endpoint's idle times (gaps between invocations) in 1-minute bins over 4 hours, as the hybrid
/// histogram policy of "Serverless in the Wild" (Shahrad et al., USENIX ATC 2020) keeps them.
public struct IdleTimeHistogram: Equatable, Sendable {
    public static let binCount = 240
    /// Count of idle times per whole minute, 0..<240.
    public private(set) var bins: [Int]
    /// Idle times of 4 hours or more.
    public private(set) var outOfBounds: Int
    /// Idle times under 4 hours (the sum of `bins`), and the sum of the squared bin counts: kept as bins
    /// change, so the representativeness test is a few integer operations (the keep-warm simulator asks
    /// it millions of times).
    private var inRange = 0
    private var sumOfSquares = 0

    public init() {
        bins = Array(repeating: 0, count: Self.binCount)
        outOfBounds = 0
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
        inRange += delta
        sumOfSquares += (old + delta) * (old + delta) - old * old
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
        guard count >= 10, outOfBounds * 2 <= count, inRange > 0 else { return false }
        // With N bins holding S idle times (mean m = S / N): CV ≥ 2 ⇔ Σc²/N − m² ≥ 4m² ⇔ N·Σc² ≥ 5·S², exactly.
        return Self.binCount * sumOfSquares >= 5 * inRange * inRange
    }

    /// Seconds after the last invocation to have an instance warm, and to keep it warm until: the 5th
    /// percentile less 10% and the 99th percentile plus 10%, at bin edges (the paper's margins).
    public var windows: (prewarmSeconds: Int64, keepAliveSeconds: Int64)? {
        guard isRepresentative else { return nil }
        func bin(atPercentile percentile: Double) -> Int {
            let rank = max(1, Int((percentile / 100 * Double(inRange)).rounded(.up)))
            var seen = 0
            for (index, count) in bins.enumerated() {
                seen += count
                if seen >= rank { return index }
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
        /// Adaptive, histogram not representative yet: ping on the idle clock.
        case learning(idleTimes: Int, refreshSeconds: Int64)
        /// Adaptive, warm from `prewarmSeconds` to `keepAliveSeconds` after a request.
        case window(prewarmSeconds: Int64, keepAliveSeconds: Int64, Outcome)
        /// Adaptive, no request for longer than the histogram spans: nothing to learn from, nobody to keep
        /// warm for, so it scales to zero until a request comes.
        case dormant(spanSeconds: Int64)
    }

    public enum Outcome: Equatable, Sendable { case ping, coveredByIdleTimeout, pastWindow }

    public var nextPing: Date?
    public var concurrency: Int
    public var rule: Rule

    /// One line for the TUI and the logs.
    public var reason: String {
        switch rule {
        case .off: return "keep-warm off"
        case .fixed(let every): return "every \(Format.duration(seconds: every))"
        case .learning(let idleTimes, let refresh):
            return "adaptive, learning (\(idleTimes) idle times): every \(Format.duration(seconds: refresh))"
        case .dormant(let span):
            return "adaptive: no request for \(Format.duration(seconds: span)); scaled to zero until one comes"
        case .window(let prewarm, let keepAlive, let outcome):
            let window = "warm \(Format.duration(seconds: prewarm))–\(Format.duration(seconds: keepAlive)) after a request"
            switch outcome {
            case .ping: return "adaptive: \(window)"
            case .coveredByIdleTimeout: return "adaptive: \(window); the idle timeout covers it"
            case .pastWindow: return "adaptive: \(window); past the window, let it scale to zero"
            }
        }
    }

    public var plan: KeepWarmPlan { KeepWarmPlan(nextPing: nextPing, concurrency: concurrency, reason: reason) }
}

public enum KeepWarmPlanner {
    /// - Parameters:
    ///   - idleTimeoutSeconds: how long the target keeps an idle instance (the pings' refresh period is 80% of it).
    ///   - coldStartSeconds: how long a start takes; a pre-warm is sent that much early.
    public static func plan(policy: KeepWarmPolicy, now: Date, lastInvocation: Date?, lastPing: Date?,
                            idleTimeoutSeconds: Int64, coldStartSeconds: Int64, histogram: IdleTimeHistogram) -> KeepWarmPlan {
        decide(policy: policy, now: now, lastInvocation: lastInvocation, lastPing: lastPing, idleTimeoutSeconds: idleTimeoutSeconds,
               coldStartSeconds: coldStartSeconds, histogram: histogram).plan
    }

    /// The policy itself: `plan` without the words.
    public static func decide(policy: KeepWarmPolicy, now: Date, lastInvocation: Date?, lastPing: Date?,
                              idleTimeoutSeconds: Int64, coldStartSeconds: Int64, histogram: IdleTimeHistogram) -> KeepWarmDecision {
        switch policy {
        case .off:
            return KeepWarmDecision(nextPing: nil, concurrency: 0, rule: .off)
        case .fixed(let every, let concurrency):
            return KeepWarmDecision(nextPing: lastPing.map { $0.addingTimeInterval(TimeInterval(every)) } ?? now,
                                    concurrency: concurrency, rule: .fixed(everySeconds: every))
        case .adaptive:
            let refresh = max(1, idleTimeoutSeconds * 8 / 10)
            let span = IdleTimeWindow.spanSeconds
            if lastInvocation.map({ now.timeIntervalSince($0) >= TimeInterval(span) }) ?? (lastPing != nil) {
                // Pinging on without requests would keep an unused endpoint warm forever. A new endpoint (no
                // request and no ping yet) still gets its first ping, so its first caller finds it warm.
                return KeepWarmDecision(nextPing: nil, concurrency: 0, rule: .dormant(spanSeconds: span))
            }
            guard let windows = histogram.windows, let last = lastInvocation else {
                // Not representative yet: keep one instance warm on the target's own idle clock.
                return KeepWarmDecision(nextPing: (lastPing ?? lastInvocation).map { $0.addingTimeInterval(TimeInterval(refresh)) } ?? now,
                                        concurrency: 1, rule: .learning(idleTimes: histogram.count, refreshSeconds: refresh))
            }
            func window(_ outcome: KeepWarmDecision.Outcome) -> KeepWarmDecision.Rule {
                .window(prewarmSeconds: windows.prewarmSeconds, keepAliveSeconds: windows.keepAliveSeconds, outcome)
            }
            let warmUntil = last.addingTimeInterval(TimeInterval(windows.keepAliveSeconds))
            if windows.keepAliveSeconds <= idleTimeoutSeconds {
                return KeepWarmDecision(nextPing: nil, concurrency: 0, rule: window(.coveredByIdleTimeout))
            }
            let warmFrom = last.addingTimeInterval(TimeInterval(windows.prewarmSeconds - coldStartSeconds))
            let lastActivity = max(last, lastPing ?? last)
            let warmThrough = lastActivity.addingTimeInterval(TimeInterval(idleTimeoutSeconds))
            // Still warm when the window opens: keep it alive; else let it go cold and pre-warm.
            let next = warmThrough >= warmFrom ? lastActivity.addingTimeInterval(TimeInterval(refresh)) : warmFrom
            guard next <= warmUntil else {
                return KeepWarmDecision(nextPing: nil, concurrency: 0, rule: window(.pastWindow))
            }
            return KeepWarmDecision(nextPing: next, concurrency: 1, rule: window(.ping))
        }
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
