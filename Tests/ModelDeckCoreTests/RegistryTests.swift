import Foundation
import GRDB
import Testing
@testable import ModelDeckCore

struct RegistryTests {
    @Test func migrationsCreateEveryTableOfTheDesign() throws {
        let scratch = Scratch()
        defer { scratch.cleanUp() }
        let registry = try Registry(path: scratch.registryPath)
        let tables = try registry.read { db in
            try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE 'grdb_%' ORDER BY name")
        }
        #expect(tables == ["bench_runs", "bucket_write_sequence", "catalog_generation", "daemon", "deployment_generation", "deployments", "endpoint_drift", "endpoints", "events", "instances", "keep_warm_generation", "keep_warm_state", "metric_buckets",
                           "model_versions", "models", "notifications", "provisioned_concurrency", "targets", "traffic"])
        let applied = try registry.read { db in try Migrations.migrator.appliedIdentifiers(db) }
        #expect(applied == Set(Migrations.migrator.migrations))
    }

    @Test func theFileIsPrivateAndInWALModeWithForeignKeys() throws {
        let scratch = Scratch()
        defer { scratch.cleanUp() }
        let path = scratch.path + "/nested/state/registry.sqlite"
        let registry = try Registry(path: path)
        let mode = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
        #expect(mode == 0o600)
        let folderMode = try FileManager.default.attributesOfItem(atPath: scratch.path + "/nested/state")[.posixPermissions] as? Int
        #expect(folderMode == 0o700)
        let (journal, foreignKeys) = try registry.read { db in
            (try String.fetchOne(db, sql: "PRAGMA journal_mode"), try Int.fetchOne(db, sql: "PRAGMA foreign_keys"))
        }
        #expect(journal == "wal")
        #expect(foreignKeys == 1)
    }

    /// A writer that meets the lock tries again after 0.2 ms for its first 10 ms (SQLite's own handler waits
    /// 1, 2, 5, 10… ms), then every millisecond up to 100 ms, then every 10 ms, until its timeout.
    @Test func aWaitingWriterTriesAgainOftenAtFirstThenLessUntilItsTimeout() {
        let pauses = Registry.busyPauses(timeout: Registry.busyTimeout)
        #expect(pauses.prefix(50).allSatisfy { $0 == 200 })
        #expect(pauses.dropFirst(50).prefix(90).allSatisfy { $0 == 1_000 })
        #expect(pauses.dropFirst(140).allSatisfy { $0 == 10_000 })
        let total = pauses.reduce(0) { $0 + Int($1) }
        #expect(total == 10_000_000, "\(total) µs")
        #expect(Registry.busyPauses(timeout: 0.05).reduce(0) { $0 + Int($1) } == 50_000)
    }

    /// A writer that finds another process's write transaction open waits for it (`Registry.busyMode`) and
    /// then writes; one whose wait runs out gets SQLite's "database is locked", not a hang.
    @Test func aWriterWaitsForAnotherConnectionsWriteAndGivesUpWhenItsWaitRunsOut() throws {
        let scratch = Scratch()
        defer { scratch.cleanUp() }
        let registry = try Registry(path: scratch.registryPath)
        try registry.write { db in try db.execute(sql: "CREATE TABLE probe (n INTEGER)") }
        func connection(timeout: TimeInterval) throws -> DatabaseQueue {
            var configuration = Configuration()
            configuration.busyMode = Registry.busyMode(timeout: timeout)
            return try DatabaseQueue(path: scratch.registryPath, configuration: configuration)
        }
        let holder = try connection(timeout: 1)
        let taken = DispatchSemaphore(value: 0)
        let release = DispatchSemaphore(value: 0)
        let held = Thread {
            try? holder.write { db in
                try db.execute(sql: "INSERT INTO probe VALUES (1)")
                taken.signal()
                release.wait()
            }
        }
        held.start()
        defer { release.signal() } // however this test ends, the lock is let go
        taken.wait()
        // Held until this test lets go: a writer with 50 ms to wait gives up.
        #expect(throws: DatabaseError.self) { try connection(timeout: 0.05).write { db in try db.execute(sql: "INSERT INTO probe VALUES (2)") } }
        // Let go while the registry's own writer waits: it writes.
        DispatchQueue.global().asyncAfter(deadline: .now() + .milliseconds(30)) { release.signal() }
        try registry.write { db in try db.execute(sql: "INSERT INTO probe VALUES (3)") }
        #expect(try registry.read { db in try Int.fetchAll(db, sql: "SELECT n FROM probe ORDER BY n") } == [1, 3])
    }

    @Test func openingTwiceIsIdempotent() throws {
        let scratch = Scratch()
        defer { scratch.cleanUp() }
        _ = try Registry(path: scratch.registryPath)
        let again = try Registry(path: scratch.registryPath)
        #expect(try dump(again).filter { !$0.hasPrefix("grdb_migrations") }.isEmpty)
    }

    @Test func aPathThatCannotBeWrittenGivesOneClearLine() throws {
        let scratch = Scratch()
        defer { scratch.cleanUp() }
        let file = scratch.file("not-a-folder", "x")
        #expect(throws: ModelDeckError("cannot create registry at \(file)/registry.sqlite: \(file) is not a directory")) {
            try Registry(path: file + "/registry.sqlite")
        }
        // Even root cannot create files in /proc.
        do {
            _ = try Registry(path: "/proc/modeldeck/registry.sqlite")
            Issue.record("a registry was created under /proc")
        } catch let error as ModelDeckError {
            #expect(error.message.hasPrefix("cannot create registry at /proc/modeldeck/registry.sqlite"))
        }
        #expect(throws: ModelDeckError.self) { try Registry(path: scratch.path + "/absent.sqlite", create: false) }
        #expect(!FileManager.default.fileExists(atPath: scratch.path + "/absent.sqlite"))
    }

    @Test func versionsAreImmutableInTheDatabaseItself() throws {
        let scratch = Scratch()
        defer { scratch.cleanUp() }
        let registry = try Registry(path: scratch.registryPath)
        try DeckApplier.apply(parseDeck(sampleDeck()), to: registry, source: "deck.yaml", actor: "test")
        #expect(throws: ModelDeckError.self) {
            try registry.write { db in try db.execute(sql: "UPDATE model_versions SET memory_mb = 1 WHERE id = 'sentiment@v1'") }
        }
        #expect(throws: ModelDeckError.self) {
            try registry.write { db in try db.execute(sql: "INSERT INTO traffic (endpoint, version_id, weight) VALUES ('sentiment', 'sentiment@v9', 10)") }
        }
    }

    @Test func savingASplitWritesOnlyTheWeightsThatChange() throws {
        let scratch = Scratch()
        defer { scratch.cleanUp() }
        let registry = try Registry(path: scratch.registryPath)
        try DeckApplier.apply(parseDeck(sampleDeck()), to: registry, source: "deck.yaml", actor: "test")
        let rows = {
            try registry.read { db in
                try Row.fetchAll(db, sql: "SELECT version_id, weight, updated_at FROM traffic WHERE endpoint = 'sentiment' ORDER BY version_id")
                    .map { "\($0["version_id"] as String) \($0["weight"] as Int) \($0["updated_at"] as String)" }
            }
        }
        let applied = try rows()
        // The same weights again (a driver confirming its routing): not a row touched, not even its time.
        try registry.routeThroughRegistry(TrafficSplit(["sentiment@v1": 100], endpoint: "sentiment"), endpoint: "sentiment")
        #expect(try rows() == applied)
        // A canary step: v1's row changes, v2's is added; then v2 alone, and v1 drops to 0.
        try registry.routeThroughRegistry(TrafficSplit(["sentiment@v1": 90, "sentiment@v2": 10], endpoint: "sentiment"), endpoint: "sentiment")
        #expect(try registry.desiredWeights(endpoint: "sentiment") == ["sentiment@v1": 90, "sentiment@v2": 10])
        #expect(try rows().first != applied.first)
        try registry.routeThroughRegistry(TrafficSplit(["sentiment@v2": 100], endpoint: "sentiment"), endpoint: "sentiment")
        #expect(try registry.desiredWeights(endpoint: "sentiment") == ["sentiment@v2": 100])
        let promoted = try rows()
        #expect(promoted.map { $0.split(separator: " ").prefix(2).joined(separator: " ") } == ["sentiment@v1 0", "sentiment@v2 100"])
        try registry.routeThroughRegistry(TrafficSplit(["sentiment@v2": 100], endpoint: "sentiment"), endpoint: "sentiment")
        #expect(try rows() == promoted)
    }

    @Test func aRegistryFromANewerModelDeckIsRefused() throws {
        let scratch = Scratch()
        defer { scratch.cleanUp() }
        let registry = try Registry(path: scratch.registryPath)
        try registry.write { db in try db.execute(sql: "INSERT INTO grdb_migrations (identifier) VALUES ('2099-01-01 from the future')") }
        #expect(throws: ModelDeckError("registry \(scratch.registryPath) was written by a newer modeldeck; upgrade this one before using it")) {
            try Registry(path: scratch.registryPath)
        }
    }

    @Test func concurrentWritersOnSeparateConnectionsLoseNothing() async throws {
        let scratch = Scratch()
        defer { scratch.cleanUp() }
        let path = scratch.registryPath
        _ = try Registry(path: path)
        let writers = 4, eventsEach = 50
        try await withThrowingTaskGroup(of: Void.self) { group in
            for writer in 0..<writers {
                group.addTask {
                    let registry = try Registry(path: path) // its own pool: its own connections
                    for index in 0..<eventsEach {
                        try registry.write { db in
                            // Read-modify-write inside one transaction: a lost update would show as a gap.
                            let count = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM events") ?? 0
                            try db.record(AuditEvent(at: Date(), actor: "w\(writer)", kind: "test", message: "\(count) \(index)"))
                        }
                    }
                }
            }
            try await group.waitForAll()
        }
        let registry = try Registry(path: path)
        let messages = try registry.read { db in try String.fetchAll(db, sql: "SELECT message FROM events ORDER BY id") }
        #expect(messages.count == writers * eventsEach)
        // Each writer saw every earlier commit: the counts read are exactly 0, 1, 2, …
        #expect(messages.map { Int($0.split(separator: " ")[0])! } == Array(0..<(writers * eventsEach)))
    }
}
