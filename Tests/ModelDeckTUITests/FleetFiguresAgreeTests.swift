import Foundation
import ModelDeckCore
import Testing
@testable import ModelDeckTUI

/// Nothing is lost on the way from the registry to a fleet-sized dashboard: every row shows the figures
/// `modeldeck get endpoints -o json` lists (`Registry.listEndpoints(window:)`, the function behind it) over
/// the same windows — with buckets of several widths, some straddling a window's edge, canaries with two
/// versions, endpoints seen only through probes, keep-warm pings and idle endpoints.
struct FleetFiguresAgreeTests {
    let folder = NSTemporaryDirectory() + "modeldeck-fleet-" + UUID().uuidString
    let now = Date(timeIntervalSince1970: 1_800_000_007) // 7 s into a 10 s bucket, 7 s into a minute
    static let endpoints = 300

    func seeded() throws -> Registry {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let registry = try Registry(path: folder + "/registry.sqlite")
        var deck = Deck()
        deck.targets.append(Declared(Target(name: "local", kind: .local), at: "test"))
        deck.models.append(Declared(Model(name: "m"), at: "test"))
        for version in ["v1", "v2"] {
            deck.versions.append(Declared(ModelVersion(model: "m", version: version, digest: "sha256:00", sizeBytes: 1, command: ["true"],
                                                       memoryMB: 256), at: "test"))
        }
        for index in 0..<Self.endpoints {
            deck.endpoints.append(Declared(EndpointDeclaration(
                endpoint: Endpoint(name: String(format: "ep-%03d", index), model: "m", target: "local", memoryMB: 256),
                traffic: index % 7 == 0 ? ["v1": 90, "v2": 10] : ["v1": 100]), at: "test"))
        }
        try DeckApplier.apply(deck, to: registry, source: "test", actor: "test")

        var random = Spread()
        let nowSeconds = Int64(now.timeIntervalSince1970)
        var batch: [MetricBucket.Key: MetricBucket] = [:]
        for index in 0..<Self.endpoints where index % 11 != 0 {   // every 11th endpoint stays idle
            let name = String(format: "ep-%03d", index)
            let versions = index % 7 == 0 ? ["m@v1", "m@v2"] : ["m@v1"]
            let probesOnly = index % 13 == 0
            for version in versions {
                // 10-second buckets over the last 7 minutes (some before the 5-minute window, one still filling).
                for step in 0..<42 where random.next() % 3 != 0 {
                    batch[MetricBucket.Key(endpoint: name, version: version, start: nowSeconds / 10 * 10 - Int64(step) * 10, width: 10)] =
                        bucket(&random, probesOnly: probesOnly)
                }
                // A rolled-up minute that straddles the start of the 5-minute window, and one 40 minutes ago.
                batch[MetricBucket.Key(endpoint: name, version: version, start: (nowSeconds - 300) / 60 * 60 - 30, width: 60)] =
                    bucket(&random, probesOnly: probesOnly)
                batch[MetricBucket.Key(endpoint: name, version: version, start: (nowSeconds - 2_400) / 60 * 60, width: 60)] =
                    bucket(&random, probesOnly: probesOnly)
            }
        }
        try registry.merge(batch)
        return registry
    }

    func bucket(_ random: inout Spread, probesOnly: Bool) -> MetricBucket {
        var bucket = MetricBucket()
        if probesOnly {
            bucket.probes = Int64(random.next() % 4 + 1)
            bucket.probeErrors = Int64(random.next() % 2)
            for _ in 0..<bucket.probes { bucket.probeLatency.record(microseconds: random.next() % 500_000 + 1_000) }
            return bucket
        }
        bucket.requests = Int64(random.next() % 40 + 1)
        bucket.errors = Int64(random.next() % 3)
        bucket.coldStarts = Int64(random.next() % 2)
        for n in 0..<bucket.requests {
            let micros = random.next() % 400_000 + 2_000
            bucket.latency.record(microseconds: micros)
            if n < bucket.coldStarts { bucket.coldLatency.record(microseconds: micros) }
        }
        bucket.warmups = Int64(random.next() % 2)
        bucket.costMicros = bucket.requests * 7
        bucket.warmupCostMicros = bucket.warmups * 5
        return bucket
    }

    /// Read afresh, and through the dashboard's rolling windows (a first load 6 s earlier, then a refresh).
    @Test(arguments: [false, true])
    func everyRowOfAFleetShowsWhatGetEndpointsJSONLists(rolling: Bool) throws {
        let registry = try seeded()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        var kept: RollingFigures? = rolling ? RollingFigures.dashboard : nil
        if rolling { _ = try DashboardData.load(registry, now: now - 6, rolling: &kept) }
        let data = try DashboardData.load(registry, now: now, rolling: &kept)
        #expect(kept?.end == (rolling ? Int64(now.timeIntervalSince1970) : nil))
        #expect(data.endpoints.count == Self.endpoints)

        func listed(_ seconds: Int64) throws -> [String: Listings.LiveRow] {
            var rows: [String: Listings.LiveRow] = [:]
            for row in try registry.listEndpoints(window: LiveWindow(last: seconds, now: now)) { rows[row.name] = row.live }
            return rows
        }
        let recent = try listed(EndpointSummary.recentSeconds), minute = try listed(60), hour = try listed(3_600)
        func same(_ a: Double?, _ b: Double?) -> Bool {
            guard let a, let b else { return a == nil && b == nil }
            return abs(a - b) <= max(abs(a), abs(b)) * 1e-9
        }
        var busy = 0, probed = 0
        for summary in data.endpoints {
            let five = try #require(recent[summary.name]), one = try #require(minute[summary.name]?.figures)
            let sixty = try #require(hour[summary.name]?.figures)
            let observed = five.figures.observed
            if summary.recentRequests > 0 { busy += 1 }
            if summary.fromProbes { probed += 1 }
            #expect(summary.fromProbes == observed.fromProbes, "\(summary.name)")
            #expect(summary.recentRequests == (observed.fromProbes ? five.figures.probes : five.figures.requests), "\(summary.name)")
            #expect(summary.recentErrors == (observed.fromProbes ? five.figures.probeErrors : five.figures.errors), "\(summary.name)")
            #expect(same(summary.p50Milliseconds, observed.p50Milliseconds), "\(summary.name) p50")
            #expect(same(summary.p99Milliseconds, observed.p99Milliseconds), "\(summary.name) p99")
            #expect(same(summary.requestsPerSecond, one.requestsPerSecond), "\(summary.name) req/s")
            #expect(summary.burnMicrosPerHour == five.figures.burnMicrosPerHour, "\(summary.name) $/h")
            #expect(summary.warmupBurnMicrosPerHour == five.figures.pingBurnMicrosPerHour, "\(summary.name) pings $/h")
            #expect(summary.coldStartsLastHour == sixty.observed.coldStarts, "\(summary.name) cold starts")
            #expect(summary.todayMicros == five.todayMicros, "\(summary.name) today")
            // Per version too: the detail and the canary gate read them.
            #expect(summary.live?.recent.versions == five.versions, "\(summary.name) versions")
        }
        #expect(busy > Self.endpoints / 2, "most endpoints have traffic")
        #expect(probed > 5, "some are seen through probes only")
    }
}

/// Numbers that look random enough to spread a fleet's figures, the same at every run (a multiplicative
/// hash of a counter: Knuth's 2^64 / φ).
struct Spread {
    private var counter: UInt64 = 0
    mutating func next() -> UInt64 {
        counter += 1
        return (counter &* 0x9E37_79B9_7F4A_7C15) >> 29
    }
}
