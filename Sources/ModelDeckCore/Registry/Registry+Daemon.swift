import Foundation
import GRDB

// The daemon's row: its heartbeat, so the dashboard and `get` can tell alive from offline.

/// The one row of `daemon`.
struct DaemonRecord: Codable, Sendable, FetchableRecord, PersistableRecord, RegistryRecord {
    // Column names spelled out: cheaper than converting every key of every row from snake case.
    enum CodingKeys: String, CodingKey {
        case id
        case pid
        case host
        case version
        case startedAt = "started_at"
        case heartbeatAt = "heartbeat_at"
        case stoppedAt = "stopped_at"
    }

    static let databaseTableName = "daemon"

    var id = 1
    var pid: Int
    var host: String
    var version: String
    var startedAt: Date
    var heartbeatAt: Date
    var stoppedAt: Date?
}

extension DaemonStatus {
    public static func load(_ db: Database, now: Date) throws -> DaemonStatus {
        guard let row = try DaemonRecord.fetchOne(db, key: 1) else { return DaemonStatus(state: .never) }
        let heartbeat = row.heartbeatAt
        let state: State
        if let stopped = row.stoppedAt {
            state = .stopped(stopped)
        } else if now.timeIntervalSince(heartbeat) > staleAfter {
            state = .silent(since: heartbeat)
        } else {
            state = .alive
        }
        return DaemonStatus(state: state, pid: row.pid, host: row.host, startedAt: row.startedAt, heartbeatAt: heartbeat)
    }
}

extension Registry {
    /// Whether a daemon acts on this registry, from its heartbeat.
    public func daemonStatus(now: Date = Date()) throws -> DaemonStatus {
        try read { db in try DaemonStatus.load(db, now: now) }
    }

    /// Writes the heartbeat of the daemon that is this process (`version`, started at `startedAt`).
    public func beat(pid: Int32, host: String, version: String, startedAt: Date, now: Date = Date()) throws {
        try write { db in
            try DaemonRecord(pid: Int(pid), host: host, version: version, startedAt: startedAt, heartbeatAt: now, stoppedAt: nil).upsert(db)
        }
    }

    /// Marks the daemon `pid` as stopped cleanly.
    public func daemonStopped(pid: Int32, now: Date = Date()) throws {
        try write { db in
            guard var row = try DaemonRecord.fetchOne(db, key: 1), row.pid == Int(pid) else { return }
            row.stoppedAt = now
            try row.update(db)
        }
    }
}
