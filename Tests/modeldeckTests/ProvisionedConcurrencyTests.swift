import Foundation
import GRDB
import ModelDeckCore
import ModelDeckTargets
import ModelDeckTestSupport
import Testing

/// `modeldeck warm E --provisioned N [--schedule CRON]` through the real CLI and daemon, against moto behind a
/// stand-in that answers Lambda's provisioned-concurrency calls (moto has none): the intent goes to the
/// registry, the daemon puts it on the alias `live`, follows it until ready, retries a refused call, applies
/// a schedule, and removes it.
@Suite(.serialized) struct ProvisionedConcurrencyTests {
    func provisioned(_ registry: String, _ endpoint: String) throws -> ProvisionedConcurrencyRecord? {
        try Registry(path: registry).provisionedConcurrency(endpoint: endpoint)
    }

    @Test func theDaemonPutsChecksRetriesSchedulesAndRemovesProvisionedConcurrencyOnTheAlias() async throws {
        let scratch = Scratch()
        defer { scratch.cleanUp() }
        let role = try await Moto.shared.lambdaRole()
        let prefix = "md\(UUID().uuidString.prefix(6).lowercased())-"
        let standIn = ProvisionedConcurrencyStandIn(forwardingTo: try await Moto.shared.baseURL())
        let url = try await standIn.start()
        defer { standIn.stop() }
        try AWSDaemonTests().applyDeck(scratch, target: "{name: aws, kind: aws-lambda, region: us-east-1, role_arn: '\(role)', function_prefix: \(prefix)}",
                                       versionMemory: "512MB", endpoint: "{name: scoring, model: scorer, target: aws, memory: 1GB}")
        var environment = try await AWSDaemonTests().awsEnvironment(scratch)
        environment["AWS_ENDPOINT_URL"] = url
        let daemon = try BackgroundCommand("daemon", registry: scratch.registry, environment: environment)
        defer { daemon.stop() }
        #expect(try CLI.run(["deploy", "scoring", "v1", "--bake", "0s", "--registry", scratch.registry]).status == 0)
        #expect(try await waitUntil(60) { try deploymentState(scratch.registry, id: 1)?.state == "succeeded" })
        let function = "\(prefix)scoring"

        // Asked for: in the registry at once, on the alias once the daemon has put it, READY once Lambda says so.
        let warm = try CLI.run(["warm", "scoring", "--provisioned", "3", "--registry", scratch.registry])
        #expect(warm.status == 0, "\(warm.stderr)")
        #expect(warm.stdout.contains("provisioned concurrency of scoring: 0 → 3"))
        #expect(try provisioned(scratch.registry, "scoring")?.intent == ProvisionedConcurrency(concurrency: 3))
        #expect(try await waitUntil(30) { try provisioned(scratch.registry, "scoring")?.status.platformStatus == "READY" })
        #expect(standIn.config(function: function, qualifier: "live") == .init(requested: 3, status: "READY"))
        let status = try #require(try provisioned(scratch.registry, "scoring")?.status)
        #expect(status.applied == 3 && status.available == 3 && status.failures == 0)
        #expect(standIn.calls.prefix(2) == ["PUT \(function):live 3", "GET \(function):live"])

        // Refused by Lambda (an update in progress): the failure is recorded with its error, then tried again.
        standIn.conflict(next: 1)
        #expect(try CLI.run(["warm", "scoring", "--provisioned", "5", "--registry", scratch.registry]).status == 0)
        #expect(try await waitUntil(30) { try provisioned(scratch.registry, "scoring")?.status.failures == 1 })
        let failed = try #require(try provisioned(scratch.registry, "scoring")?.status)
        #expect(failed.applied == 3)
        #expect(failed.lastError?.contains("update is in progress") == true)
        #expect(try await waitUntil(30) { try provisioned(scratch.registry, "scoring")?.status.applied == 5 })
        #expect(try await waitUntil(30) { standIn.config(function: function, qualifier: "live") == .init(requested: 5, status: "READY") })

        // A schedule: an entry whose cron fires every minute is in force at once, over the base.
        #expect(try CLI.run(["warm", "scoring", "--provisioned", "2", "--schedule", "* * * * *", "--registry", scratch.registry]).status == 0)
        #expect(try await waitUntil(30) { standIn.config(function: function, qualifier: "live")?.requested == 2 })

        // Off: the configuration is deleted on the alias and the row goes.
        #expect(try CLI.run(["warm", "scoring", "--provisioned", "0", "--registry", scratch.registry]).status == 0)
        #expect(try await waitUntil(30) { standIn.config(function: function, qualifier: "live") == nil })
        #expect(try await waitUntil(30) { try provisioned(scratch.registry, "scoring") == nil })
        #expect(standIn.calls.last == "DELETE \(function):live")

        let events = try CLI.run(["get", "events", "--registry", scratch.registry]).stdout
        for kind in ["provisioned.changed", "provisioned.applied", "provisioned.failed", "provisioned.removed"] {
            #expect(events.contains(kind), "no \(kind) in \(events)")
        }
    }
}
