import Foundation
import GRDB
import Testing
@testable import ModelDeckCore

/// The migration "2026-11-30 target kinds checked in Swift" rebuilds `targets` without the first migration's
/// CHECK on `kind`, so a new kind needs no migration; kinds are checked in Swift instead.
struct TargetKindMigrationTests {
    @Test func aRegistryFromBeforeKeepsItsTargetsAndItsForeignKeys() throws {
        let scratch = Scratch()
        defer { scratch.cleanUp() }
        // A registry at the schema before this migration, with a target and an endpoint on it.
        let old = try DatabaseQueue(path: scratch.registryPath)
        try Migrations.migrator.migrate(old, upTo: "2026-11-25 ping due time")
        let lambda = Target(name: "lambda-eu", kind: .awsLambda, region: "eu-central-1",
                            config: ["role_arn": "arn:aws:iam::123456789012:role/modeldeck-lambda", "architecture": "arm64"])
        try old.write { db in
            try lambda.insert(db)
            try Target(name: "local", kind: .local).insert(db)
            try Model(name: "sentiment").insert(db)
            // In SQL: today's record has columns this schema had not yet.
            try db.execute(sql: """
                INSERT INTO endpoints (name, model, target, memory_mb, concurrency, min_instances, max_instances, idle_timeout_s, slo_p99_ms, slo_error_ppm)
                VALUES ('sentiment', 'sentiment', 'lambda-eu', 512, 1, 0, 4, 300, 1000, 10000)
                """)
        }
        #expect(throws: DatabaseError.self, "the old CHECK refuses a kind it does not list") {
            try old.write { db in try db.execute(sql: "INSERT INTO targets (name, kind) VALUES ('kn', 'knative')") }
        }
        try old.close()

        let registry = try Registry(path: scratch.registryPath)
        try registry.read { db in
            #expect(try Target.fetchAll(db).sorted { $0.name < $1.name } == [lambda, Target(name: "local", kind: .local)])
            #expect(try String.fetchOne(db, sql: "SELECT target FROM endpoints") == "lambda-eu")
            let schema = try String.fetchOne(db, sql: "SELECT sql FROM sqlite_master WHERE name = 'targets'") ?? ""
            #expect(!schema.contains("CHECK"), "\(schema)")
            #expect(try Row.fetchAll(db, sql: "PRAGMA foreign_key_check").isEmpty)
        }
        // endpoints.target still refers to targets(name): a missing target is refused, a used one cannot go.
        let missing = #expect(throws: ModelDeckError.self) {
            try registry.write { db in try Endpoint(name: "x", model: "sentiment", target: "nowhere", memoryMB: 512).insert(db) }
        }
        #expect(missing?.message.contains("FOREIGN KEY constraint failed") == true)
        let used = #expect(throws: ModelDeckError.self) {
            try registry.write { db in try db.execute(sql: "DELETE FROM targets WHERE name = 'lambda-eu'") }
        }
        #expect(used?.message.contains("FOREIGN KEY constraint failed") == true)
        // A kind no descriptor declares is stored by SQLite now, but refused when read, naming it.
        try registry.write { db in try db.execute(sql: "INSERT INTO targets (name, kind) VALUES ('kn', 'knative')") }
        #expect(throws: ModelDeckError("registry has target 'kn' of unknown kind 'knative'")) {
            try registry.read { db in try Target.fetchAll(db) }
        }
    }
}
