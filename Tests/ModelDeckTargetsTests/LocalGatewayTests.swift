import AsyncHTTPClient
import Foundation
import GRDB
import ModelDeckCore
import NIOCore
import Testing
@testable import ModelDeckTargets

/// The local target with real model-server processes and real HTTP.
@Suite(.serialized)
struct LocalGatewayTests {
    @Test func firstRequestIsColdNextIsWarmAndIdleInstancesScaleToZero() async throws {
        let harness = try GatewayHarness(versions: ["v1": []], endpoint: """
          - {name: sentiment, model: sentiment, target: local, memory: 256MB, idle_timeout: 1s, traffic: {v1: 100}}
        """)
        defer { harness.cleanUp() }
        try await harness.withGateway { client in
            let first = try await client.invoke()
            #expect(first.status == 200)
            #expect(first.coldStart == true)
            #expect(first.version == "sentiment@v1")
            #expect(first.body.contains("\"label\": \"positive\""))
            let second = try await client.invoke()
            #expect(second.coldStart == false)
            #expect(second.instance == first.instance)

            #expect(try await eventually { try harness.instanceRows().count == 1 })
            let pid: Int32 = try #require(try harness.instanceRows().first?["pid"])
            // Idle past 1 s: stopped, and the table says so.
            #expect(try await eventually { try harness.instanceRows().isEmpty && !processIsAlive(pid) })
            let third = try await client.invoke()
            #expect(third.coldStart == true)
            #expect(third.instance != first.instance)
        }
    }

    @Test func concurrentRequestsStartOneInstanceEachUpToMax() async throws {
        let harness = try GatewayHarness(versions: ["v1": ["--extra-latency-ms", "700"]], endpoint: """
          - {name: sentiment, model: sentiment, target: local, memory: 256MB, concurrency: 1, max_instances: 3, traffic: {v1: 100}}
        """)
        defer { harness.cleanUp() }
        let answers = try await harness.withGateway { client in
            try await withThrowingTaskGroup(of: Answer.self) { group in
                for _ in 0..<3 { group.addTask { try await client.invoke() } }
                return try await group.reduce(into: [Answer]()) { $0.append($1) }
            }
        }
        #expect(answers.allSatisfy { $0.status == 200 && $0.coldStart == true }, "\(answers)")
        #expect(Set(answers.compactMap(\.instance)).count == 3)
    }

    @Test func atMaxInstancesRequestsQueueThenGet503() async throws {
        let harness = try GatewayHarness(versions: ["v1": ["--extra-latency-ms", "2500"]], endpoint: """
          - {name: sentiment, model: sentiment, target: local, memory: 256MB, concurrency: 1, max_instances: 2, traffic: {v1: 100}}
        """)
        defer { harness.cleanUp() }
        let answers = try await harness.withGateway(harness.settings(queueDepth: 1, queueTimeout: .seconds(1))) { client in
            try await withThrowingTaskGroup(of: Answer.self) { group in
                for index in 0..<4 {
                    group.addTask {
                        // Stagger so the two starts claim the instances before the others arrive.
                        try await Task.sleep(for: .milliseconds(index < 2 ? 0 : 300 + 200 * (index - 2)))
                        return try await client.invoke()
                    }
                }
                return try await group.reduce(into: [Answer]()) { $0.append($1) }
            }
        }
        #expect(answers.filter { $0.status == 200 }.count == 2)
        let rejected = answers.filter { $0.status == 503 }
        #expect(rejected.count == 2)
        #expect(rejected.contains { $0.body.contains("no instance was free within 1") })
        #expect(rejected.contains { $0.body.contains("1 requests are already waiting") })
    }

