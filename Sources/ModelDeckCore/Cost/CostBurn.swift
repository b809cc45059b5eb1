import Foundation

/// A cost in micro-dollars, split by what spent it: user traffic, keep-warm pings, and `modeldeck bench` runs.
public struct CostSplit: Codable, Equatable, Sendable {
    public var trafficMicros: Int64 = 0
    public var keepWarmMicros: Int64 = 0
    /// Bench runs started in the period (their requests are kept out of the traffic figures, not out of the bill).
    public var benchMicros: Int64 = 0
    public var totalMicros: Int64 { trafficMicros + keepWarmMicros + benchMicros }

    public init(trafficMicros: Int64 = 0, keepWarmMicros: Int64 = 0, benchMicros: Int64 = 0) {
        self.trafficMicros = trafficMicros
        self.keepWarmMicros = keepWarmMicros
        self.benchMicros = benchMicros
    }

    mutating func add(_ other: CostSplit) {
        trafficMicros += other.trafficMicros
        keepWarmMicros += other.keepWarmMicros
        benchMicros += other.benchMicros
    }

    private enum CodingKeys: String, CodingKey { case trafficMicros, keepWarmMicros, benchMicros, totalMicros }

    public init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        trafficMicros = try container.decode(Int64.self, forKey: .trafficMicros)
        keepWarmMicros = try container.decode(Int64.self, forKey: .keepWarmMicros)
        benchMicros = try container.decodeIfPresent(Int64.self, forKey: .benchMicros) ?? 0
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(trafficMicros, forKey: .trafficMicros)
        try container.encode(keepWarmMicros, forKey: .keepWarmMicros)
        try container.encode(benchMicros, forKey: .benchMicros)
        try container.encode(totalMicros, forKey: .totalMicros)
    }
}

/// Burn figures of one scope: a version, an endpoint, or all endpoints.
public struct BurnFigures: Codable, Equatable, Sendable {
    /// Per hour at the rate of the last 5 minutes (their cost × 12).
    public var perHourNow = CostSplit()
    /// Since midnight UTC, bench runs started today included.
    public var today = CostSplit()
    /// A 30-day month (720 h) at the rate of the last 24 hours — or of the time since the endpoint's first
    /// measurement, when that is later (at least 5 minutes). Bench runs are one-off and not projected.
    public var projectedMonth = CostSplit()

    public init() {}

    mutating func add(_ other: BurnFigures) {
        perHourNow.add(other.perHourNow)
        today.add(other.today)
        projectedMonth.add(other.projectedMonth)
    }
}

/// What an endpoint costs, in total and per version.
public struct EndpointBurn: Codable, Equatable, Sendable {
    public struct Version: Codable, Equatable, Sendable {
        public var version: String
        public var burn: BurnFigures
    }

    public var endpoint: String
    public var target: String
    /// How its invocations are priced (`aws-lambda x86_64 us-east-1`), nil when they cost nothing (a local
    /// target without `price_as`, an http target).
    public var pricedAs: String?
    public var burn: BurnFigures
    public var dailyBudgetMicros: Int64?
    /// Today's cost (traffic and keep-warm) as parts per million of the daily budget; nil without a budget.
    public var budgetUsedPPM: Int64?
    /// Versions with measurements in the last 24 hours or today, by version id.
    public var versions: [Version]
}

/// Cost burn per endpoint, per version and in total, read from the costs the gateway (or a target driver)
/// stored with the metric buckets. Read-only: the TUI and `modeldeck cost burn` call `CostBurn.load`.
public struct CostBurn: Codable, Equatable, Sendable {
    public var at: Date
    public var endpoints: [EndpointBurn]
    public var total: BurnFigures
    public var totalBudgetMicros: Int64?

    public static let nowWindowSeconds: Int64 = 300
    public static let projectionWindowSeconds: Int64 = 86_400
    public static let monthSeconds: Int64 = 30 * 86_400

    /// `micros` spent over `seconds`, as a 30-day month. Integer arithmetic: no rounding until the last division.
    static func project(_ micros: Int64, over seconds: Int64) -> Int64 {
        seconds.dividingFullWidth(micros.multipliedFullWidth(by: monthSeconds)).quotient
    }

    /// Laid out for `modeldeck cost burn`: one line per endpoint, then its versions indented, then the total.
    public static func table(_ report: CostBurn) -> Table {
        func money(_ split: CostSplit) -> String {
            let parts = [split.keepWarmMicros > 0 ? "warm \(Format.dollars(micros: split.keepWarmMicros))" : nil,
                         split.benchMicros > 0 ? "bench \(Format.dollars(micros: split.benchMicros))" : nil].compactMap { $0 }
            return parts.isEmpty ? Format.dollars(micros: split.totalMicros)
                : "\(Format.dollars(micros: split.totalMicros)) (\(parts.joined(separator: ", ")))"
        }
        var rows: [[String]] = []
        for endpoint in report.endpoints {
            let budget = endpoint.dailyBudgetMicros.map { budget in
                "\(endpoint.budgetUsedPPM.map { Format.percent(ppm: $0) } ?? "-") of \(Format.dollars(micros: budget))"
            } ?? "-"
            rows.append([endpoint.endpoint, endpoint.pricedAs ?? "free (\(endpoint.target))", money(endpoint.burn.perHourNow),
                         money(endpoint.burn.today), money(endpoint.burn.projectedMonth), budget])
            for version in endpoint.versions where endpoint.versions.count > 1 {
                rows.append(["  " + version.version, "", money(version.burn.perHourNow), money(version.burn.today),
                             money(version.burn.projectedMonth), ""])
            }
        }
        rows.append(["total", "", money(report.total.perHourNow), money(report.total.today), money(report.total.projectedMonth),
                     report.totalBudgetMicros.map { "of \(Format.dollars(micros: $0))" } ?? "-"])
        return Table(headers: ["endpoint", "priced as", "per hour now", "today (UTC)", "month projected", "daily budget"], rows: rows)
    }
}

