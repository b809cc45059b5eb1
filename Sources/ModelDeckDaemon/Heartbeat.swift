import Foundation
import ModelDeckCore

/// The daemon's row in the registry: alive while `heartbeat_at` is recent, stopped when `stopped_at` is set.
/// Readers (the TUI, `get`) judge it with `DaemonStatus`.
public enum Heartbeat {
    public static let version = ModelDeckRelease.version
    /// How often the daemon writes its heartbeat.
    public static let interval: Duration = .seconds(2)

    public static func beat(_ registry: Registry, startedAt: Date, now: Date = Date()) throws {
        try registry.beat(pid: getpid(), host: ProcessInfo.processInfo.hostName, version: version, startedAt: startedAt, now: now)
    }

    public static func stopped(_ registry: Registry, now: Date = Date()) throws {
        try registry.daemonStopped(pid: getpid(), now: now)
    }
}
