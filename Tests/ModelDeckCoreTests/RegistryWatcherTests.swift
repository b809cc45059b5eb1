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
        #expect(watcher.isNotified)
        let before = watcher.version()
        let writer = Task {
            try await Task.sleep(for: .milliseconds(100))
            try registry.write { db in try db.execute(sql: "INSERT INTO models (name) VALUES ('sentiment')") }
        }
        // No poll is given, and the deadline is past the test's limit: only the notification can end this wait.
        let after = await watcher.waitForChange(from: before, until: .now + .seconds(600))
        try await writer.value
        #expect(after != before)
    }

    @Test(.timeLimit(.minutes(1))) func oneWatcherWakesEveryTaskWaitingOnIt() async throws {
        let scratch = Scratch()
        defer { scratch.cleanUp() }
        let registry = try Registry(path: scratch.registryPath)
        let watcher = try RegistryWatcher(path: scratch.registryPath, notified: true)
        let before = watcher.version()
        let waiters = (0..<3).map { _ in Task { await watcher.waitForChange(from: before, until: .now + .seconds(600)) } }
        try await Task.sleep(for: .milliseconds(100))
        try registry.write { db in try db.execute(sql: "INSERT INTO models (name) VALUES ('sentiment')") }
        for waiter in waiters { #expect(await waiter.value != before) }
    }

    @Test(.timeLimit(.minutes(1))) func aLongWaitEndsWhenItsTaskIsCancelled() async throws {
        let scratch = Scratch()
        defer { scratch.cleanUp() }
        _ = try Registry(path: scratch.registryPath)
        let watcher = try RegistryWatcher(path: scratch.registryPath, notified: true)
        let before = watcher.version()
        let waiter = Task { await watcher.waitForChange(from: before, until: .now + .seconds(600)) }
        try await Task.sleep(for: .milliseconds(100))
        waiter.cancel()
        #expect(await waiter.value == before)
    }

    @Test(.timeLimit(.minutes(1))) func theNotifierIgnoresOtherFilesInTheFolderAndRemembersAWriteNobodyWaitedFor() async throws {
        let scratch = Scratch()
        defer { scratch.cleanUp() }
        let registry = try Registry(path: scratch.registryPath)
        let notifier = try #require(RegistryNotifier(registryPath: scratch.registryPath))
        let seen = notifier.writes.count
        try Data("a log line\n".utf8).write(to: URL(fileURLWithPath: scratch.path + "/daemon.log"))
        #expect(await notifier.writes.wait(after: seen, until: .now + .milliseconds(300)) == false)
        try registry.write { db in try db.execute(sql: "INSERT INTO models (name) VALUES ('sentiment')") }
        try await Task.sleep(for: .milliseconds(100)) // delivered while nobody waits
        #expect(await notifier.writes.wait(after: seen, until: .now + .seconds(600)) == true)
    }
}

/// The waits the daemon's loops and the gateway's housekeeping sleep in.
struct WakeSignalTests {
    @Test(.timeLimit(.minutes(1))) func aSignalSentBeforeTheWaitIsNotLostAndWakesEveryWaiter() async {
        let wake = WakeSignal()
        let seen = wake.count
        wake.signal()
        #expect(await wake.wait(after: seen, until: nil))
        let now = wake.count
        let waiters = (0..<3).map { _ in Task { await wake.wait(after: now, until: nil) } }
        try? await Task.sleep(for: .milliseconds(50))
        wake.signal()
        for waiter in waiters { #expect(await waiter.value) }
    }

    @Test(.timeLimit(.minutes(1))) func withoutASignalTheWaitEndsAtItsDeadlineOrWhenCancelled() async {
        let wake = WakeSignal()
        #expect(await wake.wait(after: wake.count, until: .now + .milliseconds(50)) == false)
        #expect(await wake.wait(after: wake.count, until: .now - .seconds(1)) == false)
        let seen = wake.count
        let waiter = Task { await wake.wait(after: seen, until: nil) }
        try? await Task.sleep(for: .milliseconds(50))
        waiter.cancel()
        #expect(await waiter.value == false)
        // Cancelled before it waits: it does not wait.
        let early = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            return await wake.wait(after: seen, until: nil)
        }
        #expect(await early.value == false)
    }
}
