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
        var byStart: [Int64: (requests: Int64, latency: LatencyPairs)] = [:]
        var all = LatencyPairs()
        var cold = LatencyPairs()
        var versions: [String: (figures: VersionFigures, latency: LatencyPairs)] = [:]
        for row in try Row.fetchAll(db, sql: """
            SELECT start, version_id, requests, errors, cold_starts, warmups, latency_hist, cold_latency_hist
            FROM metric_buckets WHERE endpoint = ? AND start + width_s > ? ORDER BY start
            """, arguments: [name, since]) {
            let start: Int64 = row["start"]
            let version: String = row["version_id"]
            let requests: Int64 = row["requests"]
            var entry = versions[version] ?? (VersionFigures(version: version, requests: 0, errors: 0, coldStarts: 0, warmups: 0), LatencyPairs())
            entry.figures.requests += requests
            entry.figures.errors += row["errors"]
            entry.figures.coldStarts += row["cold_starts"]
            entry.figures.warmups += row["warmups"]
            byStart[start, default: (0, LatencyPairs())].requests += requests
            if let blob: Data = row["latency_hist"] {
                try byStart[start]?.latency.add(encoded: blob)
                try all.add(encoded: blob)
                try entry.latency.add(encoded: blob)
            }
            if let blob: Data = row["cold_latency_hist"] { try cold.add(encoded: blob) }
            versions[version] = entry
        }
        detail.points = byStart.keys.sorted().map { start in
            let entry = byStart[start]!
            return Point(start: start, requests: entry.requests, p50: entry.latency.milliseconds(atPercentile: 50),
                         p99: entry.latency.milliseconds(atPercentile: 99))
        }
        let warm = all.subtracting(cold)
        detail.warmP99 = warm.milliseconds(atPercentile: 99)
        detail.coldP99 = cold.milliseconds(atPercentile: 99)
        detail.bands = bands(warm: warm, cold: cold)
        detail.versions = versions.values.map { entry in
            var figures = entry.figures
            figures.p99 = entry.latency.milliseconds(atPercentile: 99)
            return figures
        }.sorted { $0.version < $1.version }
        detail.events = try Listings.events(db, endpoint: name, limit: 20)
        return detail
    }

    static func bands(warm: LatencyPairs, cold: LatencyPairs) -> [Band] {
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
