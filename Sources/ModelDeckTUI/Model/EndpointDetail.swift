import Foundation
import GRDB
import ModelDeckCore

/// What the detail view of one endpoint shows beyond its summary row: latency over the last hour, the
/// latency distribution with cold starts apart, per-version figures, and recent events.
public struct EndpointDetail: Sendable {
    /// One point of the latency chart: a metric bucket's start and its percentiles (all versions merged).
    public struct Point: Equatable, Sendable {
        public var start: Int64
        public var requests: Int64
        public var p50: Double?
        public var p99: Double?
    }

    /// How many requests fell in one latency range, warm and cold apart.
    public struct Band: Equatable, Sendable {
        public var label: String
        public var warm: UInt64
        public var cold: UInt64
    }

    /// One version's figures over the last hour.
    public struct VersionFigures: Equatable, Sendable {
        public var version: String
        public var requests: Int64
        public var errors: Int64
        public var coldStarts: Int64
        public var warmups: Int64
        public var p99: Double?
    }

    public var name: String
    public var points: [Point] = []
    public var bands: [Band] = []
    public var warmP99: Double?
    public var coldP99: Double?
    public var versions: [VersionFigures] = []
    public var events: [Listings.EventRow] = []

    /// Upper bounds of the histogram bands, in milliseconds; the last band is open.
    public static let bandLimits: [Double] = [10, 25, 50, 100, 250, 500, 1_000, 2_500, 5_000]

    public static func load(_ db: Database, endpoint name: String, now: Date) throws -> EndpointDetail {
        var detail = EndpointDetail(name: name)
        let since = Int64(now.timeIntervalSince1970) - 3_600
        var byStart: [Int64: (requests: Int64, histogram: LatencyHistogram)] = [:]
        var all = LatencyHistogram()
        var cold = LatencyHistogram()
        var versions: [String: (figures: VersionFigures, histogram: LatencyHistogram)] = [:]
        for row in try Row.fetchAll(db, sql: """
            SELECT * FROM metric_buckets WHERE endpoint = ? AND start + width_s > ? ORDER BY start
            """, arguments: [name, since]) {
            let bucket = try MetricBucket(row: row)
            let start: Int64 = row["start"]
            let version: String = row["version_id"]
            byStart[start, default: (0, LatencyHistogram())].requests += bucket.requests
            byStart[start]?.histogram.add(bucket.latency)
            all.add(bucket.latency)
            cold.add(bucket.coldLatency)
            var entry = versions[version] ?? (VersionFigures(version: version, requests: 0, errors: 0, coldStarts: 0, warmups: 0), LatencyHistogram())
            entry.figures.requests += bucket.requests
            entry.figures.errors += bucket.errors
            entry.figures.coldStarts += bucket.coldStarts
            entry.figures.warmups += bucket.warmups
            entry.histogram.add(bucket.latency)
            versions[version] = entry
        }
        detail.points = byStart.keys.sorted().map { start in
            let entry = byStart[start]!
            return Point(start: start, requests: entry.requests, p50: entry.histogram.milliseconds(atPercentile: 50),
                         p99: entry.histogram.milliseconds(atPercentile: 99))
        }
        let warm = all.subtracting(cold)
        detail.warmP99 = warm.milliseconds(atPercentile: 99)
        detail.coldP99 = cold.milliseconds(atPercentile: 99)
        detail.bands = bands(warm: warm, cold: cold)
        detail.versions = versions.values.map { entry in
            var figures = entry.figures
            figures.p99 = entry.histogram.milliseconds(atPercentile: 99)
            return figures
        }.sorted { $0.version < $1.version }
        detail.events = try Listings.events(db, endpoint: name, limit: 20)
        return detail
    }

    static func bands(warm: LatencyHistogram, cold: LatencyHistogram) -> [Band] {
        var lower: UInt64 = 0
        var result: [Band] = []
        for (index, limit) in (bandLimits + [Double(LatencyHistogram.highestMicroseconds) / 1_000]).enumerated() {
            let upper = UInt64(limit * 1_000)
            let label = index == bandLimits.count ? "≥ \(Self.label(bandLimits.last!))" : "< \(Self.label(limit))"
            let range = lower...(upper - 1)
            result.append(Band(label: label, warm: warm.count(microseconds: range), cold: cold.count(microseconds: range)))
            lower = upper
        }
        return result
    }

    static func label(_ milliseconds: Double) -> String {
        milliseconds >= 1_000 ? "\(Double(milliseconds / 1_000).formatted(.number.precision(.fractionLength(0...1))))s" : "\(Int(milliseconds))ms"
    }
}
