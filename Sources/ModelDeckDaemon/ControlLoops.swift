import Foundation
import Logging
import ModelDeckCore
import ServiceLifecycle

/// The reconciler, the heartbeat, the metrics rollup and the budget check, each on its own clock. The
/// reconciler ticks as soon as the registry changes (an intent written by another process: the shared
/// watcher is woken by inotify within a millisecond of the commit) and, without a change, only when
/// something falls due (`ControlSchedule`). The daemon's own writes (heartbeat, gateway flushes, keep-warm
/// state) wake it too; that costs a few reads, because a tick that finds nothing to do writes nothing.
struct ControlLoops: Service {
    let registry: Registry
    let watcher: RegistryWatcher
    let reconciler: Reconciler<ContinuousClock>
    let startedAt: Date
    let tickInterval: Duration
    let tiers: MetricTiers
    let logger: Logger

    func run() async throws {
        var schedule = ControlSchedule(tickInterval: tickInterval, startingAt: ContinuousClock.now)
        var seen = watcher.version()
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            let wake = schedule.wake(at: .now)
            await reconciler.tick(checkDrift: wake.checkDrift)
            if wake.beat {
                do { try await registry.perform { [startedAt] in try Heartbeat.beat($0, startedAt: startedAt) } } catch { logger.error("heartbeat failed", metadata: ["error": "\(error)"]) }
            }
            if wake.rollup {
                // One short transaction per batch of rows, so a backlog never holds the write lock for long;
                // then a checkpoint that empties the WAL even while dashboards keep reading.
                do {
                    let tiers = self.tiers
                    _ = try await registry.perform { try $0.maintain(now: Date(), tiers: tiers) }
                } catch { logger.error("metrics rollup failed", metadata: ["error": "\(error)"]) }
            }
            if wake.budget {
                do { _ = try await registry.perform { try $0.recordBudgetAlarms(now: Date()) } } catch {
                    logger.error("budget check failed", metadata: ["error": "\(error)"])
                }
            }
            // A change during this tick (its own writes included) wakes the next one at once.
            let deadline = schedule.nextWake(reconcilerDue: await reconciler.nextDue(tickInterval: tickInterval))
            let from = seen
            seen = await cancelWhenGracefulShutdown { [watcher] in await watcher.waitForChange(from: from, until: deadline) }
        }
        await reconciler.shutdown()
    }
}

/// What the control loop does at a wake, and when it wakes next if the registry does not change: the pure
/// part of `ControlLoops`, on any clock.
///
/// Before, the loop woke every `tickInterval` (250 ms) and asked the registry's data version every 100 ms
/// between: 14 wakes a second with nothing to do. Now an idle daemon's loop wakes for its heartbeat (every
/// 2 s), its budget check (10 s) and its rollup (60 s), and for the reconciler when it has work in flight.
struct ControlSchedule<I: InstantProtocol>: Sendable where I.Duration == Duration {
    static var rollupInterval: Duration { .seconds(60) }
    /// How often today's cost is compared with the daily budgets (`budget.exceeded`, once per endpoint and day).
    static var budgetInterval: Duration { .seconds(10) }

    /// What one wake does.
    struct Wake: Equatable {
        /// Whether the targets' routing is compared with the registry's (drift); at most once a tick interval.
        var checkDrift: Bool
        var beat: Bool
        var rollup: Bool
        var budget: Bool
    }

    let tickInterval: Duration
    private(set) var lastBeat: I
    private(set) var lastRollup: I
    private(set) var lastBudget: I
    private(set) var lastDriftCheck: I
    /// A wake came sooner than a tick interval after the last drift check, so it did not check: one is owed.
    private(set) var driftOwed = false

    /// The daemon has just written its first heartbeat; the rollup, the budget check and a drift check are due.
    init(tickInterval: Duration, startingAt now: I) {
        self.tickInterval = tickInterval
        lastBeat = now
        lastRollup = now.advanced(by: .zero - Self.rollupInterval)
        lastBudget = now.advanced(by: .zero - Self.budgetInterval)
        lastDriftCheck = now.advanced(by: .zero - tickInterval)
    }

    /// What a wake at `now` does, noted as done.
    mutating func wake(at now: I) -> Wake {
        let wake = Wake(checkDrift: lastDriftCheck.duration(to: now) >= tickInterval,
                        beat: lastBeat.duration(to: now) >= Heartbeat.interval,
                        rollup: lastRollup.duration(to: now) >= Self.rollupInterval,
                        budget: lastBudget.duration(to: now) >= Self.budgetInterval)
        if wake.checkDrift { lastDriftCheck = now }
        driftOwed = !wake.checkDrift
        if wake.beat { lastBeat = now }
        if wake.rollup { lastRollup = now }
        if wake.budget { lastBudget = now }
        return wake
    }

    /// The next wake if the registry does not change: the earliest of the heartbeat, the rollup, the budget
    /// check, a drift check a wake skipped, and the reconciler's own next due time (nil: none).
    func nextWake(reconcilerDue: I?) -> I {
        var next = min(lastBeat.advanced(by: Heartbeat.interval), lastRollup.advanced(by: Self.rollupInterval),
                       lastBudget.advanced(by: Self.budgetInterval))
        if driftOwed { next = min(next, lastDriftCheck.advanced(by: tickInterval)) }
        if let reconcilerDue { next = min(next, reconcilerDue) }
        return next
    }
}
