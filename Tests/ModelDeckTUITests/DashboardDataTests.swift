import Foundation
import GRDB
import ModelDeckCore
import Testing
@testable import ModelDeckTUI

/// The dashboard's figures as read from a real registry file.
struct DashboardDataTests {
    let folder = NSTemporaryDirectory() + "modeldeck-tui-" + UUID().uuidString
    let now = Date(timeIntervalSince1970: 1_800_000_005) // 5 s into a 10 s bucket

    func registry() throws -> Registry {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let deck = folder + "/deck.yaml"
        try """
        apiVersion: modeldeck/v1
        targets:
          - {name: local, kind: local}
        models:
          - name: m
            versions:
              - {version: v1, digest: "sha256:\(String(repeating: "a", count: 64))", size: 1MB, command: [python3, server.py], memory: 256MB}
              - {version: v2, digest: "sha256:\(String(repeating: "b", count: 64))", size: 1MB, command: [python3, server.py], memory: 256MB}
        endpoints:
          - name: sentiment
            model: m
            target: local
            memory: 256MB
            max_instances: 4
            slo: {p99: 500ms, error_rate: 1%}
            daily_budget: $1
            traffic: {v1: 100}
          - {name: quiet, model: m, target: local, memory: 256MB, traffic: {v1: 100}}
        """.write(toFile: deck, atomically: true, encoding: .utf8)
        let registry = try Registry(path: folder + "/registry.sqlite")
        try DeckApplier.apply(try DeckReader.read(path: deck), to: registry, source: deck, actor: "test")
        return registry
    }

    func bucket(requests: Int64, errors: Int64 = 0, warm: [UInt64], cold: [UInt64] = [], cost: Int64 = 0, warmupCost: Int64 = 0) -> MetricBucket {
        var bucket = MetricBucket()
        bucket.requests = requests
        bucket.errors = errors
        bucket.coldStarts = Int64(cold.count)
        for micros in warm + cold { bucket.latency.record(microseconds: micros) }
        for micros in cold { bucket.coldLatency.record(microseconds: micros) }
        bucket.costMicros = cost
        bucket.warmupCostMicros = warmupCost
        return bucket
    }

    func store(_ registry: Registry, _ bucket: MetricBucket, version: String = "m@v1", secondsAgo: Int64) throws {
        let start = (Int64(now.timeIntervalSince1970) - secondsAgo) / 10 * 10
        try registry.write { db in
            try bucket.merge(into: MetricBucket.Key(endpoint: "sentiment", version: version, start: start, width: 10), db)
        }
    }

