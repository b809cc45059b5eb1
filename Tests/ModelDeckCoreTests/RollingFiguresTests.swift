import Foundation
import GRDB
import Testing
@testable import ModelDeckCore

/// The dashboard's rolling windows give exactly the figures a full read of the same windows gives, after
/// every step of random bucket writes (the recorder's flushes, a platform's revisions of older buckets,
/// buckets ahead of now, maxima in flight, the rollup) and refreshes that move now by 0 to 7 seconds, or
/// jump: the live figures, today's cost and the month's projection, and the sparkline, across midnight UTC.
struct RollingFiguresTests {
    static func bucket(_ random: inout SeededRandom) -> MetricBucket {
        var bucket = MetricBucket()
        bucket.requests = Int64.random(in: 0...6, using: &random)
        bucket.errors = Int64.random(in: 0...min(1, bucket.requests), using: &random)
        for _ in 0..<bucket.requests { bucket.latency.record(microseconds: UInt64.random(in: 500...900_000, using: &random)) }
        if bucket.requests > 0, Bool.random(using: &random) {
            bucket.coldStarts = 1
            bucket.coldLatency.record(microseconds: 800_000)
            bucket.latency.record(microseconds: 800_000)
            bucket.requests += 1
        }
        bucket.warmups = Int64.random(in: 0...1, using: &random)
        bucket.costMicros = bucket.requests * Int64.random(in: 1...40, using: &random)
        bucket.warmupCostMicros = bucket.warmups * 7
        // The recorder writes one with most buckets: the one holding a window's maximum leaves it at most refreshes.
        bucket.maxInFlight = Int.random(in: 0..<4, using: &random) > 0 ? Int64.random(in: 1...9, using: &random) : 0
        if Int.random(in: 0..<10, using: &random) == 0 {
            bucket.probes = 2
            bucket.probeErrors = 1
            bucket.probeLatency.record(microseconds: 30_000, count: 2)
        }
        return bucket
    }

    /// The same figures, up to the last bits of a rate summed in another order.
    static func disagreement(_ a: LiveFigures, _ b: LiveFigures) -> String? {
        var left = a, right = b
        guard abs(left.requestsPerSecond - right.requestsPerSecond) <= max(abs(left.requestsPerSecond), 1) * 1e-12,
              abs(left.burnMicrosPerHour - right.burnMicrosPerHour) <= 1, abs(left.pingBurnMicrosPerHour - right.pingBurnMicrosPerHour) <= 1
        else { return "rates: \(a) vs \(b)" }
        left.requestsPerSecond = 0; right.requestsPerSecond = 0
        left.burnMicrosPerHour = 0; right.burnMicrosPerHour = 0
        left.pingBurnMicrosPerHour = 0; right.pingBurnMicrosPerHour = 0
        return left == right ? nil : "\(a)\n vs \(b)"
    }

    /// A full read's figures as a counts-only window gives them (no latency merged).
    static func countsOnly(_ figures: LiveFigures) -> LiveFigures {
        var result = figures
        result.p50Milliseconds = nil; result.p95Milliseconds = nil; result.p99Milliseconds = nil
        result.warmP99Milliseconds = nil; result.coldP99Milliseconds = nil
        result.probeP50Milliseconds = nil; result.probeP99Milliseconds = nil
        return result
    }

