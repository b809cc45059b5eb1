import Foundation
import ModelDeckCore

/// The CloudWatch statistics the Lambda driver reads for each published version, per period.
///
/// Lambda reports invocations through an alias per executed version under the dimensions
/// `FunctionName`, `Resource` (`function:alias`) and `ExecutedVersion` (the version number)
/// (https://docs.aws.amazon.com/lambda/latest/dg/monitoring-metrics-types.html). Keep-warm pings invoke the
/// version number directly, not the alias, so they never appear here: pings and traffic stay apart.
enum LambdaStatistic: String, PlatformStatistic {
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

    var name: String { rawValue }
    /// Lambda's metrics have no cold starts; the log tail of a ping shows them (`Init Duration`).
    static let countsColdStarts = false

    /// `v12_p99`: the query id of this statistic of version number 12.
    func queryID(version number: String) -> String { "v\(number)_\(rawValue)" }
}

extension LambdaStatistic {
    func set(_ value: Double, in figures: inout PeriodFigures) {
        switch self {
        case .invocations: figures.invocations = value
        case .errors: figures.errors = value
        case .throttles: figures.throttles = value
        case .p50: figures.p50 = value
        case .p90: figures.p90 = value
        case .p99: figures.p99 = value
        case .maximum: figures.maximum = value
        case .sum: figures.sum = value
        case .concurrency: figures.concurrency = value
        }
    }
}
