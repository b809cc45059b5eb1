import Foundation

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
    public var host: String?
    public var startedAt: Date?
    /// When it last wrote its heartbeat.
    public var heartbeatAt: Date?

    public var isAlive: Bool { state == .alive }

    public init(state: State, pid: Int? = nil, host: String? = nil, startedAt: Date? = nil, heartbeatAt: Date? = nil) {
        self.state = state
        self.pid = pid
        self.host = host
        self.startedAt = startedAt
        self.heartbeatAt = heartbeatAt
    }
}
