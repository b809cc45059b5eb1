import Foundation
import Logging
import ModelDeckCore
import ServiceLifecycle

/// Keeps the endpoint catalog current, stops idle instances, reaps dead ones, and writes measurements —
/// each when it falls due (`HousekeepingSchedule`), not on a fixed tick.
///
/// It used to pass over every endpoint five times a second and flush twice a second, whatever happened: at
/// 10,000 endpoints and no traffic, most of an idle daemon's wakes. Now, with no instance running, it sleeps
/// until an instance starts, a request is recorded or the catalog changes (`wake`); with instances, until the first idle one can
/// be reclaimed, a crash-looping version may be started again, or the next look for crashed processes.
struct GatewayHousekeeping: Service {
    let catalog: EndpointCatalog
    let runtime: LocalRuntime
    let recorder: InvocationRecorder
    let registry: Registry
    /// Signalled by the recorder (an invocation after a flush), the runtime (an instance starting) and the
    /// catalog (a reload).
    let wake: WakeSignal
    let flushInterval: Duration
    let logger: Logger

    func run() async throws {
        await withDiscardingTaskGroup { group in
            group.addTask { await catalog.follow() }
            await maintainAndFlush()
            group.cancelAll()
        }
    }

    private func maintainAndFlush() async {
        var lastFlush = ContinuousClock.now - flushInterval
        var flushed: [LocalRuntime.InstanceSnapshot]?
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            // Taken first: a signal from here on ends the sleep below at once.
            let seen = wake.count
            let endpoints = catalog.endpoints()
            let due = await runtime.maintain(endpoints)
            let instances = await runtime.snapshot()
            var flush = HousekeepingSchedule.flushDue(recorded: recorder.pendingBuckets > 0, instancesChanged: instances != flushed,
                                                      lastFlush: lastFlush, flushInterval: flushInterval)
            if let at = flush, at <= .now {
                lastFlush = .now
                do {
                    let served = Set(endpoints.keys)
                    try await registry.perform { try recorder.flush(to: $0, instances: instances, endpoints: served) }
                    flushed = instances
                    flush = nil
                } catch {
                    logger.error("housekeeping failed", metadata: ["error": "\(error)"])
                    flush = lastFlush + flushInterval
                }
            }
            let deadline = [due, flush].compactMap { $0 }.min()
            _ = await cancelWhenGracefulShutdown { [wake] in await wake.wait(after: seen, until: deadline) }
        }
    }
}

/// When the gateway's housekeeping has something to do: the pure part of its schedule, on any clock.
public enum HousekeepingSchedule {
    /// When a pass next has something to do without a request or a catalog change: the first instant an idle
    /// instance can be reclaimed (`reclaimable`: each idle instance's last use plus its idle timeout), the
    /// first crash-looping version's next start (`startRetries`, for `min_instances`), and, while instances
    /// run (`live`), a look for processes that ended on their own every `reapInterval` — Linux has no process
    /// exit event Dispatch can wait on (its process sources need kqueue). Nil when nothing runs and nothing
    /// is waited for: then only a request or a catalog change wakes it.
    public static func nextDue<I: InstantProtocol>(now: I, reclaimable: [I], startRetries: [I], live: Bool,
                                                   reapInterval: I.Duration) -> I? {
        var due = reclaimable + startRetries.filter { $0 > now }
        if live { due.append(now.advanced(by: reapInterval)) }
        return due.min()
    }

    /// When to flush: when something was recorded or the instance table changed since the last flush, a flush
    /// interval after the last one (at once if that has passed); nil when there is nothing to write.
    public static func flushDue<I: InstantProtocol>(recorded: Bool, instancesChanged: Bool, lastFlush: I,
                                                    flushInterval: I.Duration) -> I? {
        guard recorded || instancesChanged else { return nil }
        return lastFlush.advanced(by: flushInterval)
    }
}
