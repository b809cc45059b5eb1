import Foundation
import GRDB
import Testing
@testable import ModelDeckCore

/// The migration "2026-11-30 crash-looping instance state" rebuilds `instances` with `crash-looping` among
/// the states its CHECK allows, keeping every row, the index and the foreign key to `endpoints`.
struct CrashLoopingMigrationTests {
    @Test func aRegistryFromBeforeKeepsItsInstancesAndMayRecordACrashLoop() throws {
        let scratch = Scratch()
        defer { scratch.cleanUp() }
        let old = try DatabaseQueue(path: scratch.registryPath)
        try Migrations.migrator.migrate(old, upTo: "2026-11-30 latency sketches")
        let started = Date(timeIntervalSince1970: 1_800_000_000)
        let idle = InstanceRecord(id: "sentiment-1a", endpoint: "sentiment", versionId: "sentiment@v1", state: .idle, inFlight: 0,
                                  maxConcurrency: 4, pid: 4242, address: "127.0.0.1:9000", coldStartMs: 812, startedAt: started,
                                  lastUsedAt: started.addingTimeInterval(5), updatedAt: started.addingTimeInterval(6))
        var looping = idle
        looping.id = "sentiment sentiment@v2 crash-looping"
        looping.versionId = "sentiment@v2"
        looping.state = .crashLooping
        looping.pid = nil
        looping.address = nil
        try old.write { db in
            try Target(name: "local", kind: .local).insert(db)
            try Model(name: "sentiment").insert(db)
            // In SQL: today's record has columns this schema had not yet.
            try db.execute(sql: """
                INSERT INTO endpoints (name, model, target, memory_mb, concurrency, min_instances, max_instances, idle_timeout_s, slo_p99_ms, slo_error_ppm)
                VALUES ('sentiment', 'sentiment', 'local', 512, 1, 0, 4, 300, 1000, 10000)
                """)
            try idle.insert(db)
        }
        #expect(throws: DatabaseError.self, "the old CHECK refuses the new state") {
            try old.write { db in try looping.insert(db) }
        }
        try old.close()

        let registry = try Registry(path: scratch.registryPath)
        try registry.write { db in try looping.insert(db) }
        try registry.read { db in
            #expect(try InstanceRecord.order(Column("id")).fetchAll(db) == [looping, idle])
            let index = try String.fetchOne(db, sql: "SELECT sql FROM sqlite_master WHERE name = 'instances_by_endpoint'") ?? ""
            #expect(index.contains("ON instances(endpoint)"), "\(index)")
            #expect(try Row.fetchAll(db, sql: "PRAGMA foreign_key_check").isEmpty)
        }
        // Still one CHECK: a state nobody declared is refused.
        #expect(throws: ModelDeckError.self) {
            try registry.write { db in try db.execute(sql: "UPDATE instances SET state = 'zombie' WHERE id = 'sentiment-1a'") }
        }
        // Still tied to its endpoint: the rows go with it.
        try registry.write { db in try db.execute(sql: "DELETE FROM endpoints WHERE name = 'sentiment'") }
        #expect(try registry.read { db in try InstanceRecord.fetchCount(db) } == 0)
        // A crash-looping row is a version's mark, not an instance: counted apart from running and warm ones.
        try registry.write { db in
            // In SQL: today's record has columns this schema had not yet.
            try db.execute(sql: """
                INSERT INTO endpoints (name, model, target, memory_mb, concurrency, min_instances, max_instances, idle_timeout_s, slo_p99_ms, slo_error_ppm)
                VALUES ('sentiment', 'sentiment', 'local', 512, 1, 0, 4, 300, 1000, 10000)
                """)
            try idle.insert(db)
            try looping.insert(db)
        }
        let figures = try #require(try registry.instanceFigures()["sentiment"])
        #expect(figures.total.instances == 1 && figures.total.warm == 1 && figures.total.crashLooping == ["sentiment@v2"])
        #expect(figures.versions["sentiment@v2"]?.instances == 0)
        #expect(try registry.instanceCount(endpoint: "sentiment") == 1)
    }
}
