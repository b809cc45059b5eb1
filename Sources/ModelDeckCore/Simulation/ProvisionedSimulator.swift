import Foundation
import HeapModule

/// Replays a trace with Lambda provisioned concurrency instead of pings (`simulate --policy provisioned:N`):
/// each endpoint has `environments` instances initialised for the whole trace, never reclaimed and never
/// cold; a request takes a free one, and a request that finds them all busy spills over to on-demand
/// instances, which start cold and stop after the idle timeout as without keep-warm
/// (https://docs.aws.amazon.com/lambda/latest/dg/provisioned-concurrency.html).
///
/// Priced from the price table (`ProvisionedRates`): the environments per GB-second while configured, for the
/// trace's span rounded up to 5 minutes (Lambda bills the enabled time so); requests they serve at the
/// request fee plus the lower provisioned duration price; the spill-over at the on-demand prices.
public enum ProvisionedSimulator {
    /// Lambda rounds the time provisioned concurrency is enabled up to whole 5 minutes.
    public static let enabledGranularitySeconds: Int64 = 300

    /// Nil when the target's platform has no provisioned-concurrency price (`target.provisionedRates`).
    public static func run(_ trace: Trace, environments: Int, target: SimulatedTarget, endpoints only: Set<Int32>? = nil) -> SimulationOutcome? {
        run(CallsByEndpoint(trace, only: only), environments: environments, target: target)
    }

    /// The same on a trace already grouped by endpoint (shared by several policies).
    public static func run(_ grouped: CallsByEndpoint, environments: Int, target: SimulatedTarget) -> SimulationOutcome? {
        guard let provisioned = target.provisionedRates else { return nil }
        var outcome = SimulationOutcome(policy: "provisioned ×\(environments)")
        let (offsets, calls, end) = (grouped.offsets, grouped.calls, grouped.end)
        let endpointCount = grouped.endpoints.count
        guard let start = grouped.start, offsets[endpointCount] > 0 else { return outcome }
        let span = end - start
        let enabledSeconds = (span + 999_999) / 1_000_000
        let billedSeconds = max(1, enabledSeconds).roundedUp(to: enabledGranularitySeconds)
        let enabledCost = Decimal(environments) * Decimal(target.memoryMB) / 1_024 * Decimal(billedSeconds) * provisioned.perGBSecondEnabled
        var provisionedRequestRates = target.rates
        provisionedRequestRates.perGBSecond = provisioned.perGBSecondDuration
        let coldStart = target.coldStartMilliseconds * 1_000
        let memoryMB = Int64(target.memoryMB)
        var latency = SimulatedLatencies()
        var onDemand = InvocationUsage()
        var onProvisioned = InvocationUsage()
        var alive: Int64 = 0
        for endpointIndex in 0..<endpointCount where offsets[endpointIndex + 1] > offsets[endpointIndex] {
            var figures = EndpointOutcome(endpoint: grouped.endpoints[endpointIndex])
            var pool = InstancePool(idleTimeout: target.idleTimeoutSeconds * 1_000_000, coldStart: coldStart)
            // When each provisioned environment is free again, soonest first.
            var busyUntil = Heap<Int64>((0..<max(0, environments)).map { _ in Int64.min })
            for call in calls[offsets[endpointIndex]..<offsets[endpointIndex + 1]] {
                figures.requests += 1
                var waited = call.duration
                if let free = busyUntil.min, free <= call.time {
                    _ = busyUntil.replaceMin(with: call.time + call.duration)
                    onProvisioned.requests += 1
                    onProvisioned.billedMBMilliseconds += memoryMB * target.rates.billedMilliseconds(microseconds: waited)
                } else {
                    if pool.acquire(at: call.time, running: call.duration, alive: &figures.aliveMicroseconds) {
                        figures.coldStarts += 1
                        waited += coldStart
                    }
                    onDemand.requests += 1
                    onDemand.billedMBMilliseconds += memoryMB * target.rates.billedMilliseconds(microseconds: waited)
                }
                figures.servingMicroseconds += waited
                latency.record(microseconds: waited)
            }
            pool.finish(at: end, alive: &figures.aliveMicroseconds)
            figures.aliveMicroseconds += Int64(environments) * span
            figures.provisionedCostMicros = Money.micros(enabledCost)
            outcome.requests += figures.requests
            outcome.coldStarts += figures.coldStarts
            alive += figures.aliveMicroseconds
            outcome.wastedWarmInstanceSeconds += max(0, figures.aliveMicroseconds - figures.servingMicroseconds)
            outcome.provisionedCostMicros += figures.provisionedCostMicros
            outcome.endpoints.append(figures)
        }
        outcome.warmInstanceSeconds = alive / 1_000_000
        outcome.wastedWarmInstanceSeconds /= 1_000_000
        outcome.p99Ms = latency.histogram.milliseconds(atPercentile: 99)
        outcome.trafficCostMicros = Money.micros(target.rates.cost(onDemand) + provisionedRequestRates.cost(onProvisioned))
        return outcome
    }
}
