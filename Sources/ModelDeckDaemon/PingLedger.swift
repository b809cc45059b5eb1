import Foundation
import Logging
import ModelDeckCore
import ModelDeckTargets
import Synchronization

/// What keep-warm pings did, and the plans that changed, written to the registry in batches. The first
/// record or plan after a write waits `window` for others, then all go in one write (and the pings the target
/// does not record itself in one more): at 10,000 endpoints pinged every minute, 167 pings a second made as
/// many commits, each waking every loop of the daemon, the dashboard and the gateway, and each holding a
/// registry thread on the write lock. A ping's own scheduling never waits for its record: the loop plans from
/// `PingBook`, and hands its changed plans here rather than waiting for the write lock itself (a ping falling
/// due while the loop waited behind another writer's commit left late).
///
/// A daemon killed within `window` of a ping loses its record and its plan (not an intent; the plan is
/// shown, not acted on): the next daemon plans again and pings that endpoint once more. A graceful stop
/// writes at once (the waiting task is cancelled or the group drains). A failed write is tried again by the
/// same task every `retryDelay` until it succeeds or the daemon stops: with every endpoint idle, nothing else
/// would come to write what it kept.
final class PingLedger: Sendable {
    /// How long the first record waits for others.
    let window: Duration
    /// How long a failed write waits before it is tried again.
    let retryDelay: Duration
    /// Pings the target does not record itself (a cloud platform's); one for the loop's life, so the fractions
    /// of a micro-dollar each costs are carried, not lost at each write.
    let invocations = InvocationRecorder()
    private let pending = Mutex(Pending())

    private struct Pending {
        var records: [PingRecord] = []
        /// The latest plan of each endpoint whose plan changed.
        var plans: [String: KeepWarmPlan] = [:]
        /// A task waits to write them.
        var claimed = false
        /// Writes that failed, for the loop's life.
        var failures = 0

        /// True for the first change since the last write: its caller is to `write` after the window.
        mutating func claim() -> Bool {
            defer { claimed = true }
            return !claimed
        }
    }

    init(window: Duration = .milliseconds(100), retryDelay: Duration = .seconds(1)) {
        self.window = window
        self.retryDelay = retryDelay
    }

    /// Adds pings' record (and their invocations, for a target that does not record them); true: the caller is
    /// the first since the last write, and is to `write` after the window.
    func add(_ record: PingRecord, invocations unrecorded: [Invocation]) -> Bool {
        for invocation in unrecorded { invocations.record(invocation) }
        return pending.withLock { pending in
            pending.records.append(record)
            return pending.claim()
        }
    }

    /// Adds plans that changed (a later one of an endpoint replaces the one waiting); true: the caller is the
    /// first since the last write, and is to `write` after the window.
    func add(plans: [(String, KeepWarmPlan)]) -> Bool {
        guard !plans.isEmpty else { return false }
        return pending.withLock { pending in
            for (endpoint, plan) in plans { pending.plans[endpoint] = plan }
            return pending.claim()
        }
    }

    /// Records waiting for a write.
    var waiting: Int { pending.withLock { $0.records.count } }

    /// Plans waiting for a write.
    var waitingPlans: Int { pending.withLock { $0.plans.count } }

    /// Writes that failed since the ledger was made.
    var failures: Int { pending.withLock { $0.failures } }

    /// Waits the window (less if the task is cancelled), then writes everything added meanwhile: plans first,
    /// then records (each sets its own columns of an endpoint's keep-warm row). A failed write keeps them, under
    /// what was added since, and is tried again after `retryDelay` unless the task is cancelled (the daemon
    /// stopping) or another task has claimed the next write.
    func write(to registry: Registry, logger: Logger) async {
        try? await Task.sleep(for: window)
        while true {
            let (records, plans) = pending.withLock { pending in
                defer { pending.records = []; pending.plans = [:]; pending.claimed = false }
                return (pending.records, pending.plans)
            }
            let invocations = self.invocations
            do {
                try await registry.perform { registry in
                    try invocations.flush(to: registry, instances: [], endpoints: [])
                    try registry.saveKeepWarmPlans(plans.map { ($0.key, $0.value) }, now: Date())
                    try registry.recordPings(records, now: Date())
                }
                return
            } catch {
                logger.error("keep-warm failed", metadata: ["error": "\(error)", "records": "\(records.count)", "plans": "\(plans.count)"])
                let retry = pending.withLock { pending in
                    pending.failures += 1
                    pending.records.insert(contentsOf: records, at: 0)
                    pending.plans.merge(plans) { newer, _ in newer }
                    return !Task.isCancelled && pending.claim()
                }
                guard retry else { return }
                try? await Task.sleep(for: retryDelay)
            }
        }
    }
}
