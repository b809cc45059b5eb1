import Foundation

/// One piece of evidence about how long a platform keeps an idle instance: activity (a request or a ping)
/// came after an idle gap of `gapSeconds`, and found the instance warm or started a cold one.
public struct KeepAliveObservation: Sendable, Equatable {
    public var gapSeconds: Int64
    public var cold: Bool
    /// Measured by `bench`'s luke-warm phase: the first request after an exact gap with nothing else running,
    /// so neither a burst nor the width of a metric bucket blurs it.
    public var fromBench: Bool

    public init(gapSeconds: Int64, cold: Bool, fromBench: Bool = false) {
        self.gapSeconds = gapSeconds
        self.cold = cold
        self.fromBench = fromBench
    }
}

/// How long the platform really keeps an idle instance, learned from what happened after idle gaps.
public struct LearnedKeepAlive: Sendable, Equatable {
    /// The keep-alive the planner uses: the longest idle gap after which an instance was still found warm,
    /// below the boundary between warm and cold gaps (the safe end: a ping sent within it finds the instance).
    public var seconds: Int64
    /// The shortest idle gap after which a cold start was seen, above the boundary.
    public var shortestColdGapSeconds: Int64
    /// Gaps on the wrong side of the boundary: cold starts after short gaps (a burst needed another instance,
    /// a crash) and warm answers after long ones (the platform kept it longer this once).
    public var contrary: Int
    public var warmObservations: Int
    public var coldObservations: Int
    /// How many of the observations came from a bench run's luke-warm curve, and which run (the registry names it).
    public var benchObservations: Int
    public var benchRun: Int64?

    public init(seconds: Int64, shortestColdGapSeconds: Int64, contrary: Int, warmObservations: Int, coldObservations: Int,
                benchObservations: Int = 0, benchRun: Int64? = nil) {
        self.seconds = seconds
        self.shortestColdGapSeconds = shortestColdGapSeconds
        self.contrary = contrary
        self.warmObservations = warmObservations
        self.coldObservations = coldObservations
        self.benchObservations = benchObservations
        self.benchRun = benchRun
    }
}

/// Learns a platform's real keep-alive per endpoint. Lambda reclaims idle environments after minutes that
/// vary and are not published; SageMaker serverless and Cloud Run likewise. What the engineer configures
/// (`idle_timeout`) is a guess there, while every idle gap followed by activity says on which side of the
/// platform's keep-alive it fell: warm after the gap, or cold.
///
/// The boundary is the threshold that the fewest observations contradict (warm after a longer gap, cold
/// after a shorter one); a tie goes to the shorter threshold. Gaps of traffic shorter than `shortestGapSeconds`
/// are not evidence (a cold start there comes from concurrency, not from idleness). The platform's keep-alive
/// is learned only with at least `minimumEach` warm and `minimumEach` cold observations around the boundary,
/// so one reclaim does not decide it — or with a bench run's luke-warm curve on that side: `bench` waits an
/// exact gap with nothing else running and then sends the first requests, a controlled measurement where
/// traffic's gaps are only lower bounds (bucket widths) and its cold starts may come from a burst.
public enum KeepAliveLearner {
    public static let shortestGapSeconds: Int64 = 60
    public static let minimumEach = 3
    /// How far back the evidence goes: a day of gaps, so a platform that changed its habits is followed.
    public static let lookbackSeconds: TimeInterval = 86_400
    /// How often it is learned again: a day of evidence moves little in a minute, and the daemon reloads its
    /// keep-warm inputs every second while pings go out.
    public static let relearnSeconds: TimeInterval = 60

    public static func learn(_ observations: [KeepAliveObservation]) -> LearnedKeepAlive? {
        let evidence = observations.filter { $0.fromBench || $0.gapSeconds >= shortestGapSeconds }.sorted { $0.gapSeconds < $1.gapSeconds }
        let colds = evidence.lazy.filter(\.cold).count
        let warms = evidence.count - colds
        func enough(_ side: [KeepAliveObservation]) -> Bool { side.count >= minimumEach || side.contains(where: \.fromBench) }
        guard enough(evidence.filter(\.cold)), enough(evidence.filter { !$0.cold }) else { return nil }
        // Threshold at index i: gaps of evidence[..<i] count as "should be warm", the rest as "should be cold".
        // Contradictions = colds below + warms from i on; walk i upwards keeping both counts.
        var coldBelow = 0
        var warmFrom = warms
        var best = (contrary: warmFrom, index: 0)
        for index in evidence.indices {
            if evidence[index].cold { coldBelow += 1 } else { warmFrom -= 1 }
            // Only between two different gaps can a threshold fall.
            let next = index + 1
            guard next == evidence.count || evidence[next].gapSeconds != evidence[index].gapSeconds else { continue }
            if coldBelow + warmFrom < best.contrary { best = (coldBelow + warmFrom, next) }
        }
        let below = evidence[..<best.index]
        let above = evidence[best.index...]
        guard let warmGap = below.last(where: { !$0.cold })?.gapSeconds,
              let coldGap = above.first(where: \.cold)?.gapSeconds else { return nil }
        guard enough(below.filter { !$0.cold }), enough(above.filter(\.cold)) else { return nil }
        return LearnedKeepAlive(seconds: warmGap, shortestColdGapSeconds: coldGap, contrary: best.contrary,
                                warmObservations: warms, coldObservations: colds,
                                benchObservations: evidence.lazy.filter(\.fromBench).count)
    }

    /// The observations in a bench run's luke-warm curve: one per gap, warm when any first request after it
    /// found a warm instance (the others, sent at once, may have needed more instances than were kept), cold
    /// when every one that answered was cold; a gap where all failed says nothing. Gaps are kept in whole
    /// seconds, as the planner plans: a warm one rounded down and a cold one up, so neither claims more than
    /// was measured; gaps under a second say nothing at that resolution.
    public static func observations(lukeWarm curve: [BenchFigures.LukeWarm]) -> [KeepAliveObservation] {
        curve.compactMap { gap in
            guard gap.gapMs >= 1_000, gap.requests > gap.errors else { return nil }
            let cold = gap.cold >= gap.requests - gap.errors
            return KeepAliveObservation(gapSeconds: cold ? (gap.gapMs + 999) / 1_000 : gap.gapMs / 1_000, cold: cold, fromBench: true)
        }
    }

    /// The observations in one version's activity: buckets (`start`, `width`, whether any activity in it was
    /// a cold start), oldest first, of a bucket series where every bucket had requests or pings. The gap
    /// before a bucket is counted from the end of the one before to its start: the shortest the real gap can
    /// have been, so a cold start is never put at a longer gap than it came after.
    public static func observations(activity: [(start: Int64, width: Int64, cold: Bool)]) -> [KeepAliveObservation] {
        var result: [KeepAliveObservation] = []
        var previousEnd: Int64?
        for bucket in activity {
            if let previousEnd, bucket.start > previousEnd {
                result.append(KeepAliveObservation(gapSeconds: bucket.start - previousEnd, cold: bucket.cold))
            }
            previousEnd = max(previousEnd ?? .min, bucket.start + bucket.width)
        }
        return result
    }
}
