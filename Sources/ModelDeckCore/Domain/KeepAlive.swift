import Foundation

/// One piece of evidence about how long a platform keeps an idle instance: activity (a request or a ping)
/// came after an idle gap of `gapSeconds`, and found the instance warm or started a cold one.
public struct KeepAliveObservation: Sendable, Equatable {
    public var gapSeconds: Int64
    public var cold: Bool

    public init(gapSeconds: Int64, cold: Bool) {
        self.gapSeconds = gapSeconds
        self.cold = cold
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

    public init(seconds: Int64, shortestColdGapSeconds: Int64, contrary: Int, warmObservations: Int, coldObservations: Int) {
        self.seconds = seconds
        self.shortestColdGapSeconds = shortestColdGapSeconds
        self.contrary = contrary
        self.warmObservations = warmObservations
        self.coldObservations = coldObservations
    }
}

/// Learns a platform's real keep-alive per endpoint. Lambda reclaims idle environments after minutes that
/// vary and are not published; SageMaker serverless and Cloud Run likewise. What the engineer configures
/// (`idle_timeout`) is a guess there, while every idle gap followed by activity says on which side of the
/// platform's keep-alive it fell: warm after the gap, or cold.
///
/// The boundary is the threshold that the fewest observations contradict (warm after a longer gap, cold
/// after a shorter one); a tie goes to the shorter threshold. Gaps shorter than `shortestGapSeconds` are not
/// evidence (a cold start there comes from concurrency, not from idleness). The platform's keep-alive is
/// learned only with at least `minimumEach` warm and `minimumEach` cold observations around the boundary,
/// so one reclaim does not decide it.
public enum KeepAliveLearner {
    public static let shortestGapSeconds: Int64 = 60
    public static let minimumEach = 3
    /// How far back the evidence goes: a day of gaps, so a platform that changed its habits is followed.
    public static let lookbackSeconds: TimeInterval = 86_400
    /// How often it is learned again: a day of evidence moves little in a minute, and the daemon reloads its
    /// keep-warm inputs every second while pings go out.
    public static let relearnSeconds: TimeInterval = 60

    public static func learn(_ observations: [KeepAliveObservation]) -> LearnedKeepAlive? {
        let evidence = observations.filter { $0.gapSeconds >= shortestGapSeconds }.sorted { $0.gapSeconds < $1.gapSeconds }
        let colds = evidence.lazy.filter(\.cold).count
        let warms = evidence.count - colds
        guard colds >= minimumEach, warms >= minimumEach else { return nil }
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
        let warmSide = below.lazy.filter { !$0.cold }.count
        let coldSide = above.lazy.filter(\.cold).count
        guard warmSide >= minimumEach, coldSide >= minimumEach else { return nil }
        return LearnedKeepAlive(seconds: warmGap, shortestColdGapSeconds: coldGap, contrary: best.contrary,
                                warmObservations: warms, coldObservations: colds)
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
