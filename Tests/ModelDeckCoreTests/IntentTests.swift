import Foundation
import GRDB
import Testing
@testable import ModelDeckCore

struct IntentTests {
    let scratch = Scratch()

    func registry() throws -> Registry {
        let registry = try Registry(path: scratch.registryPath)
        try DeckApplier.apply(parseDeck(sampleDeck(extra: """

              - name: tiny
                model: sentiment
                target: lambda-eu
                memory: 128MB
            """)), to: registry, source: "deck.yaml", actor: "test")
        return registry
    }

    /// Marks a deployment as finished, as the daemon would.
    func finish(_ registry: Registry, _ deployment: Deployment, _ state: DeploymentState) throws {
        try registry.write { db in
            var done = deployment
            done.state = state
            try done.update(db)
            if state == .succeeded {
                try TrafficSplit.all(on: deployment.toVersion).save(db, endpoint: deployment.endpoint)
            }
        }
    }

    @Test func trafficRowsReadBackEveryColumnAsWritten() throws {
        defer { scratch.cleanUp() }
        let registry = try registry()
        let rows = try registry.write { db -> [TrafficRecord] in
            try TrafficSplit(["sentiment@v1": 70, "sentiment@v2": 30], endpoint: "sentiment").save(db, endpoint: "sentiment")
            let unrouted = try TrafficRecord.filter(TrafficRecord.Columns.endpoint == "sentiment" && TrafficRecord.Columns.versionId == "sentiment@v2").fetchOne(db)
            #expect(unrouted?.liveWeight == nil && unrouted?.weight == 30)
            try TrafficSplit.markRouted(db, endpoint: "sentiment")
            try TrafficSplit(["sentiment@v1": 40, "sentiment@v2": 60], endpoint: "sentiment").save(db, endpoint: "sentiment")
            try db.execute(sql: "UPDATE traffic SET updated_at = '2026-12-03 10:11:12.345' WHERE version_id = 'sentiment@v2'")
            return try TrafficRecord.filter(TrafficRecord.Columns.endpoint == "sentiment").order(TrafficRecord.Columns.versionId).fetchAll(db)
        }
        #expect(rows.map(\.versionId) == ["sentiment@v1", "sentiment@v2"])
        #expect(rows.map(\.weight) == [40, 60])
        #expect(rows.map(\.liveWeight) == [70, 30])
        #expect(rows.allSatisfy { $0.endpoint == "sentiment" })
        #expect(rows[1].updatedAt == Date(timeIntervalSince1970: 1_796_292_672.345))
    }

    @Test func aDeployWritesThePendingIntentAndItsAuditEventTogether() throws {
        defer { scratch.cleanUp() }
        let registry = try registry()
        let deployment = try Intents.deploy(registry, endpoint: "sentiment", version: "v2",
                                            strategy: .canary(percent: 10, intervalSeconds: 300), bakeSeconds: 60,
                                            reason: "better accuracy", actor: "alice")
        #expect(deployment.state == .pending)
        #expect(deployment.fromVersion == "sentiment@v1")
        #expect(deployment.toVersion == "sentiment@v2")
        #expect(deployment.strategy == "canary:10%:5m")
        let event = try registry.read { db in try AuditEvent.fetchOne(db, sql: "SELECT * FROM events ORDER BY id DESC LIMIT 1") }
        #expect(event?.kind == "deploy.requested")
        #expect(event?.actor == "alice")
        #expect(event?.deploymentId == deployment.id)
        #expect(event?.message == "deploy sentiment@v2 to sentiment (now sentiment@v1 100%) with canary:10%:5m, bake 1m: better accuracy")
    }

