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

private struct Stamped: Codable, FetchableRecord, PersistableRecord, RegistryRecord {
    var id: Int64
    var at: Date
}
