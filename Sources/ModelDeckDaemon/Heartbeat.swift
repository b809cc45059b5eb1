import Foundation
import GRDB
import ModelDeckCore

/// The daemon's row in the registry: alive while `heartbeat_at` is recent, stopped when `stopped_at` is set.
/// Readers (the TUI, `get`) judge it with `DaemonStatus`.
public enum Heartbeat {
    public static let version = ModelDeckRelease.version
    /// How often the daemon writes its heartbeat.
    public static let interval: Duration = .seconds(2)

    public static func beat(_ registry: Registry, startedAt: Date, now: Date = Date()) throws {
        try registry.write { db in
            try db.execute(sql: """
                INSERT INTO daemon (id, pid, host, version, started_at, heartbeat_at, stopped_at) VALUES (1, ?, ?, ?, ?, ?, NULL)
                ON CONFLICT (id) DO UPDATE SET pid = excluded.pid, host = excluded.host, version = excluded.version,
                    started_at = excluded.started_at, heartbeat_at = excluded.heartbeat_at, stopped_at = NULL
                """, arguments: [getpid(), ProcessInfo.processInfo.hostName, version, startedAt, now])
        }
    }

    public static func stopped(_ registry: Registry, now: Date = Date()) throws {
        try registry.write { db in
            try db.execute(sql: "UPDATE daemon SET stopped_at = ? WHERE id = 1 AND pid = ?", arguments: [now, getpid()])
        }
    }
}