    @Test func aCanaryOnATargetThatServesOneVersionIsRefusedAndWritesNothing() throws {
        defer { scratch.cleanUp() }
        let registry = try Registry(path: scratch.registryPath)
        try DeckApplier.apply(parseDeck(sampleDeck([
            ("  - name: lambda-eu\n    kind: aws-lambda", "  - name: sm\n    kind: sagemaker-serverless"),
            ("    role_arn: arn:aws:iam::123456789012:role/modeldeck-lambda", "    execution_role_arn: arn:aws:iam::123456789012:role/modeldeck-sagemaker"),
            ("        command: [python3, server.py]\n        memory: 256MB\n      - version: v2", "        image: 1.dkr.ecr/s:v1\n        memory: 256MB\n      - version: v2"),
            ("        command: [python3, server.py]\n        memory: 256MB\nendpoints", "        image: 1.dkr.ecr/s:v2\n        memory: 256MB\nendpoints"),
            ("    target: local\n    memory: 512MB", "    target: sm\n    memory: 1GB"),
        ])), to: registry, source: "deck.yaml", actor: "test")
        let before = try dump(registry)
        #expect(throws: ModelDeckError("target 'sm' (sagemaker-serverless) serves one version of an endpoint at a time, so canary:10%:5m cannot split traffic there; deploy with strategy all-at-once (a bake still watches the SLO and rolls back)")) {
            try Intents.deploy(registry, endpoint: "sentiment", version: "v2", strategy: .canary(percent: 10, intervalSeconds: 300),
                               bakeSeconds: 0, reason: nil)
        }
        #expect(try dump(registry) == before)
        let allAtOnce = try Intents.deploy(registry, endpoint: "sentiment", version: "v2", strategy: .allAtOnce, bakeSeconds: 60, reason: nil)
        #expect(allAtOnce.state == .pending)
    }

    @Test func aSecondDeployWhileOneIsInFlightIsRefusedAndWritesNothing() throws {
        defer { scratch.cleanUp() }
        let registry = try registry()
        _ = try Intents.deploy(registry, endpoint: "sentiment", version: "v2", strategy: .allAtOnce, bakeSeconds: 0, reason: nil)
        let before = try dump(registry)
        #expect(throws: ModelDeckError("endpoint 'sentiment' already has deployment #1 (sentiment@v2, pending); wait for it or roll back first")) {
            try Intents.deploy(registry, endpoint: "sentiment", version: "v2", strategy: .allAtOnce, bakeSeconds: 0, reason: nil)
        }
        #expect(try dump(registry) == before)
    }

    @Test func deployRefusesUnknownNamesAndVersionsThatDoNotFit() throws {
        defer { scratch.cleanUp() }
        let registry = try registry()
        let before = try dump(registry)
        #expect(throws: ModelDeckError("unknown endpoint 'sentinel' (known: sentiment, tiny)")) {
            try Intents.deploy(registry, endpoint: "sentinel", version: "v2", strategy: .allAtOnce, bakeSeconds: 0, reason: nil)
        }
        #expect(throws: ModelDeckError("unknown version 'sentiment@v7' (known: v1, v2)")) {
            try Intents.deploy(registry, endpoint: "sentiment", version: "v7", strategy: .allAtOnce, bakeSeconds: 0, reason: nil)
        }
        #expect(throws: ModelDeckError("version 'sentiment@v2' needs 256 MB; endpoint 'tiny' gives it 128 MB")) {
            try Intents.deploy(registry, endpoint: "tiny", version: "v2", strategy: .allAtOnce, bakeSeconds: 0, reason: nil)
        }
        #expect(throws: ModelDeckError("endpoint 'sentiment' already sends 100% of its traffic to sentiment@v1")) {
            try Intents.deploy(registry, endpoint: "sentiment", version: "v1", strategy: .allAtOnce, bakeSeconds: 0, reason: nil)
        }
        #expect(try dump(registry) == before)
    }

    @Test func rollbackDuringADeployGoesBackToWhereTheDeployStarted() throws {
        defer { scratch.cleanUp() }
        let registry = try registry()
        _ = try Intents.deploy(registry, endpoint: "sentiment", version: "v2", strategy: .canary(percent: 10, intervalSeconds: 60),
                               bakeSeconds: 0, reason: nil)
        let rollback = try Intents.rollback(registry, endpoint: "sentiment", to: nil, reason: "errors", actor: "bob")
        #expect(rollback.kind == .rollback)
        #expect(rollback.fromVersion == "sentiment@v2")
        #expect(rollback.toVersion == "sentiment@v1")
        #expect(rollback.state == .pending)
        let kinds = try registry.read { db in try String.fetchAll(db, sql: "SELECT kind FROM events WHERE endpoint = 'sentiment' ORDER BY id") }
        #expect(kinds.suffix(2) == ["deploy.requested", "rollback.requested"])
    }

    @Test func rollbackAfterAFinishedDeployGoesToTheLastGoodVersion() throws {
        defer { scratch.cleanUp() }
        let registry = try registry()
        let deploy = try Intents.deploy(registry, endpoint: "sentiment", version: "v2", strategy: .allAtOnce, bakeSeconds: 0, reason: nil)
        try finish(registry, deploy, .succeeded)
        let rollback = try Intents.rollback(registry, endpoint: "sentiment", to: nil, reason: "bad answers")
        #expect(rollback.fromVersion == "sentiment@v2")
        #expect(rollback.toVersion == "sentiment@v1")
        try finish(registry, rollback, .succeeded)
        // v2 was rolled back from: it is not "good", and v1 is live, so there is nothing left to go back to.
        #expect(throws: ModelDeckError("endpoint 'sentiment' has no earlier good version to roll back to; name one with --to VERSION")) {
            try Intents.rollback(registry, endpoint: "sentiment", to: nil, reason: "again")
        }
        let explicit = try Intents.rollback(registry, endpoint: "sentiment", to: "sentiment@v2", reason: "v2 was fine after all")
        #expect(explicit.toVersion == "sentiment@v2")
    }

    @Test func rollbackNeedsAReasonAndSomethingToRollBack() throws {
        defer { scratch.cleanUp() }
        let registry = try registry()
        let before = try dump(registry)
        #expect(throws: ModelDeckError("a rollback needs a reason (--reason TEXT); it goes in the audit log")) {
            try Intents.rollback(registry, endpoint: "sentiment", to: nil, reason: "  ")
        }
        #expect(throws: ModelDeckError("endpoint 'tiny' takes no traffic yet; there is nothing to roll back")) {
            try Intents.rollback(registry, endpoint: "tiny", to: nil, reason: "x")
        }
        #expect(throws: ModelDeckError.self) { try Intents.rollback(registry, endpoint: "sentiment", to: nil, reason: "x") }
        #expect(try dump(registry) == before)
    }

    @Test func keepWarmChangesArePersistedAndAudited() throws {
        defer { scratch.cleanUp() }
        let registry = try registry()
        let change = try Intents.keepWarm(registry, endpoint: "sentiment", policy: .fixed(everySeconds: 300, concurrency: 2), actor: "carol")
        #expect(change.old == .off)
        let endpoint = try registry.read { db in try Endpoint.fetchOne(db, key: "sentiment") }
        #expect(endpoint?.keepWarm == .fixed(everySeconds: 300, concurrency: 2))
        let event = try registry.read { db in try AuditEvent.fetchOne(db, sql: "SELECT * FROM events ORDER BY id DESC LIMIT 1") }
        #expect(event?.message == "keep-warm of sentiment: off → every 5m ×2")
        let before = try dump(registry)
        try Intents.keepWarm(registry, endpoint: "sentiment", policy: .fixed(everySeconds: 300, concurrency: 2))
        #expect(try dump(registry) == before)
    }

    @Test func applyWritesOneEventPerChangeAndNoneWhenNothingChanged() throws {
        defer { scratch.cleanUp() }
        let registry = try registry()
        let events = try registry.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM events") }
        #expect(events == 7)
        let before = try dump(registry)
        let plan = try DeckApplier.apply(parseDeck(sampleDeck(extra: """

              - name: tiny
                model: sentiment
                target: lambda-eu
                memory: 128MB
            """)), to: registry, source: "deck.yaml", actor: "test")
        #expect(plan.isEmpty)
        #expect(try dump(registry) == before)
    }
}