    @Test func aQueuedRequestTakesOverTheSlotWhenItFrees() async throws {
        let harness = try GatewayHarness(versions: ["v1": ["--extra-latency-ms", "300"]], endpoint: """
          - {name: sentiment, model: sentiment, target: local, memory: 256MB, concurrency: 1, max_instances: 1, traffic: {v1: 100}}
        """)
        defer { harness.cleanUp() }
        let answers = try await harness.withGateway(harness.settings(queueDepth: 5, queueTimeout: .seconds(20))) { client in
            try await withThrowingTaskGroup(of: Answer.self) { group in
                for _ in 0..<3 { group.addTask { try await client.invoke() } }
                return try await group.reduce(into: [Answer]()) { $0.append($1) }
            }
        }
        #expect(answers.allSatisfy { $0.status == 200 })
        #expect(Set(answers.compactMap(\.instance)).count == 1)
        #expect(answers.filter { $0.coldStart == true }.count == 1)
    }

    @Test func weightsRouteWithinAStatisticalBoundAndChangesApplyToTheNextRequest() async throws {
        let harness = try GatewayHarness(versions: ["v1": [], "v2": []], endpoint: """
          - {name: sentiment, model: sentiment, target: local, memory: 256MB, concurrency: 8, traffic: {v1: 90, v2: 10}}
        """)
        defer { harness.cleanUp() }
        try await harness.withGateway { client in
            var toV2 = 0
            let total = 2_000
            for _ in 0..<total {
                let answer = try await client.invoke()
                #expect(answer.status == 200)
                if answer.version == "sentiment@v2" { toV2 += 1 }
            }
            // Binomial(2000, 0.1): mean 200, sd 13.4; ±4 sd fails by chance about once in 16,000 runs.
            #expect((146...254).contains(toV2), "\(toV2) of \(total) went to v2")

            try harness.registry.write { db in
                try TrafficSplit.all(on: "sentiment@v2").save(db, endpoint: "sentiment")
            }
            // v2 answered a tenth of the requests before the change, so its first answer proves nothing.
            #expect(try await client.run(of: "sentiment@v2", length: 30))
            for _ in 0..<20 {
                #expect(try await client.invoke().version == "sentiment@v2")
            }
        }
    }

    @Test func theCatalogFollowsTheRegistryInTheBackground() async throws {
        let harness = try GatewayHarness(versions: ["v1": [], "v2": []], endpoint: """
          - {name: sentiment, model: sentiment, target: local, memory: 256MB, traffic: {v1: 100}}
        """)
        defer { harness.cleanUp() }
        let catalog = try EndpointCatalog(registryPath: harness.registry.path, targets: ["local"])
        #expect(catalog.endpoint(named: "sentiment")?.weights == ["sentiment@v1": 100])
        let following = Task { await catalog.follow() }
        defer { following.cancel() }
        try harness.registry.write { db in try TrafficSplit.all(on: "sentiment@v2").save(db, endpoint: "sentiment") }
        // Read by the background task: asking the catalog never reads the registry.
        #expect(try await eventually { catalog.endpoint(named: "sentiment")?.weights == ["sentiment@v2": 100] })
        #expect(catalog.failure == nil)
    }

    /// The daemon's driver routes by having the catalog read the registry's new weights at once: no watcher
    /// runs here (`follow`), so only the driver's call can have reloaded it.
    @Test func settingWeightsOnTheLocalDriverReloadsTheGatewaysCatalogAtOnce() async throws {
        let harness = try GatewayHarness(versions: ["v1": [], "v2": []], endpoint: """
          - {name: sentiment, model: sentiment, target: local, memory: 256MB, traffic: {v1: 100}}
        """)
        defer { harness.cleanUp() }
        let catalog = try EndpointCatalog(registryPath: harness.registry.path, targets: ["local"])
        let address = GatewayAddress()
        let target = try #require(try harness.registry.targets().first { $0.name == "local" })
        let driver = LocalDriver(target: target, gateway: address, routes: { _ in [:] })
        let endpoint = try #require(catalog.endpoint(named: "sentiment"))
        try harness.registry.write { db in try TrafficSplit.all(on: "sentiment@v2").save(db, endpoint: "sentiment") }
        #expect(catalog.endpoint(named: "sentiment")?.weights == ["sentiment@v1": 100])

        address.attach(catalog)
        try await driver.setWeights(["sentiment@v2": 100], on: endpoint.endpoint, versions: endpoint.versions)
        #expect(try await eventually { catalog.endpoint(named: "sentiment")?.weights == ["sentiment@v2": 100] })
        #expect(catalog.failure == nil)
    }

