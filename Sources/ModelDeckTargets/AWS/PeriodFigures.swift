import Foundation
import ModelDeckCore

/// What a platform's metrics (CloudWatch) say one version did in one period, durations in milliseconds: the
/// figures every cloud driver turns into the same metric buckets the local gateway fills.
public struct PeriodFigures: Equatable, Sendable {
    public var invocations: Double = 0
    public var errors: Double = 0
    public var throttles: Double = 0
    public var p50: Double?
    public var p90: Double?
    public var p99: Double?
    public var maximum: Double?
    public var sum: Double?
    public var concurrency: Double?
    /// Requests that waited for a new instance, where the platform counts them (SageMaker's `ModelSetupTime`).
    public var coldStarts: Double = 0
    /// Running task time in the period, in ms, where the platform bills running tasks (Fargate: `FargateTaskTime`).
    public var taskMilliseconds: Int64 = 0
    /// The running time so far (ms) of each task that started in the period: its rounding up and its minimum are
    /// billed here, where it started.
    public var startedTaskLifetimes: [Int64] = []
    /// vCPUs of each of those tasks, for their price.
    public var taskVCPU: Decimal = 0
    /// Instances that ran through the period, where the platform bills them by the hour (SageMaker real-time).
    public var instances: Double?
    /// The instances' average CPU (percent of one core) and memory (percent) use, where the platform reports them.
    public var cpuUtilization: Double?
    public var memoryUtilization: Double?

    public init() {}

    /// The period as a metric bucket's observed fields.
    ///
    /// - Throttled requests count as requests and as errors: a caller who got a 429 was not served, and the
    ///   SLO should see it. (Lambda's own `Invocations` and `Errors` leave throttles out.)
    /// - Cost: requests × request price + Σ`Duration` × memory × GB-second price. `Duration` is not rounded
    ///   up to the billed millisecond and leaves out a cold start's billed init, so this trails the bill by
    ///   under 1 ms of duration per request plus init time; exact figures need the billing report.
    /// - Task time (Fargate), with `taskRates`: `TaskRates.cost` at `taskVCPU` and `memoryMB` of `taskMilliseconds`,
    ///   plus, for each task that started in the period, what its billing adds to its running time (rounding up
    ///   to the second, and the one-minute minimum), on top of any invocation cost.
    public func bucket(memoryMB: Int, rates: InvocationRates?, taskRates: TaskRates? = nil) -> MetricBucket {
        var bucket = MetricBucket()
        // CloudWatch's figures pass AWSNumber: one out of range (or NaN) counts as zero rather than trap.
        let served = AWSNumber.whole(invocations) ?? 0
        let throttled = AWSNumber.whole(throttles) ?? 0
        bucket.requests = served + throttled
        bucket.errors = (AWSNumber.whole(errors) ?? 0) + throttled
        bucket.latency = latency(count: UInt64(max(0, served)))
        bucket.maxInFlight = AWSNumber.whole(concurrency ?? 0) ?? 0
        bucket.coldStarts = AWSNumber.whole(coldStarts) ?? 0
        // A percentage past any instance's cores (or not a number) is left out as the counts are.
        bucket.cpuUtilizationPercent = cpuUtilization.flatMap { AWSNumber.whole($0, limit: 100_000) != nil ? $0 : nil }
        bucket.memoryUtilizationPercent = memoryUtilization.flatMap { AWSNumber.whole($0, limit: 100) != nil ? $0 : nil }
        if let rates, served > 0 {
            let billedMBMilliseconds = AWSNumber.whole((AWSNumber.whole(sum ?? 0).map(Double.init) ?? 0) * Double(memoryMB),
                                                       limit: 1e18, rounding: .up) ?? 0
            let dollars = rates.cost(InvocationUsage(requests: served, billedMBMilliseconds: billedMBMilliseconds, bytesIn: 0, bytesOut: 0))
            bucket.costMicros = Int64((NSDecimalNumber(decimal: dollars * 1_000_000).doubleValue).rounded())
        }
        if let taskRates, taskMilliseconds > 0 || !startedTaskLifetimes.isEmpty {
            let topUps = startedTaskLifetimes.reduce(Int64(0)) { $0 + taskRates.billedMilliseconds(running: $1) - max(0, $1) }
            bucket.costMicros += Money.micros(taskRates.cost(billedMilliseconds: taskMilliseconds + topUps, vcpu: taskVCPU, memoryMB: memoryMB))
        }
        return bucket
    }

