import Foundation
import GRDB

/// Whether a daemon is acting on this registry, read from its heartbeat row: what the TUI's header and
/// `modeldeck get` show. The daemon writes the row (ModelDeckDaemon's `Heartbeat`).
public struct DaemonStatus: Equatable, Sendable {
    public enum State: Equatable, Sendable {
        case alive
        /// Stopped cleanly at the date.
        case stopped(Date)
        /// No heartbeat since the date: killed, crashed or hung.
        case silent(since: Date)
        /// No daemon has ever run on this registry.
        case never
    }

    /// A heartbeat older than this means the daemon is gone (it beats every 2 s).
    public static let staleAfter: TimeInterval = 10

    public var state: State
    public var pid: Int?
    public var startedAt: Date?

    public var isAlive: Bool { state == .alive }

    public init(state: State, pid: Int? = nil, startedAt: Date? = nil) {
        self.state = state
        self.pid = pid
        self.startedAt = startedAt
    }

    public static func load(_ db: Database, now: Date) throws -> DaemonStatus {
        guard let row = try Row.fetchOne(db, sql: "SELECT pid, started_at, heartbeat_at, stopped_at FROM daemon WHERE id = 1") else {
            return DaemonStatus(state: .never)
        }
        let heartbeat: Date = row["heartbeat_at"]
        let state: State
        if let stopped: Date = row["stopped_at"] {
            state = .stopped(stopped)
        } else if now.timeIntervalSince(heartbeat) > staleAfter {
            state = .silent(since: heartbeat)
        } else {
            state = .alive
        }
        return DaemonStatus(state: state, pid: row["pid"], startedAt: row["started_at"])
    }
}
