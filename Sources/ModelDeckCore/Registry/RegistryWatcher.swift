import Foundation
import GRDB

/// Tells when the registry has changed: `PRAGMA data_version` on a read-only connection of its own.
///
/// SQLite changes a connection's data version whenever *another* connection commits a change (any process,
/// this one's writer included); a write transaction that changes nothing leaves it as it is. The pragma is
/// a read of the shared WAL index, so polling it every few milliseconds costs next to nothing. The
/// daemon's control loop, the gateway's endpoint catalog and the dashboard's loader each keep one.
public final class RegistryWatcher: Sendable {
    /// How often `waitForChange` asks.
    public static let pollInterval: Duration = .milliseconds(20)

    /// One connection: a data version only means something on the connection that reads it.
    private let connection: DatabaseQueue
    /// Wakes a wait as soon as a process writes to the registry (`notified`), instead of at the next poll.
    private let notifier: RegistryNotifier?

    /// `notified`: waits end within a millisecond of a commit (inotify), and the pragma is asked at each
    /// `waitForChange` interval only as a fallback.
    public init(path: String, notified: Bool = false) throws {
        notifier = notified ? RegistryNotifier(registryPath: path) : nil
        var configuration = Configuration()
        configuration.readonly = true
        configuration.busyMode = .timeout(Registry.busyTimeout)
        configuration.label = "modeldeck.registry.watcher"
        connection = try DatabaseQueue(path: path, configuration: configuration)
    }

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

    /// Returns the new version as soon as it differs from `version` (asked every `interval`), or the same
    /// one at `deadline`, when `condition` (asked at each poll) holds, or when the task is cancelled.
    public func waitForChange(from version: Int64, until deadline: ContinuousClock.Instant, polling interval: Duration = pollInterval,
                              orWhen condition: () -> Bool = { false }) async -> Int64 {
        while true {
            let now = self.version()
            if now != version || condition() { return now }
            let left = deadline - .now
            guard left > .zero else { return now }
            if let notifier {
                guard await notifier.next(within: min(left, interval)) else {
                    if Task.isCancelled { return now }
                    continue
                }
                // A write: its commit reaches the pragma within microseconds of the last frame written.
                for _ in 0..<5 {
                    let seen = self.version()
                    if seen != version { return seen }
                    try? await Task.sleep(for: .milliseconds(1))
                }
            } else {
                do { try await Task.sleep(for: min(left, interval)) } catch { return now }
            }
        }
    }

    private static func version(_ db: Database) throws -> Int64 {
        try Int64.fetchOne(db, sql: "PRAGMA data_version") ?? 0
    }
}
