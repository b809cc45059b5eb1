import Foundation
import GRDB
@testable import ModelDeckCore
import Testing

/// The dates ModelDeck writes are the text GRDB's own `DateFormatter` writes, and read back the same.
struct StoredDateTests {
    @Test func theTextIsGRDBsOwnOverManyDates() throws {
        var generator = SystemRandomNumberGenerator()
        var dates: [Date] = [Date(timeIntervalSince1970: 0), Date(timeIntervalSince1970: 0.999_9), Date(timeIntervalSince1970: -0.5),
                             Date(timeIntervalSince1970: 951_782_400.123), // 2000-02-29
                             Date(timeIntervalSince1970: 4_102_444_799.999), Date(), Date().addingTimeInterval(0.000_4)]
        for _ in 0..<5_000 { dates.append(Date(timeIntervalSince1970: Double.random(in: 0...4_102_444_800, using: &generator))) }
        for date in dates {
            let grdb = String.fromDatabaseValue(date.databaseValue)
            #expect(StoredDate.text(date) == grdb, "\(date.timeIntervalSince1970)")
        }
    }

    @Test func aRecordsDatesAreWrittenByHandAndReadBack() throws {
        let queue = try DatabaseQueue()
        try queue.write { db in
            try db.execute(sql: "CREATE TABLE stamped (id INTEGER PRIMARY KEY, at TEXT NOT NULL)")
            let at = Date(timeIntervalSince1970: 1_764_547_200.25)
            try Stamped(id: 1, at: at).insert(db)
            #expect(try String.fetchOne(db, sql: "SELECT at FROM stamped") == "2025-12-01 00:00:00.250")
            #expect(try Stamped.fetchOne(db, key: 1)?.at == at)
        }
    }
}

extension StoredDateTests {
    /// The records with encoders of their own (deployments, events) write the same text.
    @Test func aDeploymentAndItsEventStoreGRDBsText() throws {
        let scratch = Scratch()
        defer { scratch.cleanUp() }
        _ = try Registry(path: scratch.registryPath)
        // The registry's schema, without an endpoint for the rows to belong to.
        var configuration = Configuration()
        configuration.foreignKeysEnabled = false
        let registry = try DatabaseQueue(path: scratch.registryPath, configuration: configuration)
        let at = Date(timeIntervalSince1970: 1_764_547_200.9996)
        try registry.write { db in
            var deployment = Deployment(endpoint: "e", kind: .rollback, fromVersion: "m@v2", toVersion: "m@v1", strategy: "all-at-once",
                                        bakeSeconds: 0, reason: "test", actor: "test", createdAt: at, updatedAt: at)
            try deployment.insert(db)
            try db.record(AuditEvent(at: at, actor: "test", endpoint: "e", deploymentId: deployment.id, kind: "rollback.requested", message: "m"))
        }
        let expected = String.fromDatabaseValue(at.databaseValue)
        #expect(expected == "2025-12-01 00:00:01.000")
        let (created, started, event, read) = try registry.write { db in
            (try String.fetchOne(db, sql: "SELECT created_at FROM deployments"),
             try String.fetchOne(db, sql: "SELECT step_started_at FROM deployments"),
             try String.fetchOne(db, sql: "SELECT at FROM events WHERE kind = 'rollback.requested'"),
             try Deployment.fetchOne(db))
        }
        #expect(created == expected)
        #expect(started != nil)
        #expect(event == expected)
        #expect(read?.createdAt == Date(timeIntervalSince1970: 1_764_547_201))
    }
}

private struct Stamped: Codable, FetchableRecord, PersistableRecord, RegistryRecord {
    var id: Int64
    var at: Date
}
