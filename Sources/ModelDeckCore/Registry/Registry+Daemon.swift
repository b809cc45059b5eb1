import Foundation
import GRDB

// The daemon's row: its heartbeat, so the dashboard and `get` can tell alive from offline.

extension DaemonStatus {
    public static func load(_ db: Database, now: Date) throws -> DaemonStatus {
        guard let row = try Row.fetchOne(db, sql: "SELECT pid, host, started_at, heartbeat_at, stopped_at FROM daemon WHERE id = 1") else {
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
        return DaemonStatus(state: state, pid: row["pid"], host: row["host"], startedAt: row["started_at"], heartbeatAt: heartbeat)
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
            try db.execute(sql: """
                INSERT INTO daemon (id, pid, host, version, started_at, heartbeat_at, stopped_at) VALUES (1, ?, ?, ?, ?, ?, NULL)
                ON CONFLICT (id) DO UPDATE SET pid = excluded.pid, host = excluded.host, version = excluded.version,
                    started_at = excluded.started_at, heartbeat_at = excluded.heartbeat_at, stopped_at = NULL
                """, arguments: [pid, host, version, startedAt, now])
        }
    }

    /// Marks the daemon `pid` as stopped cleanly.
    public func daemonStopped(pid: Int32, now: Date = Date()) throws {
        try write { db in
            try db.execute(sql: "UPDATE daemon SET stopped_at = ? WHERE id = 1 AND pid = ?", arguments: [now, pid])
        }
    }
}