    @Test func killingAnInstanceMidRequestGives502AndTheEndpointRecovers() async throws {
        let harness = try GatewayHarness(versions: ["v1": ["--extra-latency-ms", "3000"]], endpoint: """
          - {name: sentiment, model: sentiment, target: local, memory: 256MB, traffic: {v1: 100}}
        """)
        defer { harness.cleanUp() }
        try await harness.withGateway { client in
            async let inFlight = client.invoke()
            #expect(try await eventually { try harness.instanceRows().first?["state"] == "busy" })
            let pid: Int32 = try #require(try harness.instanceRows().first?["pid"])
            kill(pid, SIGKILL)
            let failed = try await inFlight
            #expect(failed.status == 502)
            #expect(failed.body.contains("killed by signal 9"), "\(failed.body)")
            let next = try await client.invoke()
            #expect(next.status == 200)
            #expect(next.coldStart == true)
            let exits = try harness.registry.read { db in
                try String.fetchAll(db, sql: "SELECT message FROM events WHERE kind = 'instance.exited'")
            }
            #expect(exits.count == 1)
        }
    }

    @Test func aStartThatFailsSaysWhyWithTheProcessOutput() async throws {
        let harness = try GatewayHarness(versions: ["v1": []], endpoint: """
          - {name: sentiment, model: sentiment, target: local, memory: 256MB, traffic: {v1: 100}}
        """)
        defer { harness.cleanUp() }
        // The fixture refuses a weights file that is not JSON: a real failed model load.
        try FileManager.default.createDirectory(atPath: harness.folder + "/broken", withIntermediateDirectories: true)
        FileManager.default.createFile(atPath: harness.folder + "/broken/weights.json", contents: Data("not json".utf8))
        try harness.registry.write { db in
            try db.execute(sql: "DROP TRIGGER model_versions_are_immutable")
            // With the broken file's own digest, so the artifact check passes and the model itself fails.
            let digest = try DeckReader.sha256(ofFileAt: harness.folder + "/broken/weights.json", what: "test").digest
            try db.execute(sql: "UPDATE model_versions SET artifact = ?, digest = ? WHERE id = 'sentiment@v1'",
                           arguments: [harness.folder + "/broken/weights.json", digest])
        }
        try await harness.withGateway { client in
            let answer = try await client.invoke()
            #expect(answer.status == 502)
            #expect(answer.body.contains("cold start of sentiment@v1 failed: the process exited with status 1 before it was ready; last output:"), "\(answer.body)")
            #expect(answer.body.contains("weights.json"))
            #expect(try await eventually { try harness.instanceRows().isEmpty })
        }
    }

    @Test func measurementsLandInTenSecondBucketsWithPingsApart() async throws {
        let harness = try GatewayHarness(versions: ["v1": []], endpoint: """
          - {name: sentiment, model: sentiment, target: local, memory: 256MB, traffic: {v1: 100}}
        """)
        defer { harness.cleanUp() }
        try await harness.withGateway { client in
            let ping = try await client.invoke(warmup: true)
            #expect(ping.coldStart == true)
            #expect(ping.body.contains("\"warmup\": true"))
            for _ in 0..<5 {
                let answer = try await client.invoke()
                #expect(answer.status == 200)
            }
        }
        let totals = try harness.registry.read { db in
            try Row.fetchOne(db, sql: """
                SELECT SUM(requests) AS requests, SUM(errors) AS errors, SUM(cold_starts) AS cold, SUM(warmups) AS warmups,
                       SUM(warmup_cold_starts) AS warmup_cold, MIN(width_s) AS width, MAX(p99_ms) AS p99
                FROM metric_buckets WHERE endpoint = 'sentiment' AND version_id = 'sentiment@v1'
                """)
        }
        #expect(totals?["requests"] == 5)
        #expect(totals?["errors"] == 0)
        #expect(totals?["cold"] == 0) // the ping took the cold start, not a user
        #expect(totals?["warmups"] == 1)
        #expect(totals?["warmup_cold"] == 1)
        #expect(totals?["width"] == 10)
        #expect((totals?["p99"] as Double?).map { $0 > 0 } == true)
        // The gateway stopped its instances and cleared the table on the way out.
        #expect(try harness.instanceRows().isEmpty)
    }

