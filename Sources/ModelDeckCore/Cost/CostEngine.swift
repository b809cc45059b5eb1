import Foundation

/// Money: exact `Decimal` dollars while computing, integer micro-dollars once a figure is stored or shown.
/// Nothing is ever accumulated in floating point.
public enum Money {
    /// `dollars` rounded half-up to whole micro-dollars.
    public static func micros(_ dollars: Decimal) -> Int64 {
        var value = dollars * 1_000_000
        var result = Decimal()
        NSDecimalRound(&result, &value, 0, .plain)
        return NSDecimalNumber(decimal: result).int64Value
    }

    /// `dollars` rounded half-up to cents, as a bill shows them.
    public static func cents(_ dollars: Decimal) -> Decimal {
        var value = dollars
        var result = Decimal()
        NSDecimalRound(&result, &value, 2, .plain)
        return result
    }
}

/// What invocations used, in the quantities an invocation-billed platform prices: exact integers, so usage
/// adds up without loss and is priced once.
public struct InvocationUsage: Equatable, Sendable {
    public var requests: Int64 = 0
    /// Memory × billed duration, in MB·ms (GB-seconds × 1,024,000).
    public var billedMBMilliseconds: Int64 = 0
    public var bytesIn: Int64 = 0
    public var bytesOut: Int64 = 0
    /// Billed time alone, in ms: what a platform that prices vCPU time (Cloud Run) multiplies by the vCPUs.
    public var billedMilliseconds: Int64 = 0

    public init(requests: Int64 = 0, billedMBMilliseconds: Int64 = 0, bytesIn: Int64 = 0, bytesOut: Int64 = 0, billedMilliseconds: Int64 = 0) {
        self.requests = requests
        self.billedMBMilliseconds = billedMBMilliseconds
        self.bytesIn = bytesIn
        self.bytesOut = bytesOut
        self.billedMilliseconds = billedMilliseconds
    }

    public mutating func add(_ other: InvocationUsage) {
        requests += other.requests
        billedMilliseconds += other.billedMilliseconds
        billedMBMilliseconds += other.billedMBMilliseconds
        bytesIn += other.bytesIn
        bytesOut += other.bytesOut
    }
}

/// Prices of a platform that bills each invocation (AWS Lambda, SageMaker serverless, Google Cloud Run's
/// request-based billing):
///
///     cost = requests × request fee
///          + memory_GB × billed_seconds × GB-second price     (memory_GB = MB / 1,024; billed time rounded up
///                                                              to the granularity, at least the minimum)
///          + vCPUs × billed_seconds × vCPU-second price       (Cloud Run; 0 on AWS, where CPU comes with memory)
///          + GB in × in price + GB out × out price            (data processed, decimal GB)
///
/// Google Cloud Run, request-based, tier 1 (https://cloud.google.com/run/pricing): $0.000024 per vCPU-second,
/// $0.0000025 per GiB-second and $0.40 per million requests; billed time is rounded up to the nearest 100 ms.
///
/// Lambda: https://aws.amazon.com/lambda/pricing/ — per 1 ms, and since 1 August 2025 the init phase of a cold
/// start is billed like the invocation (https://aws.amazon.com/blogs/compute/aws-lambda-standardizes-billing-for-init-phase/).
public struct InvocationRates: Equatable, Sendable {
    public var platform: String
    public var region: String
    public var architecture: String
    /// Dollars per request (the table's per-million price ÷ 1,000,000).
    public var perRequest: Decimal
    public var perGBSecond: Decimal
    public var perGBIn: Decimal
    public var perGBOut: Decimal
    /// Dollars per vCPU-second (Cloud Run); 0 where CPU is not priced apart.
    public var perVCPUSecond: Decimal = 0
    /// vCPUs of one instance, for `perVCPUSecond` (an http target's `cpu`, default 1).
    public var vcpus: Decimal = 1
    public var granularityMilliseconds: Int64
    public var minimumMilliseconds: Int64
    /// The price rows these rates come from.
    public var lines: [PriceLine]

