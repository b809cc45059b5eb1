import Foundation
import GRDB
import ModelDeckTargets
import ModelDeckTestSupport
import Testing

/// Drift on Lambda (moto): an alias changed by hand with UpdateAlias, as an engineer does at the console
/// during an incident, is detected, shown and logged — and left alone under the cloud default, `alert`.
extension AWSDaemonTests {
    @Test func anAliasChangedByHandIsShownAndLoggedAndRestoredOnlyUnderEnforce() async throws {
        let scratch = Scratch()
        defer { scratch.cleanUp() }
        let role = try await Moto.shared.lambdaRole()
        let prefix = "md\(UUID().uuidString.prefix(6).lowercased())-"
        func apply(drift: String) throws {
            try applyDeck(scratch, target: "{name: aws, kind: aws-lambda, region: us-east-1, role_arn: '\(role)', function_prefix: \(prefix)\(drift)}",
                          versionMemory: "512MB", endpoint: "{name: scoring, model: scorer, target: aws, memory: 1GB}")
        }
        try apply(drift: "")
        let environment = try await awsEnvironment(scratch)
        let daemon = try BackgroundCommand("daemon", registry: scratch.registry, environment: environment, arguments: ["--drift-check", "1s"])
        defer { daemon.stop() }

        let client = AWSClient(configuration: try await Moto.shared.configuration())
        let function = "/2015-03-31/functions/\(prefix)scoring"
        func aliasVersion() async throws -> String? {
            let answer = try await client.send(.lambda, operation: "GetAlias", method: .GET, path: "\(function)/aliases/live")
            return (try JSONSerialization.jsonObject(with: answer.body) as? [String: Any])?["FunctionVersion"] as? String
        }
        #expect(try CLI.run(["deploy", "scoring", "v1", "--bake", "0s", "--registry", scratch.registry]).status == 0)
        #expect(try await waitUntil(60) { try deploymentState(scratch.registry, id: 1)?.state == "succeeded" })
        let v1 = try #require(try await aliasVersion())
        #expect(try CLI.run(["deploy", "scoring", "v2", "--bake", "0s", "--registry", scratch.registry]).status == 0)
        #expect(try await waitUntil(60) { try deploymentState(scratch.registry, id: 2)?.state == "succeeded" })
        let v2 = try #require(try await aliasVersion())
        #expect(v1 != v2)

        // At the console: the alias back on v1.
        _ = try await client.send(.lambda, operation: "UpdateAlias", method: .PUT, path: "\(function)/aliases/live",
                                  headers: [(name: "Content-Type", value: "application/json")],
                                  body: Data(#"{"FunctionVersion": "\#(v1)"}"#.utf8))
        #expect(try await waitUntil(30) { try !events(scratch.registry, kinds: "drift.detected").isEmpty })
        let detected = try events(scratch.registry, kinds: "drift.detected").first?.message ?? ""
        #expect(detected == "scoring: the target routes scorer@v1 100%; the registry says scorer@v2 100%; left as the target has it (drift: alert); a rollback or deploy, or drift: enforce|adopt, resolves it")
        #expect(try CLI.run(["get", "endpoints", "--registry", scratch.registry]).stdout.contains("⚠ drift: target routes scorer@v1 100%, registry says scorer@v2 100%"))
        try await Task.sleep(for: .seconds(3))
        #expect(try await aliasVersion() == v1, "alert never undoes what a person did")

        // drift: enforce on the target: the registry's routing comes back, and it says so.
        try apply(drift: ", drift: enforce")
        var restored = try await aliasVersion()
        for _ in 0..<300 where restored != v2 {
            try await Task.sleep(for: .milliseconds(200))
            restored = try await aliasVersion()
        }
        #expect(restored == v2)
        #expect(try await waitUntil(20) { try events(scratch.registry, kinds: "drift.resolved").last?.message == "scoring: restored the registry's routing, scorer@v2 100% (drift: enforce)" })
    }
}
