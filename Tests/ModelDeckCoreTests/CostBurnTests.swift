import Foundation
import GRDB
import Testing
@testable import ModelDeckCore

struct CostBurnTests {
    let now = Date(timeIntervalSince1970: 1_800_000_000)  // 08:00 UTC; the day began 28,800 s earlier

    func registry(_ scratch: Scratch, priced: Bool = true) throws -> Registry {
        let registry = try Registry(path: scratch.registryPath)
        var edits = [("    traffic: {v1: 100}", "    daily_budget: $1\n    traffic: {v1: 100}")]
        if priced { edits.append(("  - name: local\n    kind: local\n", "  - name: local\n    kind: local\n    price_as: aws-lambda\n")) }
        try DeckApplier.apply(parseDeck(sampleDeck(edits)), to: registry, source: "deck.yaml", actor: "test")
        return registry
    }

    func add(_ registry: Registry, version: String, secondsAgo: Int64, traffic: Int64, warm: Int64 = 0) throws {
        var bucket = MetricBucket()
        bucket.requests = 1
        bucket.costMicros = traffic
        bucket.warmupCostMicros = warm
        try registry.write { db in
            try bucket.merge(into: .init(endpoint: "sentiment", version: version, start: 1_800_000_000 - secondsAgo, width: 10), db)
        }
    }

    @Test func burnIsPerVersionAndEndpointWithKeepWarmApart() throws {
        let scratch = Scratch()
        defer { scratch.cleanUp() }
        let registry = try registry(scratch)
        try add(registry, version: "sentiment@v1", secondsAgo: 100, traffic: 600, warm: 60)   // last 5 minutes
        try add(registry, version: "sentiment@v1", secondsAgo: 3_600, traffic: 1_000)         // today
        try add(registry, version: "sentiment@v1", secondsAgo: 30_000, traffic: 2_000)        // yesterday, within 24 h
        try add(registry, version: "sentiment@v1", secondsAgo: 90_000, traffic: 5_000)        // older than 24 h
        try add(registry, version: "sentiment@v1", secondsAgo: -20, traffic: 99_999)          // after `now`
        try add(registry, version: "sentiment@v2", secondsAgo: 200, traffic: 300)
        let burn = try registry.read { db in try CostBurn.load(db, now: now) }
        let endpoint = try #require(burn.endpoints.first { $0.endpoint == "sentiment" })
        #expect(endpoint.pricedAs == "aws-lambda x86_64 us-east-1")
        let v1 = try #require(endpoint.versions.first { $0.version == "sentiment@v1" }).burn
        // Now: the last 5 minutes × 12.
        #expect(v1.perHourNow == CostSplit(trafficMicros: 7_200, keepWarmMicros: 720))
        #expect(v1.today == CostSplit(trafficMicros: 1_600, keepWarmMicros: 60))
        // Month: the endpoint was first seen 30,000 s ago; v1 spent 3,600 + 60 µ$ since, × 2,592,000 / 30,000 = × 86.4.
        #expect(v1.projectedMonth == CostSplit(trafficMicros: 311_040, keepWarmMicros: 5_184))
        let v2 = try #require(endpoint.versions.first { $0.version == "sentiment@v2" }).burn
        #expect(v2.perHourNow == CostSplit(trafficMicros: 3_600))
        #expect(v2.projectedMonth == CostSplit(trafficMicros: 25_920))
        // The endpoint is the sum of its versions; today's 1,960 µ$ is 0.196% of the $1 budget.
        #expect(endpoint.burn.perHourNow == CostSplit(trafficMicros: 10_800, keepWarmMicros: 720))
        #expect(endpoint.burn.today.totalMicros == 1_960)
        #expect(endpoint.dailyBudgetMicros == 1_000_000)
        #expect(endpoint.budgetUsedPPM == 1_960)
        #expect(burn.total == endpoint.burn)
        let text = CostBurn.table(burn).render()
        #expect(text.contains("0.196% of $1.00"))
        #expect(text.contains("$0.01152 (warm $0.00072)"))
    }

