import Foundation
import GRDB

/// The audit log is history and is never pruned; it is archived by exporting it (`get events --since … -o json`).
public enum AuditLog {
    /// Events at or after `since` (all of them when nil), oldest first, optionally for one endpoint; at most
    /// `limit` (the most recent ones) when given.
    public static func events(_ db: Database, since: Date?, endpoint: String? = nil, limit: Int? = nil) throws -> [Listings.EventRow] {
        let rows = try AuditEvent.fetchAll(db, sql: """
            SELECT * FROM (
                SELECT * FROM events WHERE (?1 IS NULL OR at >= ?1) AND (?2 IS NULL OR endpoint = ?2) ORDER BY id DESC LIMIT ?3
            ) ORDER BY id
            """, arguments: [since, endpoint, limit ?? -1])
        return rows.map { e in
            Listings.EventRow(id: e.id ?? 0, at: e.at, actor: e.actor, endpoint: e.endpoint, deploymentId: e.deploymentId,
                              kind: e.kind, message: e.message)
        }
    }
}

extension Registry {
    /// Pages freed per transaction by an incremental compaction.
    public static let compactPagesPerStep = 2_048

    /// Gives the room of deleted rows back to the file system and empties the WAL; safe while the daemon runs.
    ///
    /// The first compaction of a registry runs one `VACUUM` that also sets `auto_vacuum = INCREMENTAL`:
    /// it rewrites the file in one write transaction, during which other writers wait (busy timeout, 10 s)
    /// while readers go on (WAL). Every later compaction frees pages with `PRAGMA incremental_vacuum`, at
    /// most `compactPagesPerStep` pages (8 MB) per transaction, so the write lock is never held for long.
    /// Then `PRAGMA wal_checkpoint(TRUNCATE)` empties the WAL, or says it could not because a reader still
    /// holds an old snapshot. Returns the sizes before and after.
    public func compact() throws -> (before: RegistryStorage, after: RegistryStorage, fullVacuum: Bool, checkpointBusy: Bool) {
        let before = try storage()
        do {
            let mode = try writer.read { db in try Int.fetchOne(db, sql: "PRAGMA auto_vacuum") } ?? 0
            let full = mode != 2
            if full {
                try writer.writeWithoutTransaction { db in
                    try db.execute(sql: "PRAGMA auto_vacuum = INCREMENTAL")
                    try db.execute(sql: "VACUUM")
                }
            } else {
                var left = Int.max
                while left > 0 {
                    let now = try writer.write { db in
                        try db.execute(sql: "PRAGMA incremental_vacuum(\(Self.compactPagesPerStep))")
                        return try Int.fetchOne(db, sql: "PRAGMA freelist_count") ?? 0
                    }
                    guard now < left else { break }
                    left = now
                }
            }
            let complete = try checkpoint()
            return (before, try storage(), full, !complete)
        } catch let error as DatabaseError {
            throw ModelDeckError("registry \(path): cannot compact: \(error.message ?? "\(error.resultCode)")")
        }
    }
}

extension Registry {
    /// Every event since `since` (of one endpoint, or all), oldest first, at most `limit`: what `get events
    /// --since` exports for archiving.
    public func events(since: Date?, endpoint: String? = nil, limit: Int? = nil) throws -> [Listings.EventRow] {
        try read { db in try AuditLog.events(db, since: since, endpoint: endpoint, limit: limit) }
    }
}