    @Test func minInstancesStartWithoutTrafficAndStayWhenIdle() async throws {
        let harness = try GatewayHarness(versions: ["v1": []], endpoint: """
          - {name: sentiment, model: sentiment, target: local, memory: 256MB, min_instances: 1, idle_timeout: 1s, traffic: {v1: 100}}
        """)
        defer { harness.cleanUp() }
        try await harness.withGateway { client in
            #expect(try await eventually { try harness.instanceRows().first?["state"] == "idle" })
            try await Task.sleep(for: .seconds(2))
            #expect(try harness.instanceRows().count == 1)
            #expect(try await client.invoke().coldStart == false)
        }
    }

    @Test func aVersionThatLostItsTrafficStaysWarmUntilIdleSoARollbackFindsItReady() async throws {
        let harness = try GatewayHarness(versions: ["v1": [], "v2": []], endpoint: """
          - {name: sentiment, model: sentiment, target: local, memory: 256MB, max_instances: 2, idle_timeout: 2s, traffic: {v1: 100}}
        """)
        defer { harness.cleanUp() }
        @Sendable func route(to version: String) throws {
            try harness.registry.write { db in try TrafficSplit.all(on: version).save(db, endpoint: "sentiment") }
        }
        try await harness.withGateway { client in
            let v1 = try await client.invoke()
            #expect(v1.version == "sentiment@v1")
            try route(to: "sentiment@v2")
            #expect(try await client.firstAnswer(by: "sentiment@v2")?.coldStart == true)
            try await Task.sleep(for: .milliseconds(300)) // several maintenance passes

            try route(to: "sentiment@v1")
            let back = try await client.firstAnswer(by: "sentiment@v1")
            #expect(back?.coldStart == false)
            #expect(back?.instance == v1.instance)
            // Idle past its timeout, the version without traffic is stopped like any other instance.
            #expect(try await eventually { try !harness.instanceRows().contains { $0["version_id"] == "sentiment@v2" } })
        }
    }

    @Test func unknownEndpointsGet404AndEndpointsWithoutTraffic503() async throws {
        let harness = try GatewayHarness(versions: ["v1": []], endpoint: """
          - {name: sentiment, model: sentiment, target: local, memory: 256MB}
        """)
        defer { harness.cleanUp() }
        try await harness.withGateway { client in
            let unknown = try await client.invoke("nope")
            #expect(unknown.status == 404)
            #expect(unknown.body == "{\"endpoint\":\"nope\",\"error\":\"unknown endpoint 'nope' on this gateway\"}")
            let idle = try await client.invoke()
            #expect(idle.status == 503)
            #expect(idle.body.contains("has no version taking traffic"))
        }
    }

