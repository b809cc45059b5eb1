import Foundation
import GRDB
import Synchronization

/// The SQLite registry every process shares: the single source of truth and the only channel between the
/// CLI, the TUI and the daemon: they write intents and read observations here, the daemon acts on the intents
/// and writes back what it sees, so no process talks to another directly (README.md, "The registry").
///
/// Opened in WAL mode (readers never block the writer), with a busy timeout (writers from several processes
/// wait for each other instead of failing), foreign keys on, and IMMEDIATE write transactions (GRDB 7's
/// default), so concurrent writers never lose a write. A new registry file is created with mode 0600.
public final class Registry: Sendable {
    public let path: String
    /// The pool; only the registry's own files (and tests) touch it: everything else calls named operations.
    public let writer: DatabasePool

    /// The WAL is truncated to this size (64 MB) whenever a checkpoint resets it.
    public static let walSizeLimit = 64 * 1_048_576

    /// How long a writer waits for another process's transaction before giving up.
    public static let busyTimeout: TimeInterval = 10

    /// How a connection waits for another's write lock: `timeout` in all, trying again every 0.2 ms for the
    /// first 10 ms, then every millisecond up to 100 ms, then every 10 ms (`busyPauses`). SQLite's own handler
    /// (`PRAGMA busy_timeout`, what this was) tries again after 1, 3, 8, 18… ms, so a writer that met the lock
    /// held for a moment (the gateway's flush of measurements, a command's intent) waited up to 5 ms longer
    /// than a lock held under 8 ms: seen as sleeps of 1, 2 and 5 ms in the daemon during `modeldeck-bench
    /// rollback-latency`, in the tail of a rollback. (GRDB gives a pool's reader connections a plain timeout of
    /// their own: in WAL mode a reader waits only while a checkpoint resets the log.)
    public static func busyMode(timeout: TimeInterval = busyTimeout) -> Database.BusyMode {
        let pauses = busyPauses(timeout: timeout)
        return .callback { tried in
            guard tried < pauses.count else { return false }
            usleep(pauses[tried])
            return true
        }
    }

    /// The pauses between a waiting writer's tries, in microseconds, until they add up to `timeout`.
    static func busyPauses(timeout: TimeInterval) -> [useconds_t] {
        let limit = Int((timeout * 1_000_000).rounded())
        var pauses: [useconds_t] = []
        var waited = 0
        while waited < limit {
            let pause: useconds_t = pauses.count < 50 ? 200 : pauses.count < 140 ? 1_000 : 10_000
            pauses.append(pause)
            waited += Int(pause)
        }
        return pauses
    }

