import Foundation
import ModelDeckCore

/// The CloudWatch statistics the Lambda driver reads for each published version, per period.
///
/// Lambda reports invocations through an alias per executed version under the dimensions
/// `FunctionName`, `Resource` (`function:alias`) and `ExecutedVersion` (the version number)
/// (https://docs.aws.amazon.com/lambda/latest/dg/monitoring-metrics-types.html). Keep-warm pings invoke the
/// version number directly, not the alias, so they never appear here: pings and traffic stay apart.
enum LambdaStatistic: String, CaseIterable, Sendable {
    case invocations, errors, throttles, p50, p90, p99, maximum, sum, concurrency

    var metric: String {
        switch self {
        case .invocations: "Invocations"
        case .errors: "Errors"
        case .throttles: "Throttles"
        case .p50, .p90, .p99, .maximum, .sum: "Duration"
        case .concurrency: "ConcurrentExecutions"
        }
    }

    var stat: String {
        switch self {
        case .invocations, .errors, .throttles, .sum: "Sum"
        case .p50, .p90, .p99: rawValue
        case .maximum, .concurrency: "Maximum"
        }
    }

    var isPercentile: Bool { [.p50, .p90, .p99].contains(self) }

    /// `v12_p99`: the query id of this statistic of version number 12.
    func queryID(version number: String) -> String { "v\(number)_\(rawValue)" }
}

/// What CloudWatch measured for one version in one period (durations in milliseconds).
public struct LambdaPeriodFigures: Equatable, Sendable {
    public var invocations: Double = 0
    public var errors: Double = 0
    public var throttles: Double = 0
    public var p50: Double?
    public var p90: Double?
    public var p99: Double?
    public var maximum: Double?
    public var sum: Double?
    public var concurrency: Double?

    public init() {}

    mutating func set(_ statistic: LambdaStatistic, _ value: Double) {
        switch statistic {
        case .invocations: invocations = value
        case .errors: errors = value
        case .throttles: throttles = value
        case .p50: p50 = value
        case .p90: p90 = value
        case .p99: p99 = value
        case .maximum: maximum = value
        case .sum: sum = value
        case .concurrency: concurrency = value
        }
    }

    /// The period as a metric bucket's observed fields.
    ///
    /// - Throttled requests count as requests and as errors: a caller who got a 429 was not served, and the
    ///   SLO should see it. (Lambda's own `Invocations` and `Errors` leave throttles out.)
    /// - Cost: requests × request price + Σ`Duration` × memory × GB-second price. `Duration` is not rounded
    ///   up to the billed millisecond and leaves out a cold start's billed init, so this trails the bill by
    ///   under 1 ms of duration per request plus init time; exact figures need the billing report.
    public func bucket(memoryMB: Int, rates: InvocationRates?) -> MetricBucket {
        var bucket = MetricBucket()
        let served = Int64(invocations.rounded())
        bucket.requests = served + Int64(throttles.rounded())
        bucket.errors = Int64(errors.rounded()) + Int64(throttles.rounded())
        bucket.latency = latency(count: UInt64(max(0, served)))
        bucket.maxInFlight = Int64((concurrency ?? 0).rounded())
        if let rates, served > 0 {
            let billedMBMilliseconds = Int64(((sum ?? 0) * Double(memoryMB)).rounded(.up))
            let dollars = rates.cost(InvocationUsage(requests: served, billedMBMilliseconds: billedMBMilliseconds, bytesIn: 0, bytesOut: 0))
            bucket.costMicros = Int64((NSDecimalNumber(decimal: dollars * 1_000_000).doubleValue).rounded())
        }
        return bucket
    }

    /// A histogram of `count` requests rebuilt from CloudWatch's statistics, which is all CloudWatch keeps.
    ///
    /// With percentiles, each band is recorded at its upper edge: ⌈50%⌉ of the requests at p50, up to
    /// ⌈90%⌉ at p90, up to ⌈99%⌉ at p99, the rest at the maximum. The histogram's own p50, p90, p99 and maximum
    /// then equal CloudWatch's (HdrHistogram ranks a percentile the same way, to its 0.1% precision), while
    /// values between those points are overstated — a pessimistic approximation, never an optimistic one.
    /// With very few requests a percentile's rank is the maximum's, and the histogram shows the maximum there.
    /// Without percentiles (CloudWatch had none for the period, or `percentiles` is off) one request is
    /// recorded at the maximum and the others at the mean of the rest, which keeps the mean and the maximum.
    func latency(count: UInt64) -> LatencyHistogram {
        var histogram = LatencyHistogram()
        guard count > 0 else { return histogram }
        func micros(_ ms: Double) -> UInt64 { UInt64(max(0, ms * 1_000).rounded()) }
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
                    ? count : min(count, max(1, UInt64((percentile.nextDown * Double(count) / 100).rounded(.up))))  // HdrHistogram's rank
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
