import Foundation
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
    /// The whole hour's figures (what keep-warm bought: warm hits, pings and their cost).
    public var hour: LiveFigures?
    public var versions: [VersionFigures] = []
    public var events: [Listings.EventRow] = []
    /// How long the platform keeps an idle instance, learned from the last day's gaps; nil until known.
    public var keepAlive: LearnedKeepAlive?
    /// The endpoint's latest `modeldeck bench` run.
    public var bench: BenchRun?
    /// Provisioned concurrency asked for and as the target has it, and what the environments wanted now cost
    /// per hour while configured (nil when the price table has no price for the target).
    public var provisioned: ProvisionedConcurrencyRecord?
    public var provisionedMicrosPerHour: Int64?

    /// Upper bounds of the histogram bands, in milliseconds; the last band is open.
    public static let bandLimits: [Double] = [10, 25, 50, 100, 250, 500, 1_000, 2_500, 5_000]

    /// The last hour of `name`'s metric buckets, and its recent events.
    public static func load(_ registry: Registry, endpoint name: String, now: Date) throws -> EndpointDetail {
        var detail = try build(endpoint: name, buckets: registry.buckets(endpoint: name, window: LiveWindow(last: 3_600, now: now)),
                               window: LiveWindow(last: 3_600, now: now), events: registry.listEvents(endpoint: name, limit: 20))
        detail.keepAlive = try registry.learnedKeepAlives(endpoints: [name], since: now.addingTimeInterval(-KeepAliveLearner.lookbackSeconds))[name]
        detail.bench = try registry.benchRuns(endpoint: name, limit: 1).first
        if let provisioned = try registry.provisionedConcurrency(endpoint: name), let endpoint = try registry.endpoint(named: name) {
            detail.provisioned = provisioned
            let table = (try? PriceTable.load()) ?? .standard
            if let target = try registry.targets().first(where: { $0.name == endpoint.target }),
               let rates = try? TargetPricing.provisionedRates(for: target, table: table) {
                let environments = max(provisioned.status.applied, provisioned.intent.wanted(at: now).concurrency)
                detail.provisionedMicrosPerHour = Money.micros(rates.perHour(environments: environments, memoryMB: endpoint.memoryMB))
            }
        }
        return detail
    }

    /// The detail of `name` from its buckets over `window` (oldest first): per-version and whole-hour figures
    /// are `LiveFigures` of that window, the chart is one point per bucket start.
    static func build(endpoint name: String, buckets: [StoredBucket], window: LiveWindow, events: [Listings.EventRow]) throws -> EndpointDetail {
        var detail = EndpointDetail(name: name)
        var byStart: [Int64: (requests: Int64, latency: LatencyPairs)] = [:]
        var versions: [String: LiveFigures.Builder] = [:]
        var all = LiveFigures.Builder(window: window)
        for bucket in buckets {
            try versions[bucket.version, default: LiveFigures.Builder(window: window)].add(bucket)
            try all.add(bucket)
            byStart[bucket.start, default: (0, LatencyPairs())].requests += bucket.requests
            if let blob = bucket.latency { try byStart[bucket.start]?.latency.add(encoded: blob) }
        }
        detail.points = byStart.keys.sorted().map { start in
            let entry = byStart[start]!
            return Point(start: start, requests: entry.requests, p50: entry.latency.milliseconds(atPercentile: 50),
                         p99: entry.latency.milliseconds(atPercentile: 99))
        }
        let total = all.figuresNow()
        detail.hour = total
        detail.warmP99 = total.warmP99Milliseconds
        detail.coldP99 = total.coldP99Milliseconds
        let merged = all.merged
        detail.bands = bands(warm: merged.all.subtracting(merged.cold), cold: merged.cold)
        detail.versions = versions.map { version, builder in
            let figures = builder.figuresNow()
            return VersionFigures(version: version, requests: figures.requests, errors: figures.errors, coldStarts: figures.coldStarts,
                                  warmups: figures.pings, p99: figures.p99Milliseconds)
        }.sorted { $0.version < $1.version }
        detail.events = events
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
