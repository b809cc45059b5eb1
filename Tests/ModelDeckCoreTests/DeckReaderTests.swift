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
        #expect(deck.endpoints[0].location == "deck.yaml:24:5")
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
        #expect(throws: ModelDeckError("deck.yaml:29:5: unknown field 'memroy' in endpoint 'sentiment'; known fields: name, model, target, memory, concurrency, min_instances, max_instances, idle_timeout, slo, daily_budget, keep_warm, traffic, production")) {
            try parseDeck(sampleDeck([("    max_instances: 4", "    max_instances: 4\n    memroy: 1GB")]))
        }
        #expect(throws: ModelDeckError.self) { try parseDeck(sampleDeck([("apiVersion: modeldeck/v1", "apiVersion: modeldeck/v1\nendpoint: []")])) }
        #expect(throws: ModelDeckError.self) { try parseDeck(sampleDeck([("slo: {p99: 500ms", "slo: {p95: 500ms")])) }
    }

    @Test func valuesWithBadUnitsAreRefusedAtTheirLine() {
        #expect(throws: ModelDeckError("deck.yaml:27:13: endpoint 'sentiment' memory 'lots' is not a size; use a number with B, KB, MB, GB or TB, e.g. 512MB")) {
            try parseDeck(sampleDeck([("memory: 512MB", "memory: lots")]))
        }
        #expect(throws: ModelDeckError.self) { try parseDeck(sampleDeck([("max_instances: 4", "max_instances: 0")])) }
        #expect(throws: ModelDeckError.self) { try parseDeck(sampleDeck([("kind: local", "kind: kubernetes")])) }
        #expect(throws: ModelDeckError.self) { try parseDeck(sampleDeck([("region: eu-central-1", "zone: a")])) }
        #expect(throws: ModelDeckError.self) { try parseDeck(sampleDeck([("digest: sha256:aaaa", "digest: md5:aaaa")])) }
        #expect(throws: ModelDeckError.self) { try parseDeck(sampleDeck([("name: sentiment\n    model", "name: \"bad name\"\n    model")])) }
    }

    @Test func trafficThatDoesNotSumToOneHundredIsRefused() {
        #expect(throws: ModelDeckError("deck.yaml:30:14: endpoint 'sentiment': traffic weights sum to 110, they must sum to 100")) {
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
}
