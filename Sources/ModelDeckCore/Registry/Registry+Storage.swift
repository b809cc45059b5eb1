import Foundation
import GRDB

/// How much room the registry takes, and where: what `modeldeck registry stats` prints and what the
/// `registry-growth` benchmark measures.
public struct RegistryStorage: Sendable, Equatable, Codable {
    public struct Table: Sendable, Equatable, Codable {
        public var name: String
        /// Pages the table and its indexes occupy in the main file (SQLite's `dbstat`), in bytes.
        public var bytes: Int64
        public var rows: Int64
    }

    /// The metric buckets of one width (a tier: 10 s, 1 min, 1 h).
    public struct Tier: Sendable, Equatable, Codable {
        public var widthSeconds: Int64
        public var rows: Int64
        /// Bytes of the two latency histograms of all these rows (what grows with traffic).
        public var histogramBytes: Int64
        public var largestHistogramBytes: Int64
        /// The oldest and newest bucket starts (Unix seconds).
        public var oldestStart: Int64
        public var newestStart: Int64
    }

    public var fileBytes: Int64
    public var walBytes: Int64
    /// Pages on the free list: room `compact` gives back to the file system.
    public var freeBytes: Int64
    public var tables: [Table]
    public var tiers: [Tier]
    /// The oldest metric bucket and the oldest event, if any (Unix seconds).
    public var oldestBucket: Int64?
    public var oldestEvent: Date?
    public var events: Int64
    /// Events written per day, over the last 7 days of the log.
    public var eventsPerDay: Double
    /// Metric buckets that start in the last day of data, and the bytes of their histograms: what a day of
    /// traffic adds before the tiers thin it out.
    public var lastDayBuckets: Int64
    public var lastDayHistogramBytes: Int64

    /// Bytes of the main file per event (table and indexes), 0 without events.
    public var bytesPerEvent: Double {
        guard events > 0, let table = tables.first(where: { $0.name == "events" }) else { return 0 }
        return Double(table.bytes) / Double(events)
    }
}

extension Registry {
    /// Sizes by table (pages in the main file, from `dbstat`), metric buckets by tier, the oldest data and
    /// the WAL's size. Reads only; safe while the daemon runs.
    public func storage() throws -> RegistryStorage {
        let walBytes = ((try? FileManager.default.attributesOfItem(atPath: path + "-wal"))?[.size] as? NSNumber)?.int64Value ?? 0
        return try read { db in
            let pageSize = try Int64.fetchOne(db, sql: "PRAGMA page_size") ?? 4_096
            let pages = try Int64.fetchOne(db, sql: "PRAGMA page_count") ?? 0
            let free = try Int64.fetchOne(db, sql: "PRAGMA freelist_count") ?? 0
            // An index counts towards its table.
            let objects = try Row.fetchAll(db, sql: """
                SELECT s.name AS name, COALESCE(m.tbl_name, s.name) AS tbl, SUM(s.pgsize) AS bytes
                FROM dbstat AS s LEFT JOIN sqlite_schema AS m ON m.name = s.name GROUP BY s.name
                """)
            var bytesByTable: [String: Int64] = [:]
            for row in objects { bytesByTable[row["tbl"], default: 0] += row["bytes"] }
            var tables: [RegistryStorage.Table] = []
            for name in try String.fetchAll(db, sql: "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name") {
                let rows = try Int64.fetchOne(db, sql: "SELECT COUNT(*) FROM \(name.quotedDatabaseIdentifier)") ?? 0
                tables.append(.init(name: name, bytes: bytesByTable[name] ?? 0, rows: rows))
            }
            tables.sort { ($0.bytes, $1.name) > ($1.bytes, $0.name) }
            let tiers = try Row.fetchAll(db, sql: """
                SELECT width_s, COUNT(*) AS rows,
                       SUM(COALESCE(LENGTH(latency_hist), 0) + COALESCE(LENGTH(cold_latency_hist), 0)) AS hist_bytes,
                       MAX(COALESCE(LENGTH(latency_hist), 0)) AS largest, MIN(start) AS oldest, MAX(start) AS newest
                FROM metric_buckets GROUP BY width_s ORDER BY width_s
                """).map { row in
                RegistryStorage.Tier(widthSeconds: row["width_s"], rows: row["rows"], histogramBytes: row["hist_bytes"],
                                     largestHistogramBytes: row["largest"], oldestStart: row["oldest"], newestStart: row["newest"])
            }
            let events = try Int64.fetchOne(db, sql: "SELECT COUNT(*) FROM events") ?? 0
            let oldestEvent = try Date.fetchOne(db, sql: "SELECT MIN(at) FROM events")
            let newestEvent = try Date.fetchOne(db, sql: "SELECT MAX(at) FROM events")
            var perDay = 0.0
            if let newestEvent, let oldestEvent {
                let from = max(oldestEvent, newestEvent.addingTimeInterval(-7 * 86_400))
                let recent = try Int64.fetchOne(db, sql: "SELECT COUNT(*) FROM events WHERE at >= ?", arguments: [from]) ?? 0
                perDay = Double(recent) / max(1, newestEvent.timeIntervalSince(from) / 86_400)
            }
            let newest = tiers.map(\.newestStart).max() ?? 0
            let lastDay = try Row.fetchOne(db, sql: """
                SELECT COUNT(*) AS rows, SUM(COALESCE(LENGTH(latency_hist), 0) + COALESCE(LENGTH(cold_latency_hist), 0)) AS bytes
                FROM metric_buckets WHERE start > ?
                """, arguments: [newest - 86_400])
            return RegistryStorage(fileBytes: pages * pageSize, walBytes: walBytes, freeBytes: free * pageSize, tables: tables,
                                   tiers: tiers, oldestBucket: tiers.map(\.oldestStart).min(), oldestEvent: oldestEvent,
                                   events: events, eventsPerDay: perDay, lastDayBuckets: (lastDay?["rows"] as Int64?) ?? 0,
                                   lastDayHistogramBytes: (lastDay?["bytes"] as Int64?) ?? 0)
        }
    }

    /// `PRAGMA wal_checkpoint(TRUNCATE)`: copies the WAL into the main file and empties it. Returns false
    /// when a reader still on an old snapshot kept it from finishing (nothing is lost; the next one goes on).
    @discardableResult
    public func checkpoint() throws -> Bool {
        do {
            return try writer.writeWithoutTransaction { db in
                try Row.fetchOne(db, sql: "PRAGMA wal_checkpoint(TRUNCATE)").map { ($0[0] as Int) == 0 } ?? true
            }
        } catch let error as DatabaseError {
            throw ModelDeckError("registry \(path): cannot checkpoint: \(error.message ?? "\(error.resultCode)")")
        }
    }

    /// Reads the metric buckets the dashboard reads (those that end after `since`), blobs included, without
    /// decoding anything: the floor under any snapshot load, for the `registry-growth` benchmark.
    public func scanBuckets(endingAfter since: Int64) throws -> (rows: Int, bytes: Int) {
        try read { db in
            var rows = 0, bytes = 0
            let cursor = try Row.fetchCursor(db, sql: """
                SELECT endpoint, start, width_s, requests, errors, cold_starts, p99_ms, cost_micros, latency_hist
                FROM metric_buckets WHERE start + width_s > ?
                """, arguments: [since])
            while let row = try cursor.next() {
                rows += 1
                if let blob: Data = row["latency_hist"] { bytes += blob.count }
            }
            return (rows, bytes)
        }
    }
}