    @Test func everyRequestOnKeptAliveConnectionsIsAnsweredAndCountedWithTheModelsErrors() async throws {
        let harness = try GatewayHarness(versions: ["v1": ["--error-rate", "0.3", "--seed", "7"]], endpoint: """
          - {name: sentiment, model: sentiment, target: local, memory: 256MB, concurrency: 16, traffic: {v1: 100}}
        """)
        defer { harness.cleanUp() }
        let statuses = try await harness.withGateway { client in
            _ = try await client.invoke() // the cold start, alone
            // 12 callers at once, each on its own kept-alive connection, 25 requests each: forwarded on the hot path.
            return try await withThrowingTaskGroup(of: [Int].self) { group in
                for _ in 0..<12 {
                    group.addTask {
                        var statuses: [Int] = []
                        for _ in 0..<25 { statuses.append(try await client.invoke().status) }
                        return statuses
                    }
                }
                return try await group.reduce(into: [Int]()) { $0 += $1 }
            }
        }
        #expect(statuses.count == 300)
        #expect(statuses.allSatisfy { $0 == 200 || $0 == 500 }, "\(Set(statuses))")
        let failed = statuses.filter { $0 == 500 }.count
        #expect(failed > 30 && failed < 150, "\(failed) of 300 failed with an error rate of 0.3")
        let totals = try harness.registry.read { db in
            try Row.fetchOne(db, sql: "SELECT SUM(requests) AS requests, SUM(errors) AS errors FROM metric_buckets WHERE endpoint = 'sentiment'")
        }
        // The first request may have failed too: it is counted with the rest.
        #expect((totals?["requests"] as Int?) == 301)
        #expect(((totals?["errors"] as Int?) ?? 0) - failed <= 1)
        #expect(((totals?["errors"] as Int?) ?? 0) >= failed)
    }

    @Test func aChunkedBodyIsForwardedWhole() async throws {
        let harness = try GatewayHarness(versions: ["v1": []], endpoint: """
          - {name: sentiment, model: sentiment, target: local, memory: 256MB, traffic: {v1: 100}}
        """)
        defer { harness.cleanUp() }
        try await harness.withGateway { client in
            var request = HTTPClientRequest(url: "http://127.0.0.1:\(client.port)/endpoints/sentiment/invoke")
            request.method = .POST
            request.headers.add(name: "Content-Type", value: "application/json")
            let chunks = ["{\"text\": ", "\"terrible, ", "I hate it", "\"}"].map { ByteBuffer(string: $0) }
            let (stream, parts) = AsyncStream<ByteBuffer>.makeStream()
            for part in chunks { parts.yield(part) }
            parts.finish()
            request.body = .stream(stream, length: .unknown)
            let response = try await HTTPClient.shared.execute(request, timeout: .seconds(60))
            let body = String(buffer: try await response.body.collect(upTo: 1 << 20))
            #expect(response.status.code == 200, "\(body)")
            #expect(body.contains("\"label\": \"negative\""), "\(body)")
            #expect(response.headers.first(name: "X-ModelDeck-Version") == "sentiment@v1")

            // Other paths and methods: 404, and the connection stays usable.
            var other = HTTPClientRequest(url: "http://127.0.0.1:\(client.port)/nope")
            other.method = .GET
            let missing = try await HTTPClient.shared.execute(other, timeout: .seconds(10))
            #expect(missing.status.code == 404)
            #expect(try await client.invoke().status == 200)
        }
    }

    @Test func aCallerThatHangsUpIsStillAnsweredByTheModelAndCountedAsServed() async throws {
        let harness = try GatewayHarness(versions: ["v1": ["--extra-latency-ms", "800"]], endpoint: """
          - {name: sentiment, model: sentiment, target: local, memory: 256MB, traffic: {v1: 100}}
        """)
        defer { harness.cleanUp() }
        @Sendable func counted() throws -> (requests: Int, errors: Int) {
            let row = try harness.registry.read { db in
                try Row.fetchOne(db, sql: "SELECT SUM(requests) AS requests, SUM(errors) AS errors FROM metric_buckets WHERE endpoint = 'sentiment'")
            }
            return ((row?["requests"] as Int?) ?? 0, (row?["errors"] as Int?) ?? 0)
        }
        try await harness.withGateway { client in
            let cold = try await client.invoke()
            #expect(cold.status == 200)
            var request = HTTPClientRequest(url: "http://127.0.0.1:\(client.port)/endpoints/sentiment/invoke")
            request.method = .POST
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: "{\"text\": \"fine\"}"))
            // The caller gives up (and closes its connection) long before the model answers.
            await #expect(throws: (any Error).self) { _ = try await HTTPClient.shared.execute(request, timeout: .milliseconds(200)) }
            // The model's answer still comes back, frees the slot and is counted as what it was: not a gateway error.
            #expect(try await eventually { try counted().requests == 2 })
            #expect(try counted().errors == 0)
            #expect(try await client.invoke().coldStart == false)
        }
    }
}

