import Foundation
import GRDB

extension VersionHealth {
    /// User traffic of `version` on `endpoint` in the metric buckets that overlap `since…now`, read as every
    /// view reads a window (`LiveFigures`); pings are stored apart and never counted here. The p99 is of warm
    /// requests: a new version's first requests are all cold starts, and judging them against the SLO would
    /// roll back every canary.
    public static func load(_ db: Database, endpoint: String, version: String, since: Date, now: Date = Date()) throws -> VersionHealth {
        let start = Int64(since.timeIntervalSince1970.rounded(.down))
        let window = LiveWindow(start: start, end: max(start + 1, Int64(now.timeIntervalSince1970.rounded(.up)) + 1))
        var builder = LiveFigures.Builder(window: window)
        for bucket in try StoredBucket.fetchAll(db, overlapping: window, endpoint: endpoint, version: version) { try builder.add(bucket) }
        let figures = builder.figuresNow()
        return VersionHealth(requests: figures.requests, errors: figures.errors, p99Milliseconds: figures.warmP99Milliseconds,
                             coldStarts: figures.coldStarts)
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
