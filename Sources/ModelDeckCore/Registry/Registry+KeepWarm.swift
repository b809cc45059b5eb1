import Foundation
import GRDB

extension Registry {
    /// Per endpoint with user traffic since `since` (seconds since the epoch): the most user requests in
    /// flight at once (`max_in_flight`) over the `window` seconds before the end of its latest busy bucket —
    /// the keep-warm planner's `recentConcurrency`, which the simulator measures the same way.
    public static func recentPeakConcurrency(_ db: Database, since: Int64,
                                             window: Int64 = KeepWarmPlanner.concurrencyWindowSeconds) throws -> [String: Int] {
        var peaks: [String: Int] = [:]
        for row in try Row.fetchAll(db, sql: """
            SELECT b.endpoint AS endpoint, MAX(b.max_in_flight) AS peak
            FROM metric_buckets b
            JOIN (SELECT endpoint, MAX(start + width_s) AS last FROM metric_buckets
                  WHERE requests > 0 AND start >= ? GROUP BY endpoint) l ON l.endpoint = b.endpoint
            WHERE b.requests > 0 AND b.start >= l.last - b.width_s - ?
            GROUP BY b.endpoint
            """, arguments: [since, window]) {
            peaks[row["endpoint"]] = max(1, row["peak"] as Int? ?? 1)
        }
        return peaks
    }
}