    /// Billed milliseconds of one invocation that ran `microseconds`: rounded up to the granularity, at least the minimum.
    @inline(__always)
    public func billedMilliseconds(microseconds: Int64) -> Int64 {
        let ms = (max(0, microseconds) + 999) / 1_000
        // Lambda bills per 1 ms: no division then (the keep-warm simulator asks this for every request and ping).
        let rounded = granularityMilliseconds == 1 ? ms : (ms + granularityMilliseconds - 1) / granularityMilliseconds * granularityMilliseconds
        return max(minimumMilliseconds, rounded)
    }

    /// The usage of one invocation of `microseconds` on an instance of `memoryMB`.
    public func usage(ofOneRunning microseconds: Int64, memoryMB: Int, bytesIn: Int64 = 0, bytesOut: Int64 = 0) -> InvocationUsage {
        let billed = billedMilliseconds(microseconds: microseconds)
        return InvocationUsage(requests: 1, billedMBMilliseconds: Int64(memoryMB) * billed, bytesIn: bytesIn, bytesOut: bytesOut,
                               billedMilliseconds: billed)
    }

    /// Exact dollars for `usage`.
    public func cost(_ usage: InvocationUsage) -> Decimal {
        Decimal(usage.requests) * perRequest
            + Decimal(usage.billedMBMilliseconds) * perGBSecond / 1_024_000  // 1/1,024,000 is a finite decimal: exact
            + Decimal(usage.billedMilliseconds) * vcpus * perVCPUSecond / 1_000
            + Decimal(usage.bytesIn) * perGBIn / 1_000_000_000
            + Decimal(usage.bytesOut) * perGBOut / 1_000_000_000
    }
}

/// Prices of a platform that bills running tasks by vCPU and memory over time (Fargate): per second, with a
/// one-minute minimum per task. https://aws.amazon.com/fargate/pricing/
///
///     cost = billed_seconds / 3,600 × (vCPU × vCPU-hour price + memory_GB × GB-hour price)
public struct TaskRates: Equatable, Sendable {
    public var platform: String
    public var region: String
    public var architecture: String
    public var perVCPUHour: Decimal
    public var perGBHour: Decimal
    public var granularityMilliseconds: Int64
    public var minimumMilliseconds: Int64
    public var lines: [PriceLine]

    /// Billed milliseconds of one task that ran `milliseconds`.
    public func billedMilliseconds(running milliseconds: Int64) -> Int64 {
        let rounded = (max(0, milliseconds) + granularityMilliseconds - 1) / granularityMilliseconds * granularityMilliseconds
        return max(minimumMilliseconds, rounded)
    }

    /// Exact dollars for `billedMilliseconds` of task time (summed over tasks) of one size. The one division
    /// (by 3,600,000 ms an hour) comes last, at Decimal's 38 significant digits.
    public func cost(billedMilliseconds: Int64, vcpu: Decimal, memoryMB: Int) -> Decimal {
        Decimal(billedMilliseconds) * (vcpu * perVCPUHour + Decimal(memoryMB) / 1_024 * perGBHour) / 3_600_000
    }
}

/// An always-on instance type's hourly price (SageMaker real-time ml.t2.medium: $0.056 an hour).
public struct InstanceRate: Equatable, Sendable {
    public var platform: String
    public var region: String
    public var instance: String
    public var perHour: Decimal
    public var line: PriceLine

    public func cost(hours: Decimal) -> Decimal { hours * perHour }
}

/// Lambda provisioned concurrency: per GB-second while enabled, and a lower duration price for the requests
/// it serves (the request fee is unchanged).
public struct ProvisionedRates: Equatable, Sendable {
    public var perGBSecondEnabled: Decimal
    public var perGBSecondDuration: Decimal
    public var lines: [PriceLine]
}
