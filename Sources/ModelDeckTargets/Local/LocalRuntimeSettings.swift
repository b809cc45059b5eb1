import Foundation
import ModelDeckCore

/// Settings of the local serverless runtime.
public struct LocalRuntimeSettings: Sendable {
    /// A start that is not healthy by then fails, with the process's last output in the error.
    public var startTimeout: Duration = .seconds(60)
    /// Between SIGTERM and SIGKILL when an instance is stopped.
    public var stopGrace: Duration = .seconds(5)
    /// Requests that may wait per endpoint when it is at max instances; more get 503 at once.
    public var queueDepth = 100
    /// How long a queued request waits for a free instance before it gets 503.
    public var queueTimeout: Duration = .seconds(30)
    /// While instances run, how often housekeeping looks for ones whose process ended on its own (and caps
    /// their logs). Idle instances are stopped when their idle timeout ends, not on this tick; with no
    /// instance, housekeeping sleeps until a request or a catalog change (`HousekeepingSchedule`).
    public var maintenanceInterval: Duration = .seconds(1)
    /// Where instance logs go.
    public var runDirectory: String
    /// An instance's log is cut above this (its last half kept in `<log>.1`).
    public var maxLogBytes: Int64 = 4 << 20

    public init(runDirectory: String) {
        self.runDirectory = runDirectory
    }
}

/// A slot on an instance, held for the length of one request.
public struct Lease: Sendable {
    public let instanceID: String
    public let endpoint: String
    public let version: String
    public let port: Int
    /// True when this request had to start the instance.
    public let coldStart: Bool
    /// Requests in flight on this version of the endpoint, this one included.
    public let inFlight: Int
    /// On a cold start, how its time split: spawning the process, then until its health check answered (the
    /// model server loads its weights before it answers; the fixture does).
    public var processStartMilliseconds: Int? = nil
    public var modelLoadMilliseconds: Int? = nil
}

/// Why a request could not get an instance; the gateway turns each into a clear HTTP answer.
public enum RuntimeFailure: Error, Sendable, Equatable {
    case queueFull(endpoint: String, maxInstances: Int, depth: Int)
    case queueTimeout(endpoint: String, maxInstances: Int, waited: Duration)
    case startFailed(endpoint: String, version: String, reason: String)
    case stopping

    public var message: String {
        switch self {
        case .queueFull(let endpoint, let max, let depth):
            "endpoint '\(endpoint)' is at max_instances \(max) and \(depth) requests are already waiting; try again shortly"
        case .queueTimeout(let endpoint, let max, let waited):
            "endpoint '\(endpoint)' is at max_instances \(max); no instance was free within \(waited.formatted(.units(allowed: [.seconds, .milliseconds])))"
        case .startFailed(let endpoint, let version, let reason):
            "endpoint '\(endpoint)': cold start of \(version) failed: \(reason)"
        case .stopping:
            "the gateway is shutting down"
        }
    }
}
