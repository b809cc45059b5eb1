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
    /// The registry watcher it waits on (the daemon's loops share one); nil: its own.
    var watcher: RegistryWatcher?

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
        NotificationSchedule.due(await states(), now: now)
    }

    /// Every entry, as stored.
    private func states() async -> [NotificationState] {
        do {
            return try await registry.perform { try $0.notificationStates() }
        } catch {
            logger.error("notifications failed", metadata: ["error": "\(error)"])
            return []
        }
    }

    func deliver(_ seen: NotificationState, now: @escaping @Sendable () -> Date) async {
        let name = seen.channel.name
        // Read again now that this entry's sending is ours: the state the caller read may be from before the
        // cursor a delivery that just ended wrote, and sending from it sent that event a second time (CI saw
        // a receiver get the same key twice with no daemon killed).
        guard let state = await states().first(where: { $0.channel.name == name }),
              !NotificationSchedule.due([state], now: now()).isEmpty else { return }
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
    /// Looks for due entries at every registry change (a new event, a cursor moved by a delivery) and when the
    /// next retry after a failure falls due. Each entry's sending runs on its own, so one whose receiver hangs
    /// (up to the transport's timeout) holds up no other; an entry still sending is not started again.
    func run() async throws {
        // Woken by inotify as soon as an event is committed (a rollback's notice leaves within milliseconds).
        let watcher = try self.watcher ?? RegistryWatcher(path: registry.path, notified: true)
        var seen = watcher.version()
        let sending = SendingEntries()
        await withDiscardingTaskGroup { group in
            while !Task.isCancelled && !Task.isShuttingDownGracefully {
                let now = Date()
                let states = await states()
                for state in NotificationSchedule.due(states, now: now) {
                    let name = state.channel.name
                    guard sending.names.withLock({ $0.insert(name).inserted }) else { continue }
                    group.addTask {
                        await deliver(state, now: { Date() })
                        _ = sending.names.withLock { $0.remove(name) }
                    }
                }
                let wait = NotificationSchedule.sleep(states, now: now, sending: sending.names.withLock { $0 }, maxSleep: maxSleep)
                let (from, deadline) = (seen, clock.now + wait)
                seen = await cancelWhenGracefulShutdown { await watcher.waitForChange(from: from, until: deadline) }
            }
        }
    }

    /// The longest sleep without a registry change. Only a bound on how late a commit the notifier missed
    /// (slower than its settling) is seen if nothing else writes; the daemon's heartbeat writes every 2 s.
    var maxSleep: Duration { .seconds(60) }
}

/// When the notification loop has something to do: the pure part of its schedule, on any dates.
enum NotificationSchedule {
    /// The entries not waiting out a pause after a failure.
    static func due(_ states: [NotificationState], now: Date) -> [NotificationState] {
        states.filter { $0.nextAttemptAt.map { $0 <= now } ?? true }
    }

    /// How long to sleep if the registry does not change: until the earliest retry of an entry that is not
    /// sending now (its sending ends with a write to the registry, which wakes the loop), at most `maxSleep`.
    /// An entry with nothing to send waits for an event, which is a write.
    static func sleep(_ states: [NotificationState], now: Date, sending: Set<String>, maxSleep: Duration) -> Duration {
        let retries = states.filter { !sending.contains($0.channel.name) }.compactMap(\.nextAttemptAt).filter { $0 > now }
        guard let next = retries.min() else { return maxSleep }
        return min(maxSleep, .milliseconds(Int64((next.timeIntervalSince(now) * 1_000).rounded(.up))))
    }
}

/// The entries whose sending runs now.
private final class SendingEntries: Sendable {
    let names = Mutex<Set<String>>([])
}
