import Foundation
import Testing

/// Bad step plans and rollout commands with nothing to act on: one line, non-zero exit, registry untouched.
extension BadInputTests {
    @Test(arguments: [
        (["deploy", "sentiment", "v2", "--steps", "5%:2m,50%:10m", "--reason", "x"], "ends at 50%, not 100%"),
        (["deploy", "sentiment", "v2", "--steps", "5%:2m,150%:1m,100%"], "step 150% is over 100%"),
        (["deploy", "sentiment", "v2", "--steps", "50%:2m,10%:1m,100%"], "step 10% comes after 50%; weights may only go up"),
        (["deploy", "sentiment", "v2", "--steps", "5%:2m,100%", "--strategy", "canary:10%:1m"], "give --strategy or --steps, not both"),
        (["promote", "sentiment", "--reason", "x"], "endpoint 'sentiment' has no deploy in flight; there is nothing to promote"),
        (["promote", "sentiment", "--full", "--reason", "x"], "there is nothing to promote"),
        (["pause", "sentiment", "--reason", "x"], "there is nothing to pause"),
        (["resume", "sentiment", "--reason", "x"], "there is nothing to resume"),
        (["abort", "sentiment", "--reason", "x"], "there is nothing to abort"),
        (["set-weight", "sentiment", "v2=30", "--reason", "x"], "there is nothing to set-weight"),
        (["set-weight", "sentiment", "v2=130", "--reason", "x"], "130% must be between 0% and 100%"),
        (["set-weight", "sentiment", "v2", "--reason", "x"], "is not VERSION=PERCENT"),
        (["promote", "sentiment", "--reason", "  "], "promote needs a reason"),
        (["promote", "nope", "--reason", "x"], "unknown endpoint 'nope'"),
    ])
    func rolloutInputIsRefused(_ arguments: [String], _ message: String) throws {
        let error = try expectRefused(arguments)
        #expect(error.contains(message), "\(error)")
    }

    @Test func aRolloutNamedInADeckIsCheckedWhenApplied() throws {
        let error = try expectRefused(["apply", "-f", "{deck}"], deck: remoteDeck(replacements: [("memory: 512MB", "memory: 512MB\n    rollout: 10%:1m,5%:1m,100%")]))
        #expect(error.contains("step 5% comes after 10%"), "\(error)")
    }

    @Test func setWeightOnATargetThatCannotSplitTrafficIsRefused() throws {
        let deck = remoteDeck(replacements: [
            ("    role_arn: arn:aws:iam::123456789012:role/modeldeck-lambda\n",
             "    role_arn: arn:aws:iam::123456789012:role/modeldeck-lambda\n  - name: sagemaker-eu\n    kind: sagemaker-serverless\n    region: eu-central-1\n    execution_role_arn: arn:aws:iam::123456789012:role/modeldeck-sagemaker\n"),
            ("target: local\n    memory: 512MB", "target: sagemaker-eu\n    memory: 1GB"),
            ("command: [python3, server.py]", "image: 123456789012.dkr.ecr.eu-central-1.amazonaws.com/sentiment:latest"),
        ])
        let scratch = Scratch()
        defer { scratch.cleanUp() }
        let applied = try CLI.run(["apply", "-f", scratch.file("deck.yaml", deck), "--registry", scratch.registry])
        #expect(applied.status == 0, "\(applied.stderr)")
        let before = try dump(registryAt: scratch.registry)
        let result = try CLI.run(["set-weight", "sentiment", "v2=30", "--reason", "x", "--registry", scratch.registry])
        #expect(result.status != 0)
        #expect(result.stderr.contains("serves one version of an endpoint at a time, so set-weight cannot split traffic there"), "\(result.stderr)")
        #expect(result.stderr.split(separator: "\n").count == 1)
        #expect(try dump(registryAt: scratch.registry) == before)
    }
}
