import Foundation

/// One ECS task as `DescribeTasks` tells it: from when it is billed (the image pull starts, else it started) to
/// when it stopped (nil while it runs).
struct FargateTask: Equatable, Sendable {
    var billedFrom: Date
    var stopped: Date?
}

/// A version's running task time per period, and its task starts (which are its cold starts: a Fargate service
/// scales out by starting tasks). Pure; the price is applied later (`PeriodFigures.bucket`), so the billing rules
/// stay in the price table.
///
/// Fargate bills "from the time you start to download your container image until the Amazon ECS Task
/// terminates, rounded up to the nearest second", with a one-minute minimum
/// (https://aws.amazon.com/fargate/pricing/): a task's time is spread over the periods it ran in, and what the
/// rounding and the minimum add is billed in the period where it started.
enum FargateTaskTime {
    /// Task time and starts of `tasks` in the periods of `seconds` from `from` to `to`, keyed by period start (a
    /// multiple of `seconds`); a running task counts up to `now`.
    static func periods(_ tasks: [FargateTask], from: Date, to: Date, now: Date, seconds: Int64) -> [Int64: PeriodFigures] {
        let windowStart = Int64(from.timeIntervalSince1970.rounded(.down)) / seconds * seconds
        let windowEnd = Int64(to.timeIntervalSince1970.rounded(.up))
        var periods: [Int64: PeriodFigures] = [:]
        for task in tasks {
            let start = milliseconds(task.billedFrom)
            let end = max(start, milliseconds(min(task.stopped ?? now, now)))
            let firstPeriod = start / 1_000 / seconds * seconds
            if firstPeriod >= windowStart, firstPeriod < windowEnd {
                // A task still running has not had its last second rounded up yet: counted in whole seconds so far,
                // only its minute's minimum is added now (the same figure at every collection).
                let lifetime = task.stopped == nil ? (end - start + 999) / 1_000 * 1_000 : end - start
                periods[firstPeriod, default: PeriodFigures()].startedTaskLifetimes.append(lifetime)
                periods[firstPeriod, default: PeriodFigures()].coldStarts += 1
            }
            var period = max(firstPeriod, windowStart)
            while period < windowEnd, period * 1_000 < end {
                let overlap = min(end, (period + seconds) * 1_000) - max(start, period * 1_000)
                if overlap > 0 { periods[period, default: PeriodFigures()].taskMilliseconds += overlap }
                period += seconds
            }
        }
        return periods
    }

    private static func milliseconds(_ date: Date) -> Int64 { Int64((date.timeIntervalSince1970 * 1_000).rounded(.down)) }
}
