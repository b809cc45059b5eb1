import Foundation
import Logging
import ModelDeckCore
import ServiceLifecycle
import Synchronization

/// Delivers the audit log's events to the deck's notification entries: the `events` table is the outbox, and
/// each entry keeps a cursor in the registry.
///
/// Per entry, events go one at a time, in id order: the next is sent only once the one before arrived (or
/// was passed over as unwanted), and the cursor is written after each arrival. So a receiver that is down
/// gets everything, in order, when it is back; and a daemon killed with -9 sends again at most the event
/// it was sending, with the same `Idempotency-Key` (at-least-once delivery, deduplicated by the receiver).
/// A failed try waits `retry.pause(afterFailures:)` (capped exponential backoff) before the next.
/// Entries are served side by side, so one that hangs never holds up another (`run`).
struct NotificationLoop<C: Clock>: Sendable where C.Duration == Duration {
    let registry: Registry
    let sender: any NotificationSender
    let logger: Logger
    /// How long the loop sleeps without a reason to wake (a test clock in tests).
    let clock: C
    var retry = NotificationLoop.defaultRetry
    /// Events one entry sends in one pass at most, so a backlog does not starve the next pass's checks.
    var perPass = 100

    static var defaultRetry: RetrySchedule { RetrySchedule(first: 1, cap: 300) }

    /// One pass: every entry that is due sends what it has, until its outbox is empty or a send fails.
    func pass(now: @escaping @Sendable () -> Date) async {
        let states = await due(now: now())
        await withDiscardingTaskGroup { group in
            for state in states { group.addTask { await deliver(state, now: now) } }
        }
    }

    /// The entries not waiting out a pause after a failure, as stored.
    private func due(now: Date) async -> [NotificationState] {
        do {
            return try await registry.perform { try $0.notificationStates() }.filter { $0.nextAttemptAt.map { $0 <= now } ?? true }
        } catch {
            logger.error("notifications failed", metadata: ["error": "\(error)"])
            return []
        }
    }

    private func deliver(_ state: NotificationState, now: @escaping @Sendable () -> Date) async {
        let name = state.channel.name
        var cursor = state.cursor
        var failures = state.failures
        do {
            for _ in 0..<perPass {
                let after = cursor
                let (events, production) = try await registry.perform { try $0.outbox(after: after) }
                let step = OutboxStep.next(state.channel, events: events, production: production)
                guard let id = step.send, let event = events.first(where: { $0.id == id }) else {
                    if let skip = step.passOver { try await registry.perform { try $0.passOver(notification: name, to: skip, now: now()) } }
                    return
                }
                if let skip = step.passOver {
                    try await registry.perform { try $0.passOver(notification: name, to: skip, now: now()) }
                }
                do {
                    try await sender.send(NotificationDelivery(channel: state.channel, event: event))
                } catch {
                    failures += 1
                    let reason = (error as? ModelDeckError)?.message ?? "\(error)"
                    let at = now()
                    let retryAt = at.addingTimeInterval(retry.pause(afterFailures: failures))
                    try await registry.perform { try $0.recordDeliveryFailure(notification: name, error: reason, now: at, retryAt: retryAt) }
                    logger.warning("notification failed", metadata: ["notification": "\(name)", "event": "\(id)", "error": "\(reason)"])
                    return
                }
                try await registry.perform { try $0.recordDelivered(notification: name, event: id, now: now()) }
                cursor = id
                failures = 0
            }
        } catch {
            logger.error("notifications failed", metadata: ["notification": "\(name)", "error": "\(error)"])
        }
    }
}

extension NotificationLoop: Service where C == ContinuousClock {
    /// Looks for due entries at every registry change (a new event) and at least every `maxSleep`, which is
    /// also how late a retry may be. Each entry's sending runs on its own, so one whose receiver hangs (up to
    /// the transport's timeout) holds up no other; an entry still sending is not started again.
    func run() async throws {
        // Woken by inotify as soon as an event is committed (a rollback's notice leaves within milliseconds),
        // asking the data version every 100 ms only as a fallback.
        let watcher = try RegistryWatcher(path: registry.path, notified: true)
        var seen = watcher.version()
        let sending = SendingEntries()
        await withDiscardingTaskGroup { group in
            while !Task.isCancelled && !Task.isShuttingDownGracefully {
                let started = clock.now
                for state in await due(now: Date()) {
                    let name = state.channel.name
                    guard sending.names.withLock({ $0.insert(name).inserted }) else { continue }
                    group.addTask {
                        await deliver(state, now: { Date() })
                        _ = sending.names.withLock { $0.remove(name) }
                    }
                }
                seen = await watcher.waitForChange(from: seen, until: started + maxSleep, polling: .milliseconds(100))
            }
        }
    }

    var maxSleep: Duration { .milliseconds(Int64(min(1_000, retry.first * 1_000))) }
}

/// The entries whose sending runs now.
private final class SendingEntries: Sendable {
    let names = Mutex<Set<String>>([])
}