struct WeightedRouterTests {
    @Test func rollsMapToVersionsInIdOrder() {
        let weights = ["m@v2": 10, "m@v1": 90]
        #expect(WeightedRouter.pick(weights, roll: 0) == "m@v1")
        #expect(WeightedRouter.pick(weights, roll: 89) == "m@v1")
        #expect(WeightedRouter.pick(weights, roll: 90) == "m@v2")
        #expect(WeightedRouter.pick(weights, roll: 99) == "m@v2")
        #expect(WeightedRouter.pick(["m@v1": 0, "m@v2": 100], roll: 0) == "m@v2")
        #expect(WeightedRouter.pick([:], roll: 5) == nil)
        // One version: its weight's share of the range, as with several.
        #expect(WeightedRouter.pick(["m@v1": 100], roll: 99) == "m@v1")
        #expect(WeightedRouter.pick(["m@v1": 50], roll: 49) == "m@v1")
        #expect(WeightedRouter.pick(["m@v1": 50], roll: 50) == nil)
        #expect(WeightedRouter.pick(["m@v1": 0], roll: 0) == nil)
    }

    @Test func theWeightsRollsFollowSplitMix64() {
        // The reference implementation's first outputs for seed 0 (https://prng.di.unimi.it/splitmix64.c).
        var generator = SplitMix64(seed: 0)
        #expect(generator.next() == 0xE220_A839_7B1D_CDAF)
        #expect(generator.next() == 0x6E78_9E6A_A1B9_65F4)
        // Rolls over 0..<100 land in every tenth.
        var tenths = Set<Int>()
        for _ in 0..<1_000 { tenths.insert(Int.random(in: 0..<100, using: &generator) / 10) }
        #expect(tenths.count == 10)
    }

    @Test func everyRollIsCountedExactlyOnce() {
        let weights = ["a": 33, "b": 33, "c": 34]
        let counts = Dictionary(grouping: (0..<100).compactMap { WeightedRouter.pick(weights, roll: $0) }, by: { $0 }).mapValues(\.count)
        #expect(counts == ["a": 33, "b": 33, "c": 34])
    }
}

struct LatencyHistogramTests {
    @Test func encodingRoundTripsAndMerges() throws {
        var a = LatencyHistogram()
        for micros in [1_000, 2_000, 2_000, 150_000] { a.record(microseconds: UInt64(micros)) }
        let decoded = try LatencyHistogram(encoded: a.encoded())
        #expect(decoded == a)
        #expect(decoded.count == 4)
        var b = LatencyHistogram()
        b.record(microseconds: 900_000)
        b.add(decoded)
        #expect(b.count == 5)
        #expect((b.milliseconds(atPercentile: 99) ?? 0) >= 900 * (1 - LatencyHistogram.relativeAccuracy))
        #expect(throws: ModelDeckError.self) { try LatencyHistogram(encoded: Data([1, 2, 3])) }
    }

    @Test func subtractingColdStartsLeavesTheWarmRequests() {
        var all = LatencyHistogram(), cold = LatencyHistogram()
        for micros in [2_000, 3_000, 2_000] { all.record(microseconds: UInt64(micros)) }
        for micros in [900_000, 1_200_000] {
            all.record(microseconds: UInt64(micros))
            cold.record(microseconds: UInt64(micros))
        }
        let warm = all.subtracting(cold)
        #expect(warm.count == 3)
        #expect((warm.milliseconds(atPercentile: 99) ?? 0) < 4)
        #expect((all.milliseconds(atPercentile: 99) ?? 0) > 1_000)
    }
}
