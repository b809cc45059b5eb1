import Foundation
import GRDB

// The dashboard's rolling windows (`RollingFigures`): what each refresh reads.

extension RollingFigures {
    /// Brings the windows to `now` in the caller's read transaction: the buckets written since the last
    /// refresh (by `write_seq`) and those the windows moved over, through the indexes on `write_seq`, `start`
    /// and (`width_s`, `start`); a full read of the windows the first time, or when time went back or jumped.
    public mutating func refresh(_ db: Database, now: Int64) throws {
        let sequence = try BucketWriteSequence.value(db)
        guard let reads = reads(now: now) else {
            let from = now - longest
            let cursor = try Row.fetchCursor(db, sql: """
                SELECT \(StoredBucket.selection) FROM metric_buckets
                WHERE start > :from - (SELECT IFNULL(MAX(width_s), 0) FROM metric_buckets) AND start + width_s > :from
                """, arguments: ["from": from])
            reset(now: now, sequence: sequence)
            while let row = try cursor.next() { try place(StoredBucket(row: row)) }
            cost.load(try CostBurn.sums(db, bounds: CostBurn.Bounds(now: now)), now: now)
            sparkline = RollingSparkline(try Registry.minuteP99s(db, since: RollingSparkline.from(now: now)), now: now)
            return
        }
        // Streamed into buckets (no array of rows first). Without `histograms`, the sketches are not read.
        func buckets(_ sql: String, _ arguments: StatementArguments, histograms: Bool = true) throws -> [StoredBucket] {
            let columns = histograms ? StoredBucket.selection : StoredBucket.countsSelection
            let rows = try Row.fetchCursor(db, sql: "SELECT \(columns) FROM metric_buckets WHERE " + sql, arguments: arguments)
            var result: [StoredBucket] = []
            while let row = try rows.next() { result.append(StoredBucket(row: row)) }
            return result
        }
        var moves = Moves()
        moves.sequence = sequence
        if sequence > reads.after { moves.written = try buckets("write_seq > ?", [reads.after]) }
        moves.entering = try buckets("start >= ? AND start < ?", [reads.entering.lowerBound, reads.entering.upperBound])
        let widths = try MetricRollup.widths(db, below: Int64.max)
        // When the windows cross a bucket edge, these are a bucket per endpoint version and window (issue #20: the
        // refreshes that took 0.25-0.33 s). A bucket coming to straddle a start is kept as it was added (its
        // sketches only where the window has them) and leaves as kept: what is read of the buckets that left is
        // only those that never straddled (a refresh that moved by a bucket's width or more).
        for (length, from, to) in reads.starts where to > from {
            let histograms = !countsOnly.contains(length)
            var left: [StoredBucket] = []
            for width in widths where to - width >= from {
                left += try buckets("width_s = ? AND start >= ? AND start <= ?", [width, from, to - width], histograms: histograms)
            }
            moves.left[length] = left
            moves.straddling[length] = try buckets("start >= ? AND start < ?", [from, to], histograms: histograms)
        }
        if !reads.leavingProjection.isEmpty {
            let rows = try Row.fetchCursor(db, sql: """
                SELECT endpoint, version_id, start, width_s, cost_micros, warmup_cost_micros FROM metric_buckets WHERE start >= ? AND start < ?
                """, arguments: [reads.leavingProjection.lowerBound, reads.leavingProjection.upperBound])
            while let row = try rows.next() {
                moves.leavingProjection.append(StoredBucket(endpoint: row[0], version: row[1], start: row[2], width: row[3], costMicros: row[4],
                                                            warmupCostMicros: row[5]))
            }
        }
        let rereads = refresh(moves, now: now)
        for version in rereads.figures {
            try reload(version, from: buckets("""
                endpoint = ? AND version_id = ? AND start > ? - (SELECT IFNULL(MAX(width_s), 0) FROM metric_buckets) AND start + width_s > ?
                """, [version.endpoint, version.version, now - longest, now - longest]))
        }
        let bounds = CostBurn.Bounds(now: now)
        if rereads.allCost {
            cost.load(try CostBurn.sums(db, bounds: bounds), now: now)
        } else {
            for version in rereads.cost {
                cost.set(version, try CostBurn.sums(db, bounds: bounds, endpoint: version.endpoint, version: version.version))
            }
            for version in rereads.firstStarts where !rereads.cost.contains(version) {
                cost.setFirstStart(version, try CostBurn.firstStart(db, bounds: bounds, endpoint: version.endpoint, version: version.version))
            }
        }
        for key in rereads.minutes where key.minute >= RollingSparkline.from(now: now) {
            sparkline.set(key.version, minute: key.minute, point: try Registry.minuteP99(db, key.version, minute: key.minute))
        }
    }
}
