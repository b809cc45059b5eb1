import Foundation
import GRDB

/// Tells when the registry has changed: `PRAGMA data_version` on a read-only connection of its own.
///
/// SQLite changes a connection's data version whenever *another* connection commits a change (any process,
/// this one's writer included); a write transaction that changes nothing leaves it as it is. The pragma is
/// a read of the shared WAL index, so asking it costs next to nothing; waking a thread to ask it does cost.
///
/// A `notified` watcher asks it only when inotify says the registry's file or WAL was written (and at the
/// waiter's deadline), so an idle process sleeps until a write or its own next due time. One such watcher
/// serves any number of waiting tasks at once (the daemon's loops share one: one inotify descriptor, one
/// connection). Without inotify, waits poll the pragma: every `fallbackPoll` for a watcher that asked to be
/// notified (the daemon's loops), every `pollInterval` for one that did not (the dashboard's loader).
public final class RegistryWatcher: Sendable {
    /// How often a watcher that was not asked to be notified polls.
    public static let pollInterval: Duration = .milliseconds(20)
    /// How often a watcher that asked for notifications polls when inotify is not available: a rollback is then
    /// acted on up to this late, the figure before inotify was used.
    public static let fallbackPoll: Duration = .milliseconds(100)

    /// One connection: a data version only means something on the connection that reads it.
    private let connection: DatabaseQueue
    /// Wakes waits as soon as a process writes to the registry (`notified`), instead of at the next poll.
    private let notifier: RegistryNotifier?
    /// Between two looks at the pragma when there is no notifier.
    private let poll: Duration

    /// `notified`: waits end within a millisecond of a commit (inotify); the pragma is polled only where
    /// inotify is not available.
    public init(path: String, notified: Bool = false) throws {
        notifier = notified ? RegistryNotifier(registryPath: path) : nil
        poll = notified ? Self.fallbackPoll : Self.pollInterval
        var configuration = Configuration()
        configuration.readonly = true
        configuration.busyMode = Registry.busyMode()
        configuration.label = "modeldeck.registry.watcher"
        connection = try DatabaseQueue(path: path, configuration: configuration)
    }

    /// Whether waits are woken by inotify (false: they poll).
    public var isNotified: Bool { notifier != nil }

    /// The data version now; -1 when the registry cannot be read (so the next good read counts as a change).
    public func version() -> Int64 {
        // Outside a transaction: the pragma alone, without a BEGIN and COMMIT around it at every poll.
        (try? connection.inDatabase { db in try Self.version(db) }) ?? -1
    }

    /// Runs `body` in one read transaction on the watcher's connection with the data version of that same
    /// snapshot: for a cache that reloads only when the version moved.
    func read<T>(_ body: (Database, _ version: Int64) throws -> T) throws -> T {
        try connection.read { db in try body(db, try Self.version(db)) }
    }

    /// Returns the new version as soon as it differs from `version`, or the same one at `deadline`, when
    /// `condition` holds, or when the task is cancelled. The pragma and `condition` are asked at each write to
    /// the registry (notified), or every `interval` when given (for a condition that moves without a write),
    /// or every poll interval when there is no notifier.
    public func waitForChange(from version: Int64, until deadline: ContinuousClock.Instant, polling interval: Duration? = nil,
                              orWhen condition: () -> Bool = { false }) async -> Int64 {
        while true {
            // Taken before the pragma is read: a write after this read moves it, so the wait below returns at once.
            let writes = notifier?.writes.count
            let now = self.version()
            if now != version || condition() { return now }
            let left = deadline - .now
            guard left > .zero, !Task.isCancelled else { return now }
            if let notifier, let writes {
                let until = interval.map { min(deadline, .now + $0) } ?? deadline
                guard await notifier.writes.wait(after: writes, until: until) else { continue }
                if let seen = await settle(from: version, until: deadline, orWhen: condition) { return seen }
            } else {
                do { try await Task.sleep(for: min(left, interval ?? poll)) } catch { return now }
            }
        }
    }

    /// After a write was seen: the data version once the commit reached it, or nil when it did not move (a
    /// checkpoint writing the database file, or a transaction's frames before its commit, whose commit is a
    /// write of its own). The commit is the WAL's last frame, and the WAL index is updated right after it
    /// (after an fsync under SQLite's default `synchronous=FULL`), so the pragma is asked again every
    /// millisecond for 5 ms (as often as before the watcher was shared: a rollback is not acted on later),
    /// then less and less often up to 127 ms. A commit later than that is seen at the waiter's next write or
    /// deadline. It stops early at the waiter's deadline or when its condition holds: a keep-warm ping due
    /// while a checkpoint's write is being settled leaves on time, not up to 127 ms late.
    private func settle(from version: Int64, until deadline: ContinuousClock.Instant, orWhen condition: () -> Bool) async -> Int64? {
        for pause in [0, 1, 1, 1, 1, 1, 2, 4, 8, 16, 32, 64] {
            // The task's own sleep (on the event loop's timer when NIO runs tasks). With no tolerance given, Swift's
            // dispatch executor lets the timer fire up to a tenth of its delay late (at least a millisecond).
            if pause > 0 { try? await Task.sleep(until: min(deadline, .now + .milliseconds(pause)), tolerance: .zero) }
            let seen = self.version()
            if seen != version { return seen }
            if Task.isCancelled || condition() || ContinuousClock.now >= deadline { return nil }
        }
        return nil
    }

    private static func version(_ db: Database) throws -> Int64 {
        try Int64.fetchOne(db, sql: "PRAGMA data_version") ?? 0
    }
}
