import Foundation

/// What bench traffic costs, priced by the cost engine at the target's prices (`TargetPricing`): the same
/// per-invocation formula the gateway uses for user traffic (`InvocationRates.usage(ofOneRunning:)`).
public enum BenchCost {
    /// The exact cost of `samples` on `memoryMB`, each billed for its latency, in whole micro-dollars (rounded up:
    /// a bench never looks cheaper than it was).
    public static func micros(of samples: [BenchSample], rates: InvocationRates?, memoryMB: Int) -> Int64 {
        guard let rates else { return 0 }
        let total = samples.reduce(Decimal(0)) { sum, sample in
            sum + rates.cost(rates.usage(ofOneRunning: Int64(clamping: sample.latencyMicroseconds), memoryMB: memoryMB))
        }
        return roundedUp(total)
    }

    /// The plan's estimated cost: every request it sends, each running `durationMs`.
    public static func estimateMicros(_ plan: BenchPlan, rates: InvocationRates?, memoryMB: Int, durationMs: Int64) -> Int64 {
        guard let rates else { return 0 }
        let one = rates.cost(rates.usage(ofOneRunning: durationMs * 1_000, memoryMB: memoryMB))
        return roundedUp(one * Decimal(plan.requestCount))
    }

    /// Dollars per million requests of `durationMs` on `memoryMB`, as `modeldeck cost estimate` prices them for
    /// the platform `target` is priced as (its "on demand" row at 1M requests a day): one computation, so the two
    /// always agree. Nil when the target's invocations cost nothing here or the platform cannot run that memory.
    public static func perMillionMicros(target: Target, memoryMB: Int, durationMs: Int64, table: PriceTable) -> Int64? {
        guard let platform = TargetPricing.platform(of: target) else { return nil }
        let profile = TrafficProfile(requestsPerDay: 1_000_000, durationMilliseconds: durationMs, memoryMB: memoryMB,
                                     architecture: target.config["architecture"] ?? "x86_64",
                                     region: target.region ?? TargetPricing.defaultRegion)
        guard let report = try? CostEstimate.report(profile, table: table) else { return nil }
        return report.rows.first { $0.platform == platform && $0.option == "on demand" }?.perDayMicros
    }

    static func roundedUp(_ dollars: Decimal) -> Int64 {
        var scaled = dollars * 1_000_000, whole = Decimal()
        NSDecimalRound(&whole, &scaled, 0, .up)
        return NSDecimalNumber(decimal: whole).int64Value
    }
}
