import Foundation
import ModelDeckCore

/// What the daemon needs from a platform, and nothing platform-specific: the daemon and the TUI never
/// know which driver they talk to.
public protocol TargetDriver: Sendable {
    var target: Target { get }

    /// Why this target cannot be driven from here (no credentials, a kind without a driver), or nil when it can.
    /// Every call of a driver with a reason fails with it; the daemon skips such a target's pings and metrics.
    var unavailableReason: String? { get }

    /// Makes `version` ready to take traffic on `endpoint` (idempotent). Throws a `ModelDeckError` that
    /// says why when the target cannot run it.
    func provision(_ version: ModelVersion, on endpoint: Endpoint) async throws

    /// Makes the target route `endpoint`'s traffic by `weights` (version id → percent; idempotent).
    func setWeights(_ weights: [String: Int], endpoint: String) async throws

    /// What the target routes now (version id → percent), for drift checks.
    func liveWeights(endpoint: String) async throws -> [String: Int]

    /// Sends `count` keep-warm pings at once to `version` of `endpoint`, so that `count` instances are warm.
    func ping(endpoint: String, version: String, count: Int) async throws -> [PingResult]

    /// Brings what the platform measured for `endpoint` between `from` and `to` into the registry's metric
    /// buckets (AWS: CloudWatch), replacing what an earlier call wrote for the same buckets, since platforms
    /// revise recent figures. A target measured at its own gateway (local) has nothing to collect.
    func collectMetrics(endpoint: Endpoint, from: Date, to: Date) async throws
}

extension TargetDriver {
    public var unavailableReason: String? { nil }

    public func collectMetrics(endpoint: Endpoint, from: Date, to: Date) async throws {}
}

/// One keep-warm ping as the target answered it.
public struct PingResult: Equatable, Sendable {
    public var status: Int
    public var coldStart: Bool
    public var milliseconds: Int

    public init(status: Int, coldStart: Bool, milliseconds: Int) {
        self.status = status
        self.coldStart = coldStart
        self.milliseconds = milliseconds
    }
}
