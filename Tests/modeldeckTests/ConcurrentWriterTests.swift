import Foundation
import Testing

/// Several `modeldeck` processes writing the same registry at once lose no write.
struct ConcurrentWriterTests {
    @Test func applyDeployAndWarmFromManyProcessesAtOnceLoseNothing() async throws {
        let scratch = Scratch()
        defer { scratch.cleanUp() }
        let count = 6
        let base = (0..<count).map { "e\($0)" }
        let deck = scratch.file("base.yaml", remoteDeck(endpoints: base))
        #expect(try CLI.run(["apply", "-f", deck, "--registry", scratch.registry]).status == 0)
        let eventsBefore = try dump(registryAt: scratch.registry)?.filter { $0.hasPrefix("events:") }.count ?? 0

        // Each apply adds one new endpoint (and re-declares the rest, unchanged); each deploy and warm
        // touches its own endpoint. All run at the same time.
        var commands: [[String]] = []
        for index in 0..<count {
            commands.append(["apply", "-f", scratch.file("add\(index).yaml", remoteDeck(endpoints: base + ["n\(index)"]))])
            commands.append(["deploy", "e\(index)", "v2", "--strategy", "linear:10%:1m", "--reason", "p\(index)"])
            commands.append(["warm", "e\(index)", "--every", "\(index + 1)m"])
        }
        let registry = scratch.registry
        let results = try await withThrowingTaskGroup(of: (String, CLI.Result).self) { group in
            for command in commands {
                group.addTask { (command.joined(separator: " "), try CLI.run(command + ["--registry", registry])) }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        for (command, result) in results { #expect(result.status == 0, "\(command): \(result.stderr)") }

        let endpoints = try JSONSerialization.jsonObject(with: Data(try CLI.run(["get", "endpoints", "-o", "json", "--registry", registry]).stdout.utf8)) as! [[String: Any]]
        #expect(Set(endpoints.compactMap { $0["name"] as? String }) == Set(base + (0..<count).map { "n\($0)" }))
        for index in 0..<count {
            let endpoint = endpoints.first { $0["name"] as? String == "e\(index)" }
            #expect((endpoint?["keep_warm"] as? [String: Any])?["every_seconds"] as? Int == (index + 1) * 60)
            #expect((endpoint?["deployment"] as? String)?.contains("sentiment@v2 pending") == true)
        }
        let deployments = try JSONSerialization.jsonObject(with: Data(try CLI.run(["get", "deployments", "-o", "json", "--registry", registry]).stdout.utf8)) as! [[String: Any]]
        #expect(Set(deployments.compactMap { $0["reason"] as? String }) == Set((0..<count).map { "p\($0)" }))
        let eventsAfter = try dump(registryAt: registry)?.filter { $0.hasPrefix("events:") }.count ?? 0
        // One event per new endpoint, per deploy and per keep-warm change; re-declared endpoints add none.
        #expect(eventsAfter - eventsBefore == 3 * count)
    }
}
