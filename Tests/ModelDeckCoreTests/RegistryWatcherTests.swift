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

    @Test func theGatewaysCatalogIsReReadOnlyWhenWhatItServesChanged() throws {
        let scratch = Scratch()
        defer { scratch.cleanUp() }
        let registry = try Registry(path: scratch.registryPath)
        try DeckApplier.apply(try parseDeck(sampleDeck()), to: registry, source: "deck.yaml", actor: "test")
        let watcher = try RegistryWatcher(path: scratch.registryPath)
        let local: Set<String> = ["local"]
        let (first, loaded) = try watcher.servedEndpoints(targets: local, unless: .none)
        #expect(loaded?.isEmpty == false)

        // A request's instance and its bucket: the data version moves, the catalog does not.
        try registry.write { db in
            try db.execute(sql: "INSERT INTO models (name) VALUES ('unrelated')")
            try db.execute(sql: "UPDATE traffic SET live_weight = weight")
        }
        let (second, unchanged) = try watcher.servedEndpoints(targets: local, unless: first)
        #expect(unchanged == nil)
        #expect(second.dataVersion != first.dataVersion)
        #expect(second.generation == first.generation)

        // A desired weight: re-read.
        let endpoint = try #require(loaded?.keys.sorted().first)
        try registry.write { db in try db.execute(sql: "UPDATE traffic SET weight = weight WHERE endpoint = ?", arguments: [endpoint]) }
        let (third, reloaded) = try watcher.servedEndpoints(targets: local, unless: second)
        #expect(third.generation != second.generation)
        #expect(reloaded?[endpoint] != nil)
    }

    @Test(.timeLimit(.minutes(1))) func aNotifiedWatcherWakesOnACommitWithoutPolling() async throws {
        let scratch = Scratch()
        defer { scratch.cleanUp() }
        let registry = try Registry(path: scratch.registryPath)
        let watcher = try RegistryWatcher(path: scratch.registryPath, notified: true)
        let before = watcher.version()
        let writer = Task {
            try await Task.sleep(for: .milliseconds(100))
            try registry.write { db in try db.execute(sql: "INSERT INTO models (name) VALUES ('sentiment')") }
        }
        // Neither the poll nor the deadline can end this wait within the test's limit: only the notification.
        let after = await watcher.waitForChange(from: before, until: .now + .seconds(600), polling: .seconds(600))
        try await writer.value
        #expect(after != before)
    }

    @Test func theNotifierIgnoresOtherFilesInTheFolderAndRemembersAWriteNobodyWaitedFor() async throws {
        let scratch = Scratch()
        defer { scratch.cleanUp() }
        let registry = try Registry(path: scratch.registryPath)
        let notifier = try #require(RegistryNotifier(registryPath: scratch.registryPath))
        try Data("a log line\n".utf8).write(to: URL(fileURLWithPath: scratch.path + "/daemon.log"))
        #expect(await notifier.next(within: .milliseconds(300)) == false)
        try registry.write { db in try db.execute(sql: "INSERT INTO models (name) VALUES ('sentiment')") }
        try await Task.sleep(for: .milliseconds(100)) // delivered while nobody waits
        #expect(await notifier.next(within: .seconds(600)) == true)
    }
}