    @Test func benchRunsCountTodayAndAgainstTheBudgetButAreNotProjected() throws {
        let scratch = Scratch()
        defer { scratch.cleanUp() }
        let registry = try registry(scratch)
        try add(registry, version: "sentiment@v1", secondsAgo: 3_600, traffic: 1_000)
        let subject = try registry.benchSubject(endpoint: "sentiment", version: "v2", force: false, reason: nil)
        var figures = BenchFigures()
        figures.requests = 400
        figures.costMicros = 2_500
        // One run today on v2 (a version without user traffic), one yesterday: only today's counts.
        let today = try registry.startBenchRun(subject, plan: BenchPlan(), reason: nil, now: now.addingTimeInterval(-600))
        try registry.finishBenchRun(today.id, figures: figures, partial: false, now: now.addingTimeInterval(-500))
        let yesterday = try registry.startBenchRun(subject, plan: BenchPlan(), reason: nil, now: now.addingTimeInterval(-30_000))
        try registry.finishBenchRun(yesterday.id, figures: figures, partial: false, now: now.addingTimeInterval(-29_900))

        let burn = try registry.read { db in try CostBurn.load(db, now: now) }
        let endpoint = try #require(burn.endpoints.first { $0.endpoint == "sentiment" })
        let v2 = try #require(endpoint.versions.first { $0.version == "sentiment@v2" }).burn
        #expect(v2.today == CostSplit(benchMicros: 2_500))
        #expect(v2.projectedMonth == CostSplit())
        #expect(endpoint.burn.today.totalMicros == 3_500)
        #expect(endpoint.budgetUsedPPM == 3_500)
        #expect(burn.total.today.benchMicros == 2_500)
        #expect(CostBurn.table(burn).render().contains("$0.0035 (bench $0.0025)"))
    }

    @Test func aFreshEndpointIsProjectedFromAtLeastFiveMinutes() throws {
        let scratch = Scratch()
        defer { scratch.cleanUp() }
        let registry = try registry(scratch)
        try add(registry, version: "sentiment@v1", secondsAgo: 20, traffic: 100)
        let burn = try registry.read { db in try CostBurn.load(db, now: now) }
        // 100 µ$ over (at least) 300 s: × 2,592,000 / 300 = 864,000 µ$ a month.
        #expect(burn.total.projectedMonth.trafficMicros == 864_000)
    }

    @Test func aLocalTargetWithoutPriceAsIsFree() throws {
        let scratch = Scratch()
        defer { scratch.cleanUp() }
        let registry = try registry(scratch, priced: false)
        let burn = try registry.read { db in try CostBurn.load(db, now: now) }
        #expect(burn.endpoints.first?.pricedAs == nil)
        #expect(burn.total.today.totalMicros == 0)
        #expect(CostBurn.table(burn).render().contains("free (local)"))
    }

    @Test func aDeckPricingALocalTargetAsAnUnknownPlatformOrRegionIsRefused() throws {
        let platform = sampleDeck([("  - name: local\n    kind: local\n", "  - name: local\n    kind: local\n    price_as: gcp-run\n")])
        #expect(throws: ModelDeckError("deck.yaml:5:15: target 'local': unknown platform 'gcp-run'; the price table (version 2026-11-30) has aws-lambda, google-cloud-run, sagemaker-serverless, ecs-fargate, sagemaker-realtime, sagemaker-batch-transform")) {
            try parseDeck(platform)
        }
        let region = sampleDeck([("  - name: local\n    kind: local\n", "  - name: local\n    kind: local\n    price_as: aws-lambda\n    region: mars-1\n")])
        #expect(throws: ModelDeckError("deck.yaml:5:15: target 'local': unknown region 'mars-1'; the price table (version 2026-11-30) has us-east-1, eu-central-1, us-central1, europe-west1")) {
            try parseDeck(region)
        }
    }
}
