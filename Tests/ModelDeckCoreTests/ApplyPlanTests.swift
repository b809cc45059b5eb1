import Foundation
import Testing
@testable import ModelDeckCore

struct ApplyPlanTests {
    @Test func aNewDeckCreatesEverythingInOrder() throws {
        let plan = try ApplyPlan.make(deck: parseDeck(sampleDeck()), registry: RegistrySnapshot())
        #expect(plan.changes.map(\.summary) == [
            "+ target local (local)",
            "+ target lambda-eu (aws-lambda, eu-central-1)",
            "+ model sentiment",
            "+ version sentiment@v1 (20 MB, needs 256 MB, sha256:aaaaaaaaaaaa…)",
            "+ version sentiment@v2 (21 MB, needs 256 MB, sha256:bbbbbbbbbbbb…)",
            "+ endpoint sentiment on local, traffic sentiment@v1 100%",
        ])
    }

    @Test func unknownReferencesAreRefused() {
        #expect(throws: ModelDeckError("deck.yaml:25:5: endpoint 'sentiment' uses unknown model 'sentinel' (known: sentiment)")) {
            try ApplyPlan.make(deck: parseDeck(sampleDeck([("model: sentiment", "model: sentinel")])), registry: RegistrySnapshot())
        }
        #expect(throws: ModelDeckError("deck.yaml:25:5: endpoint 'sentiment' uses unknown target 'gpu-box' (known: lambda-eu, local)")) {
            try ApplyPlan.make(deck: parseDeck(sampleDeck([("target: local", "target: gpu-box")])), registry: RegistrySnapshot())
        }
        #expect(throws: ModelDeckError("deck.yaml:25:5: endpoint 'sentiment' sends traffic to unknown version 'sentiment@v9' (known: v1, v2)")) {
            try ApplyPlan.make(deck: parseDeck(sampleDeck([("traffic: {v1: 100}", "traffic: {v9: 100}")])), registry: RegistrySnapshot())
        }
    }

    @Test func memoryOutsideTheTargetsRangeIsRefused() {
        let deck = sampleDeck([("target: local", "target: lambda-eu"), ("memory: 512MB", "memory: 12GB")])
        #expect(throws: ModelDeckError("deck.yaml:25:5: endpoint 'sentiment' memory 12,288 MB is outside target 'lambda-eu' (aws-lambda) range 128 MB–10,240 MB")) {
            try ApplyPlan.make(deck: parseDeck(deck), registry: RegistrySnapshot())
        }
    }

    @Test func aGPUModelOnATargetWithoutGPUIsRefused() {
        let deck = sampleDeck([("target: local", "target: lambda-eu"),
                               ("command: [python3, server.py]\n        memory: 256MB\n      - version: v2", "command: [python3, server.py]\n        memory: 256MB\n        gpu: true\n      - version: v2")])
        #expect(throws: ModelDeckError("deck.yaml:26:5: version 'sentiment@v1' needs a GPU; target 'lambda-eu' (aws-lambda) has none")) {
            try ApplyPlan.make(deck: parseDeck(deck), registry: RegistrySnapshot())
        }
    }

    @Test func reapplyingTheSameDeckPlansNothing() throws {
        let deck = try parseDeck(sampleDeck())
        let registry = try snapshot(after: deck)
        #expect(try ApplyPlan.make(deck: deck, registry: registry).isEmpty)
    }

    @Test func aVersionRedeclaredWithAnotherDigestIsRefused() throws {
        let registry = try snapshot(after: parseDeck(sampleDeck()))
        let changed = try parseDeck(sampleDeck([("digest: sha256:\(String(repeating: "b", count: 64))", "digest: sha256:\(String(repeating: "c", count: 64))")]))
        #expect(throws: ModelDeckError("deck.yaml:18:9: version 'sentiment@v2' is immutable: the registry has digest sha256:\(String(repeating: "b", count: 64)), the deck says sha256:\(String(repeating: "c", count: 64)); declare a new version instead")) {
            try ApplyPlan.make(deck: changed, registry: registry)
        }
        let otherMemory = try parseDeck(sampleDeck([("size: 21MB\n        command: [python3, server.py]\n        memory: 256MB", "size: 21MB\n        command: [python3, server.py]\n        memory: 300MB")]))
        #expect(throws: ModelDeckError.self) { try ApplyPlan.make(deck: otherMemory, registry: registry) }
    }

    @Test func changedEndpointSettingsAreListedFieldByField() throws {
        let registry = try snapshot(after: parseDeck(sampleDeck()))
        let deck = try parseDeck(sampleDeck([("memory: 512MB", "memory: 1GB"), ("max_instances: 4", "max_instances: 4\n    keep_warm: {every: 5m, concurrency: 2}")]))
        let plan = try ApplyPlan.make(deck: deck, registry: registry)
        #expect(plan.changes.map(\.summary) == ["~ endpoint sentiment: memory 512 MB → 1,024 MB, keep_warm off → every 5m ×2"])
    }

    @Test func trafficOfAnExistingEndpointIsLeftToDeploysWithANote() throws {
        let registry = try snapshot(after: parseDeck(sampleDeck()))
        let plan = try ApplyPlan.make(deck: parseDeck(sampleDeck([("traffic: {v1: 100}", "traffic: {v2: 100}")])), registry: registry)
        #expect(plan.changes.isEmpty)
        #expect(plan.notes.count == 1)
        #expect(plan.notes[0].contains("use `modeldeck deploy`"))
    }

    @Test func anEndpointCannotChangeModelOrTargetAndATargetCannotChangeKind() throws {
        let registry = try snapshot(after: parseDeck(sampleDeck()))
        #expect(throws: ModelDeckError.self) {
            try ApplyPlan.make(deck: parseDeck(sampleDeck([("target: local", "target: lambda-eu")])), registry: registry)
        }
        #expect(throws: ModelDeckError.self) {
            try ApplyPlan.make(deck: parseDeck(sampleDeck([("- name: local\n    kind: local", "- name: local\n    kind: http\n    url: http://127.0.0.1:1")])), registry: registry)
        }
    }

    /// The registry as it would be after applying `deck` to an empty one.
    private func snapshot(after deck: Deck) throws -> RegistrySnapshot {
        var snapshot = RegistrySnapshot()
        for change in try ApplyPlan.make(deck: deck, registry: snapshot).changes {
            switch change {
            case .createTarget(let t), .updateTarget(_, let t): snapshot.targets[t.name] = t
            case .createModel(let m), .updateModel(_, let m): snapshot.models[m.name] = m
            case .createVersion(let v): snapshot.versions[v.id] = v
            case .createEndpoint(let e, let traffic):
                snapshot.endpoints[e.name] = e
                snapshot.traffic[e.name] = traffic
            case .updateEndpoint(_, let e): snapshot.endpoints[e.name] = e
            case .createNotification(let n), .updateNotification(_, let n): snapshot.notifications[n.name] = n
            }
        }
        return snapshot
    }
}

extension ApplyPlanTests {
    @Test func settingsTheDeckDoesNotMentionAreLeftAsTheyAre() throws {
        var registry = RegistrySnapshot()
        let deck = try parseDeck(sampleDeck())
        for change in try ApplyPlan.make(deck: deck, registry: registry).changes {
            switch change {
            case .createTarget(let t): registry.targets[t.name] = t
            case .createModel(let m): registry.models[m.name] = m
            case .createVersion(let v): registry.versions[v.id] = v
            case .createEndpoint(let e, let traffic): registry.endpoints[e.name] = e; registry.traffic[e.name] = traffic
            default: break
            }
        }
        // Someone ran `modeldeck warm sentiment --adaptive`; the deck does not mention keep_warm.
        registry.endpoints["sentiment"]?.keepWarm = .adaptive
        #expect(try ApplyPlan.make(deck: deck, registry: registry).isEmpty)
        // A deck that does declare it wins.
        let declaring = try parseDeck(sampleDeck([("max_instances: 4", "max_instances: 4\n    keep_warm: off")]))
        #expect(try ApplyPlan.make(deck: declaring, registry: registry).changes.map(\.summary)
            == ["~ endpoint sentiment: keep_warm adaptive → off"])
    }
}
