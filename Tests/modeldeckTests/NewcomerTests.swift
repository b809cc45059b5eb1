import Foundation
import Testing

/// The README's main job, as a newcomer types it.
@Suite(.serialized)
struct NewcomerTests {
    @Test func applyingTheExampleDeckTwiceChangesNothingTheSecondTime() throws {
        let scratch = Scratch()
        defer { scratch.cleanUp() }
        let env = ["MODELDECK_REGISTRY": scratch.registry]
        let first = try CLI.run(["apply", "-f", "fixtures/decks/example.yaml"], environment: env)
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stdout.contains("+ endpoint sentiment on local, traffic sentiment@v1 100%"))
        let afterFirst = try dump(registryAt: scratch.registry)

        let second = try CLI.run(["apply", "-f", "fixtures/decks/example.yaml"], environment: env)
        #expect(second.status == 0, "\(second.stderr)")
        #expect(second.stdout.contains("no changes"))
        #expect(try dump(registryAt: scratch.registry) == afterFirst)

        let get = try CLI.run(["get", "endpoints", "-o", "json"], environment: env)
        #expect(get.status == 0, "\(get.stderr)")
        let endpoints = try JSONSerialization.jsonObject(with: Data(get.stdout.utf8)) as? [[String: Any]]
        let sentiment = try #require(endpoints?.first { $0["name"] as? String == "sentiment" })
        #expect(sentiment["target"] as? String == "local")
        #expect(sentiment["traffic"] as? [String: Int] == ["sentiment@v1": 100])
        #expect(sentiment["production"] as? Bool == true)
        #expect((sentiment["keep_warm"] as? [String: Any])?["every_seconds"] as? Int == 300)
    }

    @Test func theRegistryFileIsCreatedPrivate() throws {
        let scratch = Scratch()
        defer { scratch.cleanUp() }
        let result = try CLI.run(["init", "--registry", scratch.registry])
        #expect(result.status == 0)
        let mode = try FileManager.default.attributesOfItem(atPath: scratch.registry)[.posixPermissions] as? Int
        #expect(mode == 0o600)
        #expect(try CLI.run(["init", "--registry", scratch.registry]).status == 0)
    }

    @Test func everyListingAndFormatWorks() throws {
        let scratch = Scratch()
        defer { scratch.cleanUp() }
        let deck = scratch.file("deck.yaml", remoteDeck(replacements: [
            ("  - name: sentiment\n    versions:", "  - name: sentiment\n    description: Stimmung — café ×\n    versions:"),
        ]))
        #expect(try CLI.run(["apply", "-f", deck, "--registry", scratch.registry]).status == 0)
        for resource in ["targets", "models", "versions", "endpoints", "deployments", "events"] {
            for format in ["table", "json", "yaml"] {
                let result = try CLI.run(["get", resource, "-o", format, "--registry", scratch.registry])
                #expect(result.status == 0, "get \(resource) -o \(format): \(result.stderr)")
                #expect(!result.stdout.isEmpty || resource == "deployments")
            }
        }
        let table = try CLI.run(["get", "targets", "--registry", scratch.registry]).stdout
        #expect(table.hasPrefix("NAME"))
        #expect(table.contains("lambda-eu   aws-lambda   eu-central-1   128–10,240 MB"))
        let yaml = try CLI.run(["get", "versions", "-o", "yaml", "--registry", scratch.registry]).stdout
        #expect(yaml.contains("  id: \"sentiment@v1\"\n"))
        #expect(yaml.contains("  memory_mb: 256\n"))
        // Non-ASCII text stays as it is, not escaped.
        let models = try CLI.run(["get", "models", "-o", "yaml", "--registry", scratch.registry]).stdout
        #expect(models.contains("Stimmung — café ×"), "\(models)")
    }

    @Test(arguments: [("aws.yaml", ["lambda-eu", "sagemaker-serverless"]), ("fargate.yaml", ["fargate-eu", "ecs-fargate"])])
    func theAWSExampleDecksApply(deck: String, shown: [String]) throws {
        let scratch = Scratch()
        defer { scratch.cleanUp() }
        let applied = try CLI.run(["apply", "-f", "fixtures/decks/\(deck)", "--registry", scratch.registry])
        #expect(applied.status == 0, "\(applied.stderr)")
        let targets = try CLI.run(["get", "targets", "--registry", scratch.registry]).stdout
        #expect(shown.allSatisfy { targets.contains($0) }, "\(targets)")
    }

    @Test func theSageMakerRealtimeExampleDeckApplies() throws {
        let scratch = Scratch()
        defer { scratch.cleanUp() }
        let applied = try CLI.run(["apply", "-f", "fixtures/decks/sagemaker-realtime.yaml", "--registry", scratch.registry])
        #expect(applied.status == 0, "\(applied.stderr)")
        let targets = try CLI.run(["get", "targets", "--registry", scratch.registry]).stdout
        #expect(targets.contains("realtime-us") && targets.contains("sagemaker-realtime") && targets.contains("ml.m5.large"), "\(targets)")
    }

    @Test func dryRunShowsThePlanAndWritesNothing() throws {
        let scratch = Scratch()
        defer { scratch.cleanUp() }
        let deck = scratch.file("deck.yaml", remoteDeck())
        let dry = try CLI.run(["apply", "-f", deck, "--dry-run", "--registry", scratch.registry])
        #expect(dry.status == 0, "\(dry.stderr)")
        #expect(dry.stdout.contains("+ model sentiment"))
        #expect(dry.stdout.contains("would be made (dry run, nothing written)"))
        #expect(!FileManager.default.fileExists(atPath: scratch.registry))

        #expect(try CLI.run(["apply", "-f", deck, "--registry", scratch.registry]).status == 0)
        let before = try dump(registryAt: scratch.registry)
        let changed = scratch.file("changed.yaml", remoteDeck(replacements: [("memory: 512MB", "memory: 1GB")]))
        let dryChange = try CLI.run(["apply", "-f", changed, "--dry-run", "--registry", scratch.registry])
        #expect(dryChange.stdout.contains("~ endpoint sentiment: memory 512 MB → 1,024 MB"))
        #expect(try dump(registryAt: scratch.registry) == before)
    }

    @Test func deployRollbackAndWarmWriteIntentsThatGetShows() throws {
        let scratch = Scratch()
        defer { scratch.cleanUp() }
        let registry = ["--registry", scratch.registry]
        let deck = scratch.file("deck.yaml", remoteDeck())
        #expect(try CLI.run(["apply", "-f", deck] + registry).status == 0)

        let deploy = try CLI.run(["deploy", "sentiment", "v2", "--strategy", "canary:10%:5m", "--reason", "new weights"] + registry)
        #expect(deploy.status == 0, "\(deploy.stderr)")
        #expect(deploy.stdout.contains("deployment #1: sentiment@v1 → sentiment@v2"))
        let rollback = try CLI.run(["rollback", "sentiment", "--reason", "errors up"] + registry)
        #expect(rollback.status == 0, "\(rollback.stderr)")
        #expect(rollback.stdout.contains("sentiment@v2 → sentiment@v1"))
        let warm = try CLI.run(["warm", "sentiment", "--every", "5m", "--concurrency", "2"] + registry)
        #expect(warm.status == 0, "\(warm.stderr)")

        let deployments = try JSONSerialization.jsonObject(with: Data(try CLI.run(["get", "deployments", "-o", "json"] + registry).stdout.utf8)) as? [[String: Any]]
        #expect(deployments?.map { $0["kind"] as? String } == ["deploy", "rollback"])
        #expect(deployments?.map { $0["state"] as? String } == ["pending", "pending"])
        let events = try CLI.run(["get", "events", "--endpoint", "sentiment", "-o", "json"] + registry).stdout
        for kind in ["deploy.requested", "rollback.requested", "keepwarm.changed"] { #expect(events.contains(kind)) }
    }

    @Test func completionScriptsAreGenerated() throws {
        for shell in ["bash", "zsh", "fish"] {
            let result = try CLI.run(["--generate-completion-script", shell])
            #expect(result.status == 0)
            #expect(result.stdout.contains("rollback"))
        }
    }
}
