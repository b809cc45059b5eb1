import Foundation
import GRDB

extension VersionHealth {
    /// User traffic of `version` on `endpoint` in the metric buckets that overlap `since…now`
    /// (pings are stored apart and never counted here). The p99 is of warm requests: a new version's
    /// first requests are all cold starts, and judging them against the SLO would roll back every canary.
    public static func load(_ db: Database, endpoint: String, version: String, since: Date) throws -> VersionHealth {
        let start = Int64(since.timeIntervalSince1970)
        let rows = try Row.fetchAll(db, sql: """
            SELECT requests, errors, cold_starts, latency_hist, cold_latency_hist FROM metric_buckets
            WHERE endpoint = ? AND version_id = ? AND start + width_s > ?
            """, arguments: [endpoint, version, start])
        var requests: Int64 = 0, errors: Int64 = 0, coldStarts: Int64 = 0
        var latency = LatencyHistogram(), cold = LatencyHistogram()
        for row in rows {
            requests += row["requests"]
            errors += row["errors"]
            coldStarts += row["cold_starts"]
            if let blob: Data = row["latency_hist"] { latency.add(try LatencyHistogram(encoded: blob)) }
            if let blob: Data = row["cold_latency_hist"] { cold.add(try LatencyHistogram(encoded: blob)) }
        }
        return VersionHealth(requests: requests, errors: errors,
                             p99Milliseconds: latency.subtracting(cold).milliseconds(atPercentile: 99), coldStarts: coldStarts)
    }
}

/// Which versions of an endpoint may have served traffic in a window: the ones that take traffic now, and
/// those of any deployment that was active since `since`. Platform metrics are asked for these only, since
/// CloudWatch bills every metric asked for, and an endpoint's old versions serve nothing.
public enum ServingVersions {
    public static func load(_ db: Database, endpoint: String, since: Date) throws -> Set<String> {
        try Set(String.fetchAll(db, sql: """
            SELECT version_id FROM traffic WHERE endpoint = ? AND (weight > 0 OR live_weight > 0)
            UNION SELECT to_version FROM deployments WHERE endpoint = ? AND updated_at >= ?
            UNION SELECT from_version FROM deployments WHERE endpoint = ? AND updated_at >= ? AND from_version IS NOT NULL
            """, arguments: [endpoint, endpoint, since, endpoint, since]))
    }
}