    /// Opens the registry at `path`, creating it (and its folder, mode 0700) when `create` is true. A
    /// `readOnly` registry (the dashboard's loader) neither creates nor migrates anything. `migratedUpTo` stops
    /// the migrations after the one named (a benchmark comparing a schema with and without a later change).
    /// `mmapBytes`: SQLite reads up to that much of the file through a memory map instead of copying each page
    /// it reads (https://sqlite.org/mmap.html; `PRAGMA mmap_size`), for the dashboard's read-only loader.
    public init(path: String, create: Bool = true, readOnly: Bool = false, migratedUpTo: String? = nil, mmapBytes: Int64 = 0) throws {
        self.path = path
        try RegistryOwnership.check(path)
        let fileManager = FileManager.default
        if !fileManager.fileExists(atPath: path) {
            guard create, !readOnly else {
                throw ModelDeckError("no registry at \(path); create one with `modeldeck init` or `modeldeck apply -f DECK`")
            }
            try Registry.createFile(at: path)
        }
        var configuration = Configuration()
        configuration.foreignKeysEnabled = true
        configuration.busyMode = Registry.busyMode()
        configuration.label = "modeldeck.registry"
        configuration.readonly = readOnly
        // After a checkpoint resets the WAL, SQLite keeps the file at its largest size unless told a limit:
        // a burst (a big rollup, a VACUUM) would leave a WAL of that size on disk for good.
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA journal_size_limit = \(Registry.walSizeLimit)")
            if mmapBytes > 0 { try db.execute(sql: "PRAGMA mmap_size = \(mmapBytes)") }
        }
        // Read once: migrating adds only names this build knows, so the names it does not know (a registry
        // from a newer modeldeck) are the same before and after.
        let applied: Set<String>
        do {
            writer = try DatabasePool(path: path, configuration: configuration)
            applied = try Registry.appliedMigrations(writer)
            if let migratedUpTo, !readOnly {
                try Migrations.migrator.migrate(writer, upTo: migratedUpTo)
            } else if !applied.isSuperset(of: Migrations.names) && !readOnly {
                try Migrations.migrator.migrate(writer)
            }
        } catch let error as DatabaseError {
            throw ModelDeckError("cannot open registry \(path): \(error.message ?? "\(error.resultCode)")")
        }
        if !applied.subtracting(Migrations.names).isEmpty {
            throw ModelDeckError("registry \(path) was written by a newer modeldeck; upgrade this one before using it")
        }
    }

    /// The names of the migrations the registry has had (none for a new file). Read with one query rather
    /// than through GRDB's migrator, so that opening a current registry, which every command does, costs
    /// no migrator set-up (`Migrations.names`); and on the writer's connection, which the pool has opened
    /// already, rather than on a reader's, which a command that writes would open only for this and whose
    /// reading of the schema comes on top (a tenth of a `modeldeck rollback`, `modeldeck-bench rollback-latency`).
    private static func appliedMigrations(_ writer: DatabasePool) throws -> Set<String> {
        try writer.writeWithoutTransaction { db in
            guard try db.tableExists("grdb_migrations") else { return [] }
            return try Set(String.fetchAll(db, sql: "SELECT identifier FROM grdb_migrations"))
        }
    }

    /// Creates an empty file with mode 0600 (and missing folders with 0700) so no other user can read it;
    /// SQLite gives its -wal and -shm files the same mode.
    private static func createFile(at path: String) throws {
        let url = URL(fileURLWithPath: path)
        let folder = url.deletingLastPathComponent().path
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: folder, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else {
                throw ModelDeckError("cannot create registry at \(path): \(folder) is not a directory")
            }
        } else {
            do {
                try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true,
                                                        attributes: [.posixPermissions: 0o700])
            } catch {
                throw ModelDeckError("cannot create registry at \(path): cannot create folder \(folder) (\(Registry.reason(errno: errno, fallback: error)))")
            }
        }
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        if fd < 0 {
            let code = errno
            if code == EEXIST { return }
            throw ModelDeckError("cannot create registry at \(path): \(String(cString: strerror(code)).lowercased()) (the folder must be writable)")
        }
        // umask may have cleared bits but never adds any; still, make the mode exact.
        fchmod(fd, 0o600)
        close(fd)
    }

    private static func reason(errno code: Int32, fallback: Error) -> String {
        code != 0 ? String(cString: strerror(code)).lowercased() : "\(fallback)"
    }

    /// Runs `body` in one IMMEDIATE transaction; a `ModelDeckError` thrown inside rolls everything back.
    /// For the registry's own operations (the files of this folder) and tests: other code calls those operations.
    @discardableResult
    public func write<T>(_ body: (Database) throws -> T) throws -> T {
        do {
            return try writer.write(body)
        } catch let error as DatabaseError {
            throw ModelDeckError("registry \(path): \(error.message ?? "\(error.resultCode)")")
        }
    }

    /// Runs registry operations (blocking SQLite work) on the registry's own threads and awaits them, so the
    /// daemon's actors and services never block the cooperative pool's few threads with a write lock wait.
    public func perform<T: Sendable>(_ operation: @escaping @Sendable (Registry) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            let lane = RegistryLanes.shared.take()
            lane.queue.async {
                defer { RegistryLanes.shared.put(lane) }
                continuation.resume(with: Result { try operation(self) })
            }
        }
    }

    public func read<T>(_ body: (Database) throws -> T) throws -> T {
        do {
            return try writer.read(body)
        } catch let error as DatabaseError {
            throw ModelDeckError("registry \(path): \(error.message ?? "\(error.resultCode)")")
        }
    }
}

/// Where `Registry.perform` runs: serial queues, each on a thread of its own, the first idle one taken. GRDB
/// serializes writes and pools reads itself; these only keep the waiting off the threads Swift's tasks run on.
/// On Linux those are the threads of dispatch's default-priority root queue, and a concurrent queue of that
/// priority (what this was) runs on the same few threads: two registry writes waiting for the write lock
/// stalled every task of the daemon, and keep-warm pings left 20–50 ms late. Serial queues run on dispatch's
/// overcommit threads, which are added as they block.
final class RegistryLanes: Sendable {
    static let shared = RegistryLanes(count: 8)

    struct Lane: Sendable {
        let index: Int
        let queue: DispatchQueue
    }

    private let lanes: [Lane]
    /// Operations queued or running on each lane.
    private let load: Mutex<[Int]>

    init(count: Int) {
        lanes = (0..<count).map { Lane(index: $0, queue: DispatchQueue(label: "modeldeck.registry.io.\($0)")) }
        load = Mutex(Array(repeating: 0, count: count))
    }

    /// The least loaded lane (an idle one while there is one), counted as taken.
    func take() -> Lane {
        load.withLock { load in
            let index = load.indices.min { load[$0] < load[$1] } ?? 0
            load[index] += 1
            return lanes[index]
        }
    }

    func put(_ lane: Lane) {
        load.withLock { $0[lane.index] -= 1 }
    }
}