    @Test func figuresComeFromTheRecentBuckets() throws {
        let registry = try registry()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        // Last minute: 60 requests, 6 errors, 2 cold starts of 900 ms; the rest 20 ms.
        try store(registry, bucket(requests: 60, errors: 6, warm: Array(repeating: 20_000, count: 58), cold: [900_000, 900_000],
                                   cost: 50_000, warmupCost: 10_000), secondsAgo: 0)
        // Forty minutes ago: 3 cold starts; outside the 5-minute window but inside the hour.
        try store(registry, bucket(requests: 3, warm: [], cold: [1_200_000, 1_200_000, 1_200_000], cost: 900_000), secondsAgo: 2_400)
        try registry.write { db in
            try db.execute(sql: """
                INSERT INTO instances (id, endpoint, version_id, state, in_flight, max_concurrency, started_at, updated_at)
                VALUES ('a', 'sentiment', 'm@v1', 'busy', 1, 1, ?1, ?1), ('b', 'sentiment', 'm@v1', 'idle', 0, 1, ?1, ?1),
                       ('c', 'sentiment', 'm@v1', 'starting', 0, 1, ?1, ?1)
                """, arguments: [now])
            try db.execute(sql: """
                INSERT INTO daemon (id, pid, host, version, started_at, heartbeat_at) VALUES (1, 99, 'h', 'test', ?, ?)
                """, arguments: [now.addingTimeInterval(-100), now.addingTimeInterval(-1)])
        }

        let data = try DashboardData.load(registry, now: now)
        #expect(data.daemon == DaemonStatus(state: .alive, pid: 99, host: "h", startedAt: now.addingTimeInterval(-100),
                                            heartbeatAt: now.addingTimeInterval(-1)))
        let sentiment = try #require(data.endpoints.first { $0.name == "sentiment" })
        #expect(sentiment.recentRequests == 60)
        #expect(sentiment.errorRatePPM == 100_000)
        #expect(sentiment.coldStartsLastHour == 5)
        #expect(abs(sentiment.requestsPerSecond - 1.0) < 1e-9, "60 requests in the last minute")
        #expect(sentiment.p50Milliseconds.map { abs($0 - 20) <= 20 * LatencyHistogram.relativeAccuracy } == true)
        #expect(sentiment.p99Milliseconds.map { abs($0 - 900) <= 900 * LatencyHistogram.relativeAccuracy } == true)
        #expect(sentiment.inFlight == 1)
        #expect(sentiment.warmInstances == 2, "a starting instance is not warm yet")
        #expect(sentiment.burnMicrosPerHour == 60_000 * 12, "5 minutes of cost as an hourly rate")
        #expect(sentiment.warmupBurnMicrosPerHour == 10_000 * 12)
        #expect(sentiment.todayMicros == 960_000)
        #expect(sentiment.budgetPercent == 96)
        #expect(sentiment.breaches == [.latency, .errors])
        #expect(sentiment.sparkline.compactMap { $0 }.count == 1, "the sparkline spans 30 minutes: the older bucket is not in it")
        #expect(sentiment.traffic == [VersionWeight(version: "m@v1", weight: 100)])
        let quiet = try #require(data.endpoints.first { $0.name == "quiet" })
        #expect(quiet.recentRequests == 0 && quiet.p99Milliseconds == nil && quiet.breaches.isEmpty)
        #expect(data.endpointsInTrouble == 1)
        #expect(data.versions.count == 2)

        let detail = try EndpointDetail.load(registry, endpoint: "sentiment", now: now)
        #expect(detail.points.count == 2)
        #expect(detail.warmP99.map { abs($0 - 20) <= 20 * LatencyHistogram.relativeAccuracy } == true)
        #expect(detail.coldP99.map { abs($0 - 1_200) <= 1_200 * LatencyHistogram.relativeAccuracy } == true)
        #expect(detail.bands.first { $0.label == "< 25ms" }?.warm == 58)
        #expect(detail.bands.first { $0.label == "< 1s" }?.cold == 2)
        #expect(detail.bands.first { $0.label == "< 2.5s" }?.cold == 3)
        #expect(detail.versions.map(\.coldStarts) == [5])
    }

    @Test func aSilentOrStoppedDaemonIsToldApart() throws {
        let registry = try registry()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        var data = try DashboardData.load(registry, now: now)
        #expect(data.daemon.state == .never)
        let beat = now.addingTimeInterval(-30)
        try registry.write { db in
            try db.execute(sql: "INSERT INTO daemon (id, pid, host, version, started_at, heartbeat_at) VALUES (1, 7, 'h', 't', ?, ?)",
                           arguments: [beat, beat])
        }
        data = try DashboardData.load(registry, now: now)
        #expect(data.daemon.state == .silent(since: beat))
        try registry.write { db in try db.execute(sql: "UPDATE daemon SET stopped_at = ?", arguments: [beat]) }
        data = try DashboardData.load(registry, now: now)
        #expect(data.daemon.state == .stopped(beat))
    }

    @Test func pingNowIsAnIntentWithItsAuditEvent() throws {
        let registry = try registry()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try Intents.pingNow(registry, endpoint: "sentiment", actor: "alice (tui)", now: now)
        let data = try DashboardData.load(registry, now: now)
        #expect(data.endpoints.first { $0.name == "sentiment" }?.pingRequested == true)
        #expect(data.endpoints.first { $0.name == "quiet" }?.pingRequested == false)
        let event = try #require(data.events.last)
        #expect(event.kind == "ping.requested" && event.actor == "alice (tui)" && event.endpoint == "sentiment")
        #expect(throws: ModelDeckError.self) { try Intents.pingNow(registry, endpoint: "nope", actor: "alice") }
    }

    /// A version whose starts keep failing, as the local runtime records it (a `crash-looping` instance row),
    /// is marked in the endpoint's row (the DEPLOY column, in the error colour) and spelled out in its detail.
    @Test func aCrashLoopingVersionIsMarkedInItsRowAndItsDetail() throws {
        let registry = try registry()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try registry.write { db in
            try db.execute(sql: """
                INSERT INTO instances (id, endpoint, version_id, state, in_flight, max_concurrency, started_at, updated_at)
                VALUES ('quiet m@v1 crash-looping', 'quiet', 'm@v1', 'crash-looping', 0, 0, ?1, ?1)
                """, arguments: [now])
        }
        let data = try DashboardData.load(registry, now: now)
        let quiet = try #require(data.endpoints.first { $0.name == "quiet" })
        #expect(quiet.crashLooping == ["m@v1"])
        #expect(quiet.warmInstances == 0, "a crash-looping version is not warm")
        #expect(data.endpointsInTrouble == 1)

        var dashboard = Dashboard(data: data)
        dashboard.handle(.character("j"))  // the selection bar off quiet's row (the first), so its colours show
        var screen = Fixtures.render(&dashboard)
        let row = try #require(Fixtures.row(containing: "quiet", in: screen))
        func column(of text: String) throws -> Int {
            let line = screen.line(row)
            return try #require(line.range(of: text).map { line.distance(from: line.startIndex, to: $0.lowerBound) })
        }
        #expect(screen.role(row: row, column: try column(of: "crash-looping")) == .error, "\(screen.text)")
        #expect(screen.role(row: row, column: try column(of: "quiet")) == .error, "the name stands out too")
        let other = try #require(Fixtures.row(containing: "sentiment", in: screen))
        #expect(!screen.line(other).contains("crash-looping"))

        dashboard.handle(.character("k"))
        #expect(dashboard.handle(.enter) == [.loadDetail(endpoint: "quiet")])
        screen = Fixtures.render(&dashboard, width: 160)
        let capacity = try #require(Fixtures.row(containing: "Capacity", in: screen))
        let line = screen.line(capacity)
        #expect(line.contains("crash-looping: v1"), "\(screen.text)")
        let at = try #require(line.range(of: "crash-looping").map { line.distance(from: line.startIndex, to: $0.lowerBound) })
        #expect(screen.role(row: capacity, column: at) == .error)
    }

    /// An endpoint seen only through probes (an http target's) shows the probes' latency, failures and cold
    /// starts in its row, and their availability.
    @Test func anEndpointSeenOnlyThroughProbesShowsTheirFigures() throws {
        let registry = try registry()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        var probes = MetricBucket()
        probes.probes = 20
        probes.probeErrors = 2
        probes.probeColdStarts = 1
        for _ in 0..<20 { probes.probeLatency.record(microseconds: 80_000) }
        try store(registry, probes, secondsAgo: 0)
        let row = try #require(try DashboardData.load(registry, now: now).endpoints.first { $0.name == "sentiment" })
        #expect(row.fromProbes && row.recentRequests == 20 && row.errorRatePPM == 100_000 && row.coldStartsLastHour == 1)
        #expect(row.availability == 0.9 && abs((row.p99Milliseconds ?? 0) - 80) < 1)
        #expect(row.breaches.contains(.errors), "10% failed probes break the 1% SLO")
    }
}
