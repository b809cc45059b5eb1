import Foundation
import Testing
@testable import ModelDeckCore

struct DeckReaderTests {
    @Test func aSampleDeckReadsWithUnitsApplied() throws {
        let deck = try parseDeck(sampleDeck())
        #expect(deck.targets.map(\.value.name) == ["local", "lambda-eu"])
        #expect(deck.versions.map(\.value.id) == ["sentiment@v1", "sentiment@v2"])
        let endpoint = try #require(deck.endpoints.first?.value)
        #expect(endpoint.endpoint.memoryMB == 512)
        #expect(endpoint.endpoint.slo == SLO(p99Milliseconds: 500, errorRatePPM: 10_000))
        #expect(endpoint.traffic == ["v1": 100])
        #expect(deck.versions[0].value.sizeBytes == 20 << 20)
        #expect(deck.endpoints[0].location == "deck.yaml:25:5")
    }

    @Test func malformedYAMLSaysWhere() {
        let text = sampleDeck([("memory: 512MB", "memory: [512MB")])
        do {
            _ = try parseDeck(text)
            Issue.record("malformed YAML was accepted")
        } catch let error as ModelDeckError {
            #expect(error.message.hasPrefix("deck.yaml:"))
            #expect(error.message.contains("malformed YAML"))
            #expect(!error.message.contains("\n"))
        } catch { Issue.record("unexpected \(error)") }
    }

    @Test func anUnknownFieldIsRefusedWithTheKnownOnes() {
        #expect(throws: ModelDeckError("deck.yaml:30:5: unknown field 'memroy' in endpoint 'sentiment'; known fields: name, model, target, memory, concurrency, min_instances, max_instances, idle_timeout, slo, daily_budget, keep_warm, traffic, production, rollout, gate")) {
            try parseDeck(sampleDeck([("    max_instances: 4", "    max_instances: 4\n    memroy: 1GB")]))
        }
        #expect(throws: ModelDeckError.self) { try parseDeck(sampleDeck([("apiVersion: modeldeck/v1", "apiVersion: modeldeck/v1\nendpoint: []")])) }
        #expect(throws: ModelDeckError.self) { try parseDeck(sampleDeck([("slo: {p99: 500ms", "slo: {p95: 500ms")])) }
    }

    @Test func valuesWithBadUnitsAreRefusedAtTheirLine() {
        #expect(throws: ModelDeckError("deck.yaml:28:13: endpoint 'sentiment' memory 'lots' is not a size; use a number with B, KB, MB, GB or TB, e.g. 512MB")) {
            try parseDeck(sampleDeck([("memory: 512MB", "memory: lots")]))
        }
        #expect(throws: ModelDeckError.self) { try parseDeck(sampleDeck([("max_instances: 4", "max_instances: 0")])) }
        #expect(throws: ModelDeckError.self) { try parseDeck(sampleDeck([("kind: local", "kind: kubernetes")])) }
        #expect(throws: ModelDeckError.self) { try parseDeck(sampleDeck([("region: eu-central-1", "zone: a")])) }
        #expect(throws: ModelDeckError.self) { try parseDeck(sampleDeck([("digest: sha256:aaaa", "digest: md5:aaaa")])) }
        #expect(throws: ModelDeckError.self) { try parseDeck(sampleDeck([("name: sentiment\n    model", "name: \"bad name\"\n    model")])) }
    }

    @Test func trafficThatDoesNotSumToOneHundredIsRefused() {
        #expect(throws: ModelDeckError("deck.yaml:31:14: endpoint 'sentiment': traffic weights sum to 110, they must sum to 100")) {
            try parseDeck(sampleDeck([("traffic: {v1: 100}", "traffic: {v1: 100, v2: 10}")]))
        }
    }

    @Test func aLocalArtifactIsHashedAndAMismatchedDigestRefused() throws {
        let scratch = Scratch()
        defer { scratch.cleanUp() }
        _ = scratch.file("weights.bin", "hello")
        // sha256("hello")
        let hello = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
        let reader = DeckReader(sourceName: "deck.yaml", baseDirectory: scratch.path)
        let ok = try reader.parse(sampleDeck([("artifact: s3://models/sentiment-v1.zip\n        digest: sha256:\(String(repeating: "a", count: 64))\n        size: 20MB",
                                               "artifact: weights.bin")]))
        #expect(ok.versions[0].value.digest == "sha256:" + hello)
        #expect(ok.versions[0].value.sizeBytes == 5)
        #expect(ok.versions[0].value.artifact == scratch.path + "/weights.bin")
        #expect(throws: ModelDeckError.self) {
            try reader.parse(sampleDeck([("artifact: s3://models/sentiment-v1.zip", "artifact: weights.bin")]))
        }
        #expect(throws: ModelDeckError.self) {
            try reader.parse(sampleDeck([("artifact: s3://models/sentiment-v1.zip", "artifact: missing.bin")]))
        }
    }

    /// A target's settings are checked against its kind's descriptor as the deck is read: a missing one is
    /// refused where the target is, a malformed one where its value is.
    @Test func targetSettingsAreCheckedWhereTheyAre() {
        let role = "    role_arn: arn:aws:iam::123456789012:role/modeldeck-lambda\n"
        #expect(throws: ModelDeckError("deck.yaml:5:5: target 'lambda-eu' (aws-lambda) needs role_arn: the IAM role Lambda assumes to run the function (arn:aws:iam::ACCOUNT:role/NAME)")) {
            try parseDeck(sampleDeck([(role, "")]))
        }
        #expect(throws: ModelDeckError("deck.yaml:8:15: target 'lambda-eu' (aws-lambda): role_arn 'lambda' must be an IAM role ARN, arn:aws:iam::ACCOUNT:role/NAME (a 12-digit account id)")) {
            try parseDeck(sampleDeck([(role, "    role_arn: lambda\n")]))
        }
        #expect(throws: ModelDeckError("deck.yaml:7:13: target 'lambda-eu' (aws-lambda): region 'eu-west' is not an AWS region name such as eu-central-1")) {
            try parseDeck(sampleDeck([("region: eu-central-1", "region: eu-west")]))
        }
        #expect(throws: ModelDeckError("deck.yaml:5:5: target 'lambda-eu' (aws-lambda) needs a region, e.g. region: eu-central-1")) {
            try parseDeck(sampleDeck([("    region: eu-central-1\n", "")]))
        }
        #expect(throws: ModelDeckError("deck.yaml:5:11: target 'local' (local): port '99999' must be a whole number from 0 to 65535")) {
            try parseDeck(sampleDeck([("    kind: local\n", "    kind: local\n    port: 99999\n")]))
        }
        #expect(throws: ModelDeckError("deck.yaml:3:5: target 'local' (http) needs url: where the endpoint answers, http:// or https://")) {
            try parseDeck(sampleDeck([("    kind: local\n", "    kind: http\n")]))
        }
        #expect(throws: ModelDeckError("deck.yaml:6:11: target 'lambda-eu': unknown kind 'aws-lambda2'; use one of local, aws-lambda, sagemaker-serverless, ecs-fargate, http, sagemaker-realtime")) {
            try parseDeck(sampleDeck([("kind: aws-lambda", "kind: aws-lambda2")]))
        }
    }
}