    /// A histogram of `count` requests rebuilt from CloudWatch's statistics, which is all CloudWatch keeps.
    ///
    /// With percentiles, each band is recorded at its upper edge: ⌈50%⌉ of the requests at p50, up to
    /// ⌈90%⌉ at p90, up to ⌈99%⌉ at p99, the rest at the maximum. The histogram's own p50, p90, p99 and maximum
    /// then equal CloudWatch's (the latency sketch ranks a percentile the same way, to its 0.5% precision), while
    /// values between those points are overstated — a pessimistic approximation, never an optimistic one.
    /// With very few requests a percentile's rank is the maximum's, and the histogram shows the maximum there.
    /// Without percentiles (CloudWatch had none for the period, or `percentiles` is off) one request is
    /// recorded at the maximum and the others at the mean of the rest, which keeps the mean and the maximum.
    func latency(count: UInt64) -> LatencyHistogram {
        var histogram = LatencyHistogram()
        guard count > 0 else { return histogram }
        func micros(_ ms: Double) -> UInt64 { UInt64(AWSNumber.whole(max(0, ms * 1_000), limit: 1e15) ?? 0) }
        let points = [(50.0, p50), (90.0, p90), (99.0, p99), (100.0, maximum)].compactMap { p, v in v.map { (p, $0) } }
        if points.contains(where: { $0.0 < 100 }) {
            // Bands of sample ranks (through, value). With few requests two percentiles fall on one rank (of 10
            // requests, p99 and the maximum are both the 10th): that sample takes the higher value and the band
            // below keeps the rest, so no figure is lowered and the lower samples are not raised.
            var bands: [(through: UInt64, value: Double)] = []
            var floor = 0.0
            for (index, (percentile, value)) in points.enumerated() {
                floor = max(floor, value)  // percentiles never decrease; a revised figure might
                let rank = index == points.count - 1
                    ? count : min(count, max(1, UInt64((percentile.nextDown * Double(count) / 100).rounded(.up))))  // the sketch's rank
                guard let last = bands.last, rank <= last.through else { bands.append((rank, floor)); continue }
                let below = bands.count > 1 ? bands[bands.count - 2].through : 0
                if last.through - below > 1 {
                    bands[bands.count - 1].through -= 1
                    bands.append((last.through, floor))
                } else {
                    bands[bands.count - 1].value = floor
                }
            }
            var recorded: UInt64 = 0
            for band in bands {
                histogram.record(microseconds: micros(band.value), count: band.through - recorded)
                recorded = band.through
            }
        } else if let maximum {
            histogram.record(microseconds: micros(maximum))
            if count > 1 {
                let rest = sum.map { max(0, ($0 - maximum) / Double(count - 1)) } ?? maximum
                histogram.record(microseconds: micros(min(rest, maximum)), count: count - 1)
            }
        } else if let sum {
            histogram.record(microseconds: micros(sum / Double(count)), count: count)
        }
        return histogram
    }
}

/// A statistic a cloud driver reads from CloudWatch per version and period, and where it lands in `PeriodFigures`.
protocol PlatformStatistic: CaseIterable, Sendable {
    var name: String { get }
    var metric: String { get }
    /// `Sum`, `Maximum`, `SampleCount`, `p99`, …
    var stat: String { get }
    var isPercentile: Bool { get }
    func set(_ value: Double, in figures: inout PeriodFigures)
    /// Whether one of the statistics counts cold starts (`PeriodFigures.coldStarts`).
    static var countsColdStarts: Bool { get }
}

/// One version's series in CloudWatch: its ModelDeck id, the dimensions that select it, and the memory it ran with.
struct PlatformSeries: Sendable {
    /// Starts the query ids of this series (`v12`): a lowercase letter, then letters, digits, underscores.
    var key: String
    var version: String
    var dimensions: [(name: String, value: String)]
    var memoryMB: Int
}

extension CloudWatch {
    /// Reads `statistics` of every series from `from` to `to` in `period`-second periods: one figure per
    /// version and period, which the daemon prices and stores as buckets of that width (collecting an
    /// interval again replaces the platform's figures, and keeps the warmups the pings recorded).
    static func collect<Statistic: PlatformStatistic>(_ statistics: [Statistic], namespace: String, series: [PlatformSeries],
                                                      endpoint: String, from: Date, to: Date, period: Int64,
                                                      client: AWSClient) async throws -> PlatformMetrics {
        guard !series.isEmpty, !statistics.isEmpty else { return PlatformMetrics(countsColdStarts: Statistic.countsColdStarts) }
        let start = Date(timeIntervalSince1970: Double(Int64(from.timeIntervalSince1970.rounded(.down)) / period * period))
        let end = Date(timeIntervalSince1970: Double((Int64(to.timeIntervalSince1970.rounded(.up)) + period - 1) / period * period))
        func id(_ one: PlatformSeries, _ statistic: Statistic) -> String { "\(one.key)_\(statistic.name)" }
        let queries = series.flatMap { one in
            statistics.map { statistic in
                Query(id: id(one, statistic), namespace: namespace, metric: statistic.metric, dimensions: one.dimensions,
                      periodSeconds: Int(period), stat: statistic.stat)
            }
        }
        let points = try await points(queries, from: start, to: end, client: client)
        var metrics = PlatformMetrics(countsColdStarts: Statistic.countsColdStarts)
        for one in series {
            var periods: [Int64: PeriodFigures] = [:]
            for statistic in statistics {
                // A timestamp outside the window asked for (or not a number at all) is not one of ours.
                for point in points[id(one, statistic)] ?? [] where point.start >= start && point.start <= end {
                    // No count or duration of one period is NaN, negative or beyond 10¹²: such a point is left
                    // out (the figure stays missing) and named, rather than stored as if measured.
                    guard AWSNumber.whole(point.value) != nil else {
                        metrics.refused.append("\(id(one, statistic))=\(point.value)")
                        continue
                    }
                    statistic.set(point.value, in: &periods[Int64(point.start.timeIntervalSince1970), default: PeriodFigures()])
                }
            }
            for (periodStart, figures) in periods {
                let key = MetricBucket.Key(endpoint: endpoint, version: one.version, start: periodStart / period * period, width: period)
                metrics.periods.append(PlatformMetrics.Period(key: key, figures: figures, memoryMB: one.memoryMB))
            }
        }
        return metrics
    }
}
