import Foundation
import Logging
import ModelDeckCore
import ModelDeckTargets
import Synchronization

/// What keep-warm pings did, written to the registry in batches. The first record after a write waits
/// `window` for others, then all go in one transaction (and the pings the target does not record itself in
/// one more): at 10,000 endpoints pinged every minute, 167 pings a second made as many commits, each waking
/// every loop of the daemon, the dashboard and the gateway, and each holding a registry thread on the write
/// lock. A ping's own scheduling never waits for its record: the loop plans from `PingBook`.
///
/// A daemon killed within `window` of a ping loses its record (not an intent): the next daemon pings that
/// endpoint once more. A graceful stop writes at once (the waiting task is cancelled or the group drains).
final class PingLedger: Sendable {
    /// How long the first record waits for others.
    let window: Duration
    /// Pings the target does not record itself (a cloud platform's); one for the loop's life, so the fractions
    /// of a micro-dollar each costs are carried, not lost at each write.
    let invocations = InvocationRecorder()
    private let pending = Mutex(Pending())

    private struct Pending {
        var records: [PingRecord] = []
        /// A task waits to write them.
        var claimed = false
    }

    init(window: Duration = .milliseconds(100)) {
        self.window = window
    }

    /// Adds pings' record (and their invocations, for a target that does not record them); true: the caller is
    /// the first since the last write, and is to `write` after the window.
    func add(_ record: PingRecord, invocations unrecorded: [Invocation]) -> Bool {
        for invocation in unrecorded { invocations.record(invocation) }
        return pending.withLock { pending in
            pending.records.append(record)
            defer { pending.claimed = true }
            return !pending.claimed
        }
    }

    /// Records waiting for a write.
    var waiting: Int { pending.withLock { $0.records.count } }

    /// Waits the window (less if the task is cancelled), then writes everything added meanwhile. A failed write
    /// keeps the records for the next one.
    func write(to registry: Registry, logger: Logger) async {
        try? await Task.sleep(for: window)
        let records = pending.withLock { pending in
            defer { pending.records = []; pending.claimed = false }
            return pending.records
        }
        let invocations = self.invocations
        do {
            try await registry.perform { registry in
                try invocations.flush(to: registry, instances: [], endpoints: [])
                try registry.recordPings(records, now: Date())
            }
        } catch {
            logger.error("keep-warm failed", metadata: ["error": "\(error)", "records": "\(records.count)"])
            pending.withLock { $0.records.insert(contentsOf: records, at: 0) }
        }
    }
}
