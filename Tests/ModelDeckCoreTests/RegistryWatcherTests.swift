import Foundation
import GRDB
import Testing
@testable import ModelDeckCore

struct RegistryWatcherTests {
    @Test func aCommittedChangeMovesTheVersionAndAWriteThatChangesNothingDoesNot() throws {
        let scratch = Scratch()
        defer { scratch.cleanUp() }
        let registry = try Registry(path: scratch.registryPath)
        let watcher = try RegistryWatcher(path: scratch.registryPath)
        let before = watcher.version()

        // What an idle daemon tick used to do: an IMMEDIATE transaction that reads and writes nothing.
        try registry.write { db in _ = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM deployments") }
        try registry.write { db in try db.execute(sql: "UPDATE endpoints SET memory_mb = memory_mb WHERE 0") }
        #expect(watcher.version() == before)

        try registry.write { db in
            try db.execute(sql: "INSERT INTO models (name) VALUES ('sentiment')")
        }
        #expect(watcher.version() != before)
    }

    @Test func waitingWakesOnACommitFromAnotherConnection() async throws {
        let scratch = Scratch()
        defer { scratch.cleanUp() }
        let registry = try Registry(path: scratch.registryPath)
        let watcher = try RegistryWatcher(path: scratch.registryPath)
        let before = watcher.version()
        let writer = Task {
            try await Task.sleep(for: .milliseconds(100))
            try registry.write { db in try db.execute(sql: "INSERT INTO models (name) VALUES ('sentiment')") }
        }
        // The deadline is far: only the commit can end the wait in time for the test to finish.
        let after = await watcher.waitForChange(from: before, until: .now + .seconds(600))
        try await writer.value
        #expect(after != before)
        #expect(after == watcher.version())
    }

    @Test func withoutAChangeTheWaitEndsAtTheDeadlineOrWhenTheConditionHolds() async throws {
        let scratch = Scratch()
        defer { scratch.cleanUp() }
        _ = try Registry(path: scratch.registryPath)
        let watcher = try RegistryWatcher(path: scratch.registryPath)
        let before = watcher.version()
        #expect(await watcher.waitForChange(from: before, until: .now + .milliseconds(50)) == before)
        #expect(await watcher.waitForChange(from: before, until: .now + .seconds(600), orWhen: { true }) == before)
    }
}