    @Test(arguments: [1, 2, 3])
    func theRollingWindowsGiveTheFiguresOfAFullReadAfterEveryStep(seed: UInt64) throws {
        let scratch = Scratch()
        defer { scratch.cleanUp() }
        let registry = try Registry(path: scratch.registryPath)
        var random = SeededRandom(seed: seed)  // the same steps at every run, so a failure can be replayed
        let versions = [("a", "a@v1"), ("a", "a@v2"), ("b", "b@v1"), ("c", "c@v1")]
        // Starts some minutes before midnight UTC (1,800,000,000 is 08:00), so today's cost starts again.
        var now: Int64 = 1_800_000_000 - 28_800 - 200 * Int64(seed) + Int64.random(in: 0..<10, using: &random)
        // Ten minutes of history: 10-second buckets, and 60-second ones as a platform's collector writes them;
        // and the minutes of a day ago, which leave the cost projection's 24 hours as the test goes.
        var history: [MetricBucket.Key: MetricBucket] = [:]
        for (endpoint, version) in versions {
            for start in stride(from: (now - 86_400) / 60 * 60 - 120, to: now - 86_400 + 3_000, by: 60) where Int.random(in: 0..<3, using: &random) == 0 {
                history[.init(endpoint: endpoint, version: version, start: start, width: 60)] = Self.bucket(&random)
            }
        }
        for (endpoint, version) in versions {
            for start in stride(from: now / 10 * 10 - 600, to: now, by: 10) where Bool.random(using: &random) {
                history[.init(endpoint: endpoint, version: version, start: start, width: 10)] = Self.bucket(&random)
            }
        }
        for start in stride(from: now / 60 * 60 - 600, to: now, by: 60) {
            history[.init(endpoint: "cloud", version: "cloud@v1", start: start, width: 60)] = Self.bucket(&random)
        }
        try registry.merge(history)

        var rolling = RollingFigures.dashboard
        var steps = 0
        for step in 0..<160 {
            // The recorder's flush: the current and the previous 10-second bucket of some versions.
            var flush: [MetricBucket.Key: MetricBucket] = [:]
            for (endpoint, version) in versions where Int.random(in: 0..<3, using: &random) > 0 {
                let start = now / 10 * 10 - (Bool.random(using: &random) ? 0 : 10)
                flush[.init(endpoint: endpoint, version: version, start: start, width: 10)] = Self.bucket(&random)
            }
            if Int.random(in: 0..<12, using: &random) == 0 {  // a bucket stamped ahead of now (another clock)
                flush[.init(endpoint: "b", version: "b@v1", start: now / 10 * 10 + 20, width: 10)] = Self.bucket(&random)
            }
            try registry.merge(flush)
            if Int.random(in: 0..<6, using: &random) == 0 {  // a platform revises one of its recent minutes
                let start = now / 60 * 60 - 60 * Int64.random(in: 0...5, using: &random)
                try registry.replaceObserved([.init(endpoint: "cloud", version: "cloud@v1", start: start, width: 60): Self.bucket(&random)],
                                             platformCountsColdStarts: false)
            }
            if Int.random(in: 0..<20, using: &random) == 0 {  // the daemon's rollup: buckets merged and deleted
                try registry.rollUpMetrics(now: Date(timeIntervalSince1970: TimeInterval(now)))
            }
            // Mostly a second or a few; sometimes by a bucket's width or more (buckets leave without
            // straddling first, several straddlers end at once), or past the windows (a full read).
            switch Int.random(in: 0..<25, using: &random) {
            case 0: now += 400
            case 1, 2: now += Int64.random(in: 10...29, using: &random)
            default: now += Int64.random(in: 0...7, using: &random)
            }

            if rolling.reads(now: now) != nil { steps += 1 }
            try registry.read { db in try rolling.refresh(db, now: now) }
            let (costs, sparklines) = try registry.read { db in
                (try CostBurn.sums(db, bounds: CostBurn.Bounds(now: now)),
                 RollingSparkline(try Registry.minuteP99s(db, since: RollingSparkline.from(now: now)), now: now).lines())
            }
            #expect(rolling.cost.sums == costs, "step \(step): today's cost and the projection's sums")
            #expect(rolling.sparkline.lines() == sparklines, "step \(step): sparklines")
            #expect(rolling.sparkline.currentLines() == sparklines, "step \(step): sparklines made again where they changed")
            for length in rolling.lengths {
                let window = LiveWindow(start: now - length, end: now)
                var full = try registry.read { db in try EndpointFigures.build(StoredBucket.fetchAll(db, overlapping: window), window: window) }
                if rolling.countsOnly.contains(length) {
                    full = full.mapValues { EndpointFigures(total: Self.countsOnly($0.total), versions: $0.versions.mapValues(Self.countsOnly)) }
                }
                #expect(rolling.observedColdStarts(length: length) == full.mapValues { $0.total.observed.coldStarts },
                        "step \(step), \(length) s: cold starts")
                let rolled = rolling.figures(length: length)
                #expect(Set(rolled.keys) == Set(full.keys), "step \(step), \(length) s: endpoints")
                // The request rate alone (the dashboard's last minute) is the figures' own, to the last bit.
                let names = full.keys.sorted() + ["no-such-endpoint"]
                #expect(rolling.requestsPerSecond(length: length, of: names) == names.map { rolled[$0]?.total.requestsPerSecond },
                        "step \(step), \(length) s: request rates")
                for (endpoint, figures) in full {
                    guard let other = rolled[endpoint] else { continue }
                    #expect(Set(other.versions.keys) == Set(figures.versions.keys), "step \(step), \(length) s, \(endpoint): versions")
                    if let problem = Self.disagreement(other.total, figures.total) {
                        Issue.record("step \(step), \(length) s, \(endpoint) total: \(problem)")
                    }
                    for (version, versionFigures) in figures.versions {
                        guard let rolledVersion = other.versions[version] else { continue }
                        if let problem = Self.disagreement(rolledVersion, versionFigures) {
                            Issue.record("step \(step), \(length) s, \(version): \(problem)")
                        }
                    }
                }
            }
        }
        #expect(steps > 100, "most steps were refreshes, not full reads")
    }

    /// The endpoint tables kept between refreshes (`FleetCatalog`) are read again when a deck or a deploy
    /// changes them: each refresh shows what a fresh read shows.
    @Test func theKeptEndpointTablesAreReadAgainWhenTheCatalogOrADeploymentMoves() throws {
        let scratch = Scratch()
        defer { scratch.cleanUp() }
        let registry = try Registry(path: scratch.registryPath)
        try DeckApplier.apply(parseDeck(sampleDeck()), to: registry, source: "deck.yaml", actor: "test")
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        var rolling: RollingFigures? = RollingFigures.dashboard
        func expectAFreshRead(_ what: String, at seconds: TimeInterval) throws {
            let at = now + seconds
            let kept = try registry.fleet(now: at, rolling: &rolling), fresh = try registry.fleet(now: at)
            #expect(kept.endpoints == fresh.endpoints, "\(what): endpoints")
            #expect(kept.versions.map(\.id) == fresh.versions.map(\.id), "\(what): versions")
            #expect(kept.targets.map(\.name) == fresh.targets.map(\.name), "\(what): targets")
        }
        try expectAFreshRead("first load", at: 0)
        let deployment = try Intents.deploy(registry, endpoint: "sentiment", version: "v2", strategy: .canary(percent: 10, intervalSeconds: 300),
                                            bakeSeconds: 60, reason: nil, actor: "alice")
        try expectAFreshRead("a deploy", at: 1)
        #expect(try registry.fleet(now: now + 1, rolling: &rolling).endpoints.first?.deployment?.id == deployment.id)
        try DeckApplier.apply(parseDeck(sampleDeck([("traffic: {v1: 100}", "traffic: {v1: 50, v2: 50}")], extra: """

              - name: second
                model: sentiment
                target: lambda-eu
                memory: 512MB
                traffic: {v2: 100}
            """)), to: registry, source: "deck.yaml", actor: "test")
        try expectAFreshRead("a deck with new weights and a new endpoint", at: 2)
        #expect(try registry.fleet(now: now + 2, rolling: &rolling).endpoints.map(\.endpoint.name) == ["second", "sentiment"])
    }

    /// A refresh that fails half-way (here: summing a version again meets a damaged sketch) leaves no
    /// half-moved windows behind: the error reaches the caller, the next refresh is a full read, and once the
    /// row is mended the figures are a fresh read's again.
    @Test func aRefreshThatFailsHalfWayIsFollowedByAFullRead() throws {
        let scratch = Scratch()
        defer { scratch.cleanUp() }
        let registry = try Registry(path: scratch.registryPath)
        try DeckApplier.apply(parseDeck(sampleDeck()), to: registry, source: "deck.yaml", actor: "test")
        let now: Int64 = 1_800_000_000
        var random = SeededRandom(seed: 20)
        var batch: [MetricBucket.Key: MetricBucket] = [:]
        for start in stride(from: now - 200, to: now, by: 10) {
            batch[MetricBucket.Key(endpoint: "sentiment", version: "sentiment@v1", start: start, width: 10)] = Self.bucket(&random)
        }
        try registry.merge(batch)
        var rolling: RollingFigures? = RollingFigures.dashboard
        let date = { (seconds: Int64) in Date(timeIntervalSince1970: TimeInterval(seconds)) }
        _ = try registry.fleet(now: date(now), rolling: &rolling)
        #expect(rolling?.reads(now: now + 1) != nil, "loaded: the next refresh reads only what changed")

        // A bucket older than the young ones is written again (its version is summed again from its buckets),
        // and its stored sketch is damaged.
        let old = MetricBucket.Key(endpoint: "sentiment", version: "sentiment@v1", start: now - 100, width: 10)
        var written = MetricBucket()
        written.requests = 3
        for latency: UInt64 in [4_000, 9_000, 30_000] { written.latency.record(microseconds: latency) }
        try registry.merge([old: written])
        try registry.write { db in
            try db.execute(sql: "UPDATE metric_buckets SET latency_hist = X'D1000105' WHERE endpoint = ? AND start = ?",
                           arguments: [old.endpoint, old.start])
        }
        #expect(throws: (any Error).self) { _ = try registry.fleet(now: date(now + 1), rolling: &rolling) }
        #expect(rolling?.reads(now: now + 2) == nil, "after the failure the next refresh is a full read")
        #expect(throws: (any Error).self) { _ = try registry.fleet(now: date(now + 2), rolling: &rolling) }

        // Mended (the sketch cleared): the next refresh shows what a fresh read shows.
        try registry.write { db in
            try db.execute(sql: "UPDATE metric_buckets SET latency_hist = NULL WHERE endpoint = ? AND start = ?", arguments: [old.endpoint, old.start])
        }
        let kept = try registry.fleet(now: date(now + 3), rolling: &rolling), fresh = try registry.fleet(now: date(now + 3))
        #expect(kept.endpoints == fresh.endpoints)
        #expect(kept.endpoints.first { $0.endpoint.name == "sentiment" }?.recent.total.requests ?? 0 > 0)
        #expect(rolling?.reads(now: now + 4) != nil, "loaded again")
    }

    /// A minute's worst p99 follows the recorder's writes without a read of the minute, except when the
    /// bucket that held it got faster (the others' worst is not known) or the write is a wider bucket's.
    @Test func aSparklineMinuteIsReadAgainOnlyWhenItsWorstBucketGotFasterOrAWiderOneWasWritten() {
        let version = RollingFigures.VersionKey(endpoint: "a", version: "a@v1")
        let minute: Int64 = 1_800_000_000
        var sparkline = RollingSparkline([version: [.init(start: minute + 10, p99: 50)]], now: minute + 30)
        func write(_ start: Int64, p99: Double?, width: Int64 = 10) -> Bool {
            sparkline.rewrite(version, minute: minute, bucket: StoredBucket(endpoint: "a", version: "a@v1", start: start, width: width,
                                                                            requests: 1, p99Milliseconds: p99))
        }
        #expect(write(minute + 20, p99: 40))
        #expect(sparkline.lines()["a"]?.last == 50, "another bucket, faster: the worst stays")
        #expect(write(minute + 20, p99: 70))
        #expect(sparkline.lines()["a"]?.last == 70, "another bucket, slower: the new worst")
        #expect(write(minute + 20, p99: 80))
        #expect(sparkline.lines()["a"]?.last == 80, "the worst bucket, slower")
        #expect(!write(minute + 20, p99: 60), "the worst bucket, faster: the minute is read again")
        #expect(!write(minute, p99: 90, width: 60), "a platform's or the rollup's bucket: read again")
    }

    /// The bucket that held a window's maximum in flight leaves it, or is written again lower: the maximum is
    /// the largest of the buckets left, kept without summing the version again from its buckets (at 10,000
    /// endpoints that reread took an edge refresh to 38 s).
    @Test func theMaximumInFlightFollowsTheBucketsLeftWithoutARead() throws {
        func bucket(_ start: Int64, _ maxInFlight: Int64) -> StoredBucket {
            StoredBucket(endpoint: "a", version: "a@v1", start: start, width: 10, requests: 1, maxInFlight: maxInFlight)
        }
        /// What loading `buckets` anew at `now` shows.
        func fresh(_ buckets: [StoredBucket], now: Int64) throws -> Int64? {
            var rolling = RollingFigures(lengths: [60])
            try rolling.load(buckets, now: now, sequence: 0)
            return rolling.figures(length: 60)["a"]?.total.maxInFlight
        }
        var buckets = [bucket(940, 9), bucket(950, 4), bucket(960, 4), bucket(990, 2)]
        var rolling = RollingFigures(lengths: [60])
        try rolling.load(buckets, now: 1_000, sequence: 1)
        #expect(rolling.figures(length: 60)["a"]?.total.maxInFlight == 9)

        // 940-950 leaves the window (950-1010); 1000-1010 enters it.
        var moves = RollingFigures.Moves()
        moves.sequence = 2
        moves.left[60] = [buckets[0]]
        moves.entering = [bucket(1_000, 3)]
        buckets = Array(buckets.dropFirst()) + moves.entering
        var rereads = rolling.refresh(moves, now: 1_010)
        #expect(rereads.figures.isEmpty, "the maximum's bucket left: nothing to read again")
        #expect(rolling.figures(length: 60)["a"]?.total.maxInFlight == 4)
        #expect(try fresh(buckets, now: 1_010) == 4)

        // 950-960 and 960-970 leave (window 970-1030); 990-1000 is written again, lower, and 1010-1020 enters.
        moves = RollingFigures.Moves()
        moves.sequence = 3
        moves.left[60] = [buckets[0], buckets[1]]
        moves.written = [bucket(990, 1)]
        moves.entering = [bucket(1_010, 0), bucket(1_020, 0)]
        buckets = [bucket(990, 1), bucket(1_000, 3), bucket(1_010, 0), bucket(1_020, 0)]
        rereads = rolling.refresh(moves, now: 1_030)
        #expect(rereads.figures.isEmpty, "both maxima's buckets left and one was written again: nothing to read again")
        #expect(rolling.figures(length: 60)["a"]?.total.maxInFlight == 3)
        #expect(try fresh(buckets, now: 1_030) == 3)
    }

    /// The rows ask for the catalog's names in its order at every refresh; their slots are looked up once and
    /// kept. An endpoint that appears later is found the next time the same list is asked for, and endpoints
    /// whose buckets all left show nothing, named or not.
    @Test func theSameNamesFindAnEndpointThatAppearsAndOnesWhoseBucketsLeftShowNothing() throws {
        func bucket(_ endpoint: String, _ start: Int64) -> StoredBucket {
            StoredBucket(endpoint: endpoint, version: endpoint + "@v1", start: start, width: 10, requests: 6)
        }
        var rolling = RollingFigures(lengths: [60])
        try rolling.load([bucket("a", 950), bucket("gone", 950)], now: 1_000, sequence: 1)
        let names = ["a", "b"]
        #expect(rolling.requestsPerSecond(length: 60, of: names) == [0.1, nil])
        #expect(rolling.figures(length: 60, of: names).map { $0?.total.requests } == [6, nil])

        // "b" appears; the same list is asked for again.
        var moves = RollingFigures.Moves()
        moves.sequence = 2
        moves.entering = [bucket("b", 1_000)]
        _ = rolling.refresh(moves, now: 1_005)
        #expect(rolling.figures(length: 60, of: names).map { $0?.total.requests } == [6, 6])
        #expect(Set(rolling.figures(length: 60).keys) == ["a", "b", "gone"])

        // 950-960 leaves (window 960-1020): "a" and "gone" have no bucket left, named or not.
        moves = RollingFigures.Moves()
        moves.sequence = 3
        moves.left[60] = [bucket("a", 950), bucket("gone", 950)]
        _ = rolling.refresh(moves, now: 1_020)
        #expect(rolling.figures(length: 60, of: names).map { $0?.total.requests } == [nil, 6])
        #expect(Set(rolling.figures(length: 60).keys) == ["b"])
        #expect(rolling.observedColdStarts(length: 60) == ["b": 0])
    }

    /// A bucket that came to straddle the window's start leaves as it was kept when the start passes its end,
    /// sketch and maximum included: nothing is read, and nothing is summed again.
    @Test func aStraddlerLeavesAsKeptWithoutARead() throws {
        func bucket(_ start: Int64, _ maxInFlight: Int64, _ latencies: [UInt64]) -> StoredBucket {
            var sketch = LatencyHistogram()
            for value in latencies { sketch.record(microseconds: value) }
            return StoredBucket(endpoint: "a", version: "a@v1", start: start, width: 10, requests: Int64(latencies.count),
                                maxInFlight: maxInFlight, latency: sketch.encoded())
        }
        func fresh(_ buckets: [StoredBucket], now: Int64) throws -> LiveFigures? {
            var rolling = RollingFigures(lengths: [60])
            try rolling.load(buckets, now: now, sequence: 0)
            return rolling.figures(length: 60)["a"]?.total
        }
        /// The kept figures are a fresh load's, up to the last bits of a rate.
        func expectAFreshLoad(_ rolling: inout RollingFigures, _ buckets: [StoredBucket], now: Int64) throws {
            let kept = try #require(rolling.figures(length: 60)["a"]?.total), expected = try #require(try fresh(buckets, now: now))
            #expect(Self.disagreement(kept, expected) == nil, "at \(now)")
        }
        // Window 945-1005: 940-950 straddles its start, with the slowest request and the largest maximum.
        var buckets = [bucket(940, 9, [900_000, 2_000]), bucket(950, 2, [3_000]), bucket(990, 3, [4_000, 5_000]), bucket(1_000, 1, [6_000])]
        var rolling = RollingFigures(lengths: [60])
        try rolling.load(buckets, now: 1_005, sequence: 1)
        #expect(rolling.figures(length: 60)["a"]?.total.maxInFlight == 9)
        try expectAFreshLoad(&rolling, buckets, now: 1_005)

        // Window 952-1012: 940-950 left (not read: `left` is empty), 950-960 now straddles, 1010-1020 entered.
        var moves = RollingFigures.Moves()
        moves.sequence = 2
        moves.straddling[60] = [buckets[1]]
        moves.entering = [bucket(1_010, 0, [])]
        buckets = Array(buckets.dropFirst()) + moves.entering
        var rereads = rolling.refresh(moves, now: 1_012)
        #expect(rereads.figures.isEmpty, "the straddler left as kept")
        #expect(rolling.figures(length: 60)["a"]?.total.maxInFlight == 3)
        #expect(rolling.figures(length: 60)["a"]?.total.p99Milliseconds ?? 1_000 < 100, "the slow request left with its straddler")
        try expectAFreshLoad(&rolling, buckets, now: 1_012)

        // Window 965-1025: 950-960, the new straddler, leaves as kept too.
        moves = RollingFigures.Moves()
        moves.sequence = 3
        moves.entering = [bucket(1_020, 0, [])]
        buckets = Array(buckets.dropFirst()) + moves.entering
        rereads = rolling.refresh(moves, now: 1_025)
        #expect(rereads.figures.isEmpty)
        try expectAFreshLoad(&rolling, buckets, now: 1_025)
    }

    @Test func theTallyOfMaximaGivesTheLargestLeft() {
        var tally = RollingFigures.InFlightTally()
        #expect(tally.maximum == 0)
        for value in [3, 5, 0, 5, 2] as [Int64] { tally.add(value) }
        #expect(tally.maximum == 5)
        /// Takes `value` out; the largest left, nil when `value` was not counted.
        func remove(_ value: Int64) -> Int64? { tally.remove(value) ? tally.maximum : nil }
        #expect(remove(5) == 5, "one 5 is left")
        #expect(remove(5) == 3)
        #expect(remove(7) == nil, "never counted")
        #expect(remove(0) == 3, "zeros are not counted: nothing to take out")
        #expect(remove(3) == 2)
        #expect(remove(2) == 0)
        #expect(remove(2) == nil)
    }

    @Test func aSketchTakenOutOfASumLeavesTheRest() throws {
        var a = LatencyHistogram(), b = LatencyHistogram()
        for value in [1_000, 2_000, 2_000, 90_000] as [UInt64] { a.record(microseconds: value) }
        for value in [0, 2_000, 400_000] as [UInt64] { b.record(microseconds: value) }
        var sum = a
        sum.add(b)
        try sum.subtract(encoded: b.encoded())
        #expect(sum == a)
        #expect(sum.milliseconds(atPercentile: 99) == a.milliseconds(atPercentile: 99))
        #expect(throws: (any Error).self) { try sum.subtract(encoded: b.encoded()) }
    }
}
