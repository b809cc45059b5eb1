/// How soon a version whose instances keep failing is started again: the decision, apart from the runtime.
///
/// A model that fails at start (or dies soon after) with `min_instances` set used to be started again at
/// every housekeeping tick, five times a second, forever. Now the first two failures in a row are retried at
/// once (a crash can be a fluke, and the next request should find a fresh instance), then the version is
/// **crash-looping**: starts wait 1 s, 2 s, 4 s … up to 5 minutes, as Kubernetes' CrashLoopBackOff does
/// (10 s doubling to 5 minutes there). One instance that stays up resets it.
public struct StartBackoff: Sendable, Equatable {
    /// Failures in a row retried without waiting.
    public static let freeRetries = 2
    public static let firstDelay: Duration = .seconds(1)
    public static let maxDelay: Duration = .seconds(300)
    /// An instance that ends on its own within this time of becoming ready counts as a failed start; one
    /// that lives longer ends the crash loop.
    public static let shortLived: Duration = .seconds(30)

    public private(set) var failures = 0
    public private(set) var lastReason = ""

    public init() {}

    /// Crash-looping: more failures in a row than are retried at once.
    public var isCrashLooping: Bool { failures > Self.freeRetries }

    /// How long to wait before the next start, after the failures so far.
    public var delay: Duration { Self.delay(afterFailures: failures) }

    public static func delay(afterFailures failures: Int) -> Duration {
        guard failures > freeRetries else { return .zero }
        let doublings = min(failures - freeRetries - 1, 20)
        return min(firstDelay * (1 << doublings), maxDelay)
    }

    /// Records one more failure; returns true when this one made the version crash-looping.
    public mutating func fail(_ reason: String) -> Bool {
        failures += 1
        lastReason = reason
        return failures == Self.freeRetries + 1
    }
}
