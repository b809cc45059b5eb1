import Foundation
import Testing

/// `modeldeck registry stats|compact` and the audit log's export, on a real registry through the binary.
struct RegistryCommandTests {
    @Test func statsShowSizesAndCompactGivesRoomBack() throws {
        let scratch = Scratch()
        defer { scratch.cleanUp() }
        let deck = scratch.file("deck.yaml", remoteDeck())
        #expect(try CLI.run(["apply", "-f", deck, "--registry", scratch.registry]).status == 0)
        for index in 0..<30 {
            let warm = try CLI.run(["warm", "sentiment", "--every", "\(index + 1)m", "--registry", scratch.registry])
            #expect(warm.status == 0, "\(warm.stderr)")
        }

        let stats = try CLI.run(["registry", "stats", "--registry", scratch.registry])
        #expect(stats.status == 0, "\(stats.stderr)")
        #expect(stats.stdout.contains("TABLE") && stats.stdout.contains("events") && stats.stdout.contains("metric_buckets"))
        #expect(stats.stdout.contains("growth per day"))
        let json = try CLI.run(["registry", "stats", "-o", "json", "--registry", scratch.registry])
        let document = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        #expect((document["file_bytes"] as? Int ?? 0) > 0)
        #expect((document["events"] as? Int ?? 0) >= 31)
        let tables = try #require(document["tables"] as? [[String: Any]])
        #expect(tables.contains { $0["name"] as? String == "events" && ($0["rows"] as? Int ?? 0) >= 31 })

        // The first compaction rewrites the file once; the next ones free pages a step at a time.
        let first = try CLI.run(["registry", "compact", "--registry", scratch.registry])
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stdout.contains("rewrote the file once"))
        let second = try CLI.run(["registry", "compact", "--registry", scratch.registry])
        #expect(second.status == 0 && !second.stdout.contains("rewrote"))
        // Nothing was lost on the way.
        let after = try CLI.run(["get", "events", "--since", "1d", "-o", "json", "--registry", scratch.registry])
        let events = try #require(try JSONSerialization.jsonObject(with: Data(after.stdout.utf8)) as? [[String: Any]])
        #expect(events.count >= 31)
    }

    @Test func eventsAreExportedSinceATimeOldestFirst() throws {
        let scratch = Scratch()
        defer { scratch.cleanUp() }
        let deck = scratch.file("deck.yaml", remoteDeck())
        #expect(try CLI.run(["apply", "-f", deck, "--registry", scratch.registry]).status == 0)
        for index in 0..<60 {
            #expect(try CLI.run(["warm", "sentiment", "--every", "\(index + 1)m", "--registry", scratch.registry]).status == 0)
        }
        // Every event since then, past the default limit of 50, oldest first.
        let all = try CLI.run(["get", "events", "--since", "2000-01-01", "-o", "json", "--registry", scratch.registry])
        #expect(all.status == 0, "\(all.stderr)")
        let events = try #require(try JSONSerialization.jsonObject(with: Data(all.stdout.utf8)) as? [[String: Any]])
        #expect(events.count >= 61)
        let ids = events.compactMap { $0["id"] as? Int }
        #expect(ids == ids.sorted() && Set(ids).count == ids.count)
        // A time after the last event: none.
        let none = try CLI.run(["get", "events", "--since", "2999-01-01T00:00:00Z", "-o", "json", "--registry", scratch.registry])
        #expect(none.status == 0)
        #expect((try JSONSerialization.jsonObject(with: Data(none.stdout.utf8)) as? [Any])?.isEmpty == true)
        // With a limit, the most recent ones.
        let last = try CLI.run(["get", "events", "--since", "1d", "--limit", "5", "-o", "json", "--registry", scratch.registry])
        let five = try #require(try JSONSerialization.jsonObject(with: Data(last.stdout.utf8)) as? [[String: Any]])
        #expect(five.compactMap { $0["id"] as? Int } == Array(ids.suffix(5)))
    }
}
