import Foundation

/// One metric bucket as stored: its place in time and its counts, with the histograms still encoded (they
/// are decoded only when merged).
public struct StoredBucket: Sendable {
    public var endpoint: String
    public var version: String
    public var start: Int64
    public var width: Int64
    public var requests: Int64
    public var errors: Int64
    public var coldStarts: Int64
    public var warmups: Int64
    public var warmupColdStarts: Int64
    public var maxInFlight: Int64
    public var costMicros: Int64
    public var warmupCostMicros: Int64
    public var latency: Data?
    public var coldLatency: Data?
    public var probes: Int64
    public var probeErrors: Int64
    public var probeColdStarts: Int64
    public var probeLatency: Data?
    /// The p99 stored with it (`p99_ms`), when read: what the sparkline's minutes are made of.
    public var p99Milliseconds: Double?

    public init(endpoint: String, version: String, start: Int64, width: Int64, requests: Int64 = 0, errors: Int64 = 0,
                coldStarts: Int64 = 0, warmups: Int64 = 0, warmupColdStarts: Int64 = 0, maxInFlight: Int64 = 0,
                costMicros: Int64 = 0, warmupCostMicros: Int64 = 0, latency: Data? = nil, coldLatency: Data? = nil,
                probes: Int64 = 0, probeErrors: Int64 = 0, probeColdStarts: Int64 = 0, probeLatency: Data? = nil,
                p99Milliseconds: Double? = nil) {
        self.endpoint = endpoint
        self.version = version
        self.start = start
        self.width = width
        self.requests = requests
        self.errors = errors
        self.coldStarts = coldStarts
        self.warmups = warmups
        self.warmupColdStarts = warmupColdStarts
        self.maxInFlight = maxInFlight
        self.costMicros = costMicros
        self.warmupCostMicros = warmupCostMicros
        self.latency = latency
        self.coldLatency = coldLatency
        self.probes = probes
        self.probeErrors = probeErrors
        self.probeColdStarts = probeColdStarts
        self.probeLatency = probeLatency
        self.p99Milliseconds = p99Milliseconds
    }
}

/// An endpoint's live figures over one window: in total and per version.
public struct EndpointFigures: Equatable, Sendable, Codable {
    /// Set only when made: with one version, it is that version's figures too (`only`).
    public private(set) var total: LiveFigures
    /// By version id, for the versions with buckets in the window.
    public var versions: [String: LiveFigures] {
        get { only.map { [$0: total] } ?? others }
        set { (only, others) = (nil, newValue) }
    }
    /// The one version with buckets in the window, whose figures are `total`: most endpoints. No table is
    /// kept for it (issue #20: the dashboard holds two windows' figures for 10,000 endpoints, and a table of
    /// one 264-byte entry is an allocation of about 600 bytes, made again at every refresh).
    private var only: String?
    private var others: [String: LiveFigures]

    public init(total: LiveFigures, versions: [String: LiveFigures] = [:]) {
        self.total = total
        self.others = versions
    }

    /// The figures of an endpoint with buckets of one version only in the window: the version's are its own.
    public init(only version: String, figures: LiveFigures) {
        total = figures
        only = version
        others = [:]
    }

    /// `versions[version]`, without making the table.
    public func figures(ofVersion version: String) -> LiveFigures? {
        guard let only else { return others[version] }
        return only == version ? total : nil
    }

    public static func == (lhs: EndpointFigures, rhs: EndpointFigures) -> Bool {
        guard lhs.total == rhs.total else { return false }
        if let left = lhs.only, let right = rhs.only { return left == right }
        return lhs.versions == rhs.versions
    }

    private enum CodingKeys: String, CodingKey { case total, versions }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(total: try container.decode(LiveFigures.self, forKey: .total),
                  versions: try container.decode([String: LiveFigures].self, forKey: .versions))
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(total, forKey: .total)
        try container.encode(versions, forKey: .versions)
    }

    /// Adds buckets of any endpoints and versions into figures per endpoint.
    public static func build(_ buckets: some Sequence<StoredBucket>, window: LiveWindow) throws -> [String: EndpointFigures] {
        var builder = Builder(window: window)
        for bucket in buckets { try builder.add(bucket) }
        return builder.figures()
    }

    /// Adds buckets of any endpoints and versions one at a time (a caller streaming them from the registry),
    /// then gives the figures per endpoint: each version's, and their sum as the endpoint's.
    public struct Builder: Sendable {
        public let window: LiveWindow
        /// Whether latency histograms are merged (`LiveFigures.Builder.histograms`).
        public let histograms: Bool
        private var versions: [String: [String: LiveFigures.Builder]] = [:]

        public init(window: LiveWindow, histograms: Bool = true) {
            self.window = window
            self.histograms = histograms
        }

        public mutating func add(_ bucket: StoredBucket) throws {
            try versions[bucket.endpoint, default: [:]][bucket.version, default: LiveFigures.Builder(window: window, histograms: histograms)]
                .add(bucket)
        }

        /// The figures of `endpoint`; zero when none of its buckets was added.
        public func figures(of endpoint: String) -> EndpointFigures {
            Self.figures(versions[endpoint] ?? [:], window: window, histograms: histograms)
        }

        /// The figures of every endpoint with buckets.
        public func figures() -> [String: EndpointFigures] {
            versions.mapValues { Self.figures($0, window: window, histograms: histograms) }
        }

        private static func figures(_ versions: [String: LiveFigures.Builder], window: LiveWindow, histograms: Bool) -> EndpointFigures {
            // One version: its figures are the endpoint's (no sketch merged again).
            if versions.count == 1, let only = versions.first { return EndpointFigures(only: only.key, figures: only.value.figuresNow()) }
            var total = LiveFigures.Builder(window: window, histograms: histograms)
            for builder in versions.values { total.add(builder) }
            return EndpointFigures(total: total.figuresNow(), versions: versions.mapValues { $0.figuresNow() })
        }
    }
}