extension CostBurn {
    /// What today's cost and the month's projection are summed over, as of `now` (Unix seconds): the stored
    /// buckets by their start, from midnight UTC (today) and from `projectionWindowSeconds` back (the
    /// projection), up to `now` included (a bucket stamped ahead of now is not counted yet).
    public struct Bounds: Equatable, Sendable {
        public var now: Int64

        public init(now: Int64) { self.now = now }

        public var dayStart: Int64 { now / 86_400 * 86_400 }
        public var projectionStart: Int64 { now - projectionWindowSeconds }
        /// The earliest start counted at all.
        public var earliest: Int64 { min(dayStart, projectionStart) }

        public func counts(start: Int64) -> Bool { start >= earliest && start <= now }
    }

    /// One endpoint version's stored costs within `Bounds`: what `CostBurn` makes today's cost and the month's
    /// projection from. Read by one query (`CostBurn.sums`), or kept up to date by the dashboard
    /// (`RollingCost`); the figures are made from them by `burn(versions:bench:live:now:)` either way.
    public struct VersionSums: Equatable, Sendable {
        public var dayTraffic: Int64 = 0
        public var dayWarm: Int64 = 0
        public var lastTraffic: Int64 = 0
        public var lastWarm: Int64 = 0
        /// The earliest bucket start in the projection's window.
        public var firstStart: Int64?
        /// How many buckets are summed: a version is listed while it has one.
        public var buckets: Int64 = 0

        public init(dayTraffic: Int64 = 0, dayWarm: Int64 = 0, lastTraffic: Int64 = 0, lastWarm: Int64 = 0, firstStart: Int64? = nil,
                    buckets: Int64 = 0) {
            self.dayTraffic = dayTraffic
            self.dayWarm = dayWarm
            self.lastTraffic = lastTraffic
            self.lastWarm = lastWarm
            self.firstStart = firstStart
            self.buckets = buckets
        }

        /// Adds a bucket's costs (`sign` 1), or takes them out (-1: `firstStart` is then the caller's to find
        /// again). A bucket `bounds` does not count changes nothing.
        mutating func add(start: Int64, traffic: Int64, warm: Int64, bounds: Bounds, sign: Int64 = 1) {
            guard bounds.counts(start: start) else { return }
            buckets += sign
            if start >= bounds.dayStart {
                dayTraffic += sign * traffic
                dayWarm += sign * warm
            }
            if start >= bounds.projectionStart {
                lastTraffic += sign * traffic
                lastWarm += sign * warm
                if sign > 0 { firstStart = min(firstStart ?? start, start) }
            }
        }
    }

    /// An endpoint's burn, in total and per version: the rate now from the live figures of the last
    /// `nowWindowSeconds` (`live`), today's cost and the projection from its versions' stored sums, and the
    /// bench runs started today (`bench`, by version). The one place these figures are made.
    static func burn(versions sums: [String: VersionSums], bench: [String: Int64], live: EndpointFigures?,
                     now: Int64) -> (burn: BurnFigures, versions: [EndpointBurn.Version]) {
        let observed = observedSeconds(sums, now: now)
        var burn = BurnFigures()
        var versions: [EndpointBurn.Version] = []
        for version in Set(sums.keys).union(bench.keys).sorted() {
            let figures = versionBurn(version, sums: sums, bench: bench, live: live, observed: observed)
            versions.append(.init(version: version, burn: figures))
            burn.add(figures)
        }
        return (burn, versions)
    }

    /// The endpoint's burn of `burn(versions:bench:live:now:)`, without its versions listed (the dashboard's
    /// rows, 10,000 at every refresh): the same versions' figures, added (integers, in any order).
    static func totalBurn(versions sums: [String: VersionSums], bench: [String: Int64], live: EndpointFigures?, now: Int64) -> BurnFigures {
        let observed = observedSeconds(sums, now: now)
        var burn = BurnFigures()
        for version in sums.keys { burn.add(versionBurn(version, sums: sums, bench: bench, live: live, observed: observed)) }
        for version in bench.keys where sums[version] == nil {
            burn.add(versionBurn(version, sums: sums, bench: bench, live: live, observed: observed))
        }
        return burn
    }

    /// One observed span per endpoint, so its versions' projections add up to its own.
    private static func observedSeconds(_ sums: [String: VersionSums], now: Int64) -> Int64 {
        let projectionStart = now - projectionWindowSeconds
        var firstStart: Int64?
        for sum in sums.values { if let start = sum.firstStart { firstStart = min(firstStart ?? start, start) } }
        return max(nowWindowSeconds, now - max(projectionStart, firstStart ?? projectionStart))
    }

    private static func versionBurn(_ version: String, sums: [String: VersionSums], bench: [String: Int64], live: EndpointFigures?,
                                    observed: Int64) -> BurnFigures {
        var figures = BurnFigures()
        let rate = live?.figures(ofVersion: version)
        figures.perHourNow = CostSplit(trafficMicros: (rate?.burnMicrosPerHour ?? 0) - (rate?.pingBurnMicrosPerHour ?? 0),
                                       keepWarmMicros: rate?.pingBurnMicrosPerHour ?? 0)
        if let sum = sums[version] {
            figures.today = CostSplit(trafficMicros: sum.dayTraffic, keepWarmMicros: sum.dayWarm)
            figures.projectedMonth = CostSplit(trafficMicros: project(sum.lastTraffic, over: observed),
                                               keepWarmMicros: project(sum.lastWarm, over: observed))
        }
        figures.today.benchMicros = bench[version] ?? 0
        return figures
    }
}
