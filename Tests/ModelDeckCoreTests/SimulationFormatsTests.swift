import Foundation
import Testing
@testable import ModelDeckCore

/// The Azure Functions traces as they come, the Greedy-Dual warmer, and replays bounded by their lines.
struct SimulationFormatsTests {
    func target(idleTimeout: Int64 = 600, coldStart: Int64 = 3_000, ping: Int64 = 50) throws -> SimulatedTarget {
        SimulatedTarget(coldStartMilliseconds: coldStart, idleTimeoutSeconds: idleTimeout, pingMilliseconds: ping, memoryMB: 512,
                        rates: try PriceTable.standard.invocationRates(platform: "aws-lambda", region: "us-east-1", architecture: "x86_64"))
    }

    /// A random trace of a few endpoints: bursts, long quiet gaps, long calls.
    func randomTrace(seed: UInt64, lines: Int) -> Trace {
        var random = SeededRandom(seed: seed)
        var trace = Trace()
        var now: Int64 = 1_000_000_000
        for _ in 0..<lines {
            now += [0, 200_000, 5_000_000, 60_000_000, 400_000_000, 3_000_000_000, 20_000_000_000][Int(random.next() % 7)]
                + Int64(random.next() % 1_000_000)
            let endpoint = trace.endpointIndex("e\(random.next() % 4)")
            let duration = [1_000, 150_000, 4_000_000, 700_000_000][Int(random.next() % 4)] + Int64(random.next() % 1_000)
            trace.append(atMicroseconds: now, endpoint: endpoint, durationMicroseconds: Int64(duration))
        }
        return trace
    }

    @Test func skippingSteadyPingsGivesExactlyWhatRoundByRoundGives() throws {
        for seed in UInt64(1)...12 {
            let trace = randomTrace(seed: seed, lines: 300)
            for idle: Int64 in [60, 300, 600] {
                let target = try target(idleTimeout: idle)
                for policy in [KeepWarmPolicy.fixed(everySeconds: 30, concurrency: 1), .fixed(everySeconds: 240, concurrency: 2), .adaptive] {
                    let skipped = KeepWarmSimulator.run(trace, policy: policy, target: target)
                    let stepped = KeepWarmSimulator.run(trace, policy: policy, target: target, skipping: false)
                    #expect(skipped == stepped, "seed \(seed), idle \(idle), \(policy.summary)")
                }
                let skipped = GreedyDualSimulator.run(trace, capacity: 2, target: target)
                let stepped = GreedyDualSimulator.run(trace, capacity: 2, target: target, skipping: false)
                #expect(skipped == stepped, "seed \(seed), idle \(idle), greedy-dual")
            }
        }
    }

    @Test func aTraceSpanningThousandsOfYearsReplaysInStepsOfItsLines() throws {
        // 3,170 years between two calls, a ping every second: 10^11 pings, counted, not looped through.
        let trace = try Trace.parse(Data("1,a,1\n99999999999,a,1\n".utf8), name: "t.csv")
        let outcome = KeepWarmSimulator.run(trace, policy: .fixed(everySeconds: 1, concurrency: 1), target: try target(idleTimeout: 60))
        #expect(outcome.coldStarts == 1)
        #expect((99_999_999_990...99_999_999_999).contains(outcome.pings))
        #expect(outcome.warmInstanceSeconds >= 99_999_999_990)
        let greedy = GreedyDualSimulator.run(trace, capacity: 1, target: try target(idleTimeout: 60))
        #expect(greedy.coldStarts == 1)
        // A ping 58 s after the last activity: one every 58 s over the span.
        #expect((99_999_999_998 / 58 - 2...99_999_999_998 / 58).contains(greedy.pings))
        let adaptive = KeepWarmSimulator.run(trace, policy: .adaptive, target: try target(idleTimeout: 1))
        // Learning keeps the instance for 4 hours after the call (a ping every second), then lets it go.
        #expect(adaptive.coldStarts == 2)
        #expect((14_390...14_410).contains(adaptive.pings))
    }

    @Test func greedyDualKeepsTheFrequentAndAgesOutTheRest() {
        var cache = GreedyDualCache(capacity: 2, coldStartMilliseconds: 1_000, memoryMB: 1_000)  // cost / size = 1
        #expect(cache.touch(0) == nil)
        #expect(cache.touch(0) == nil)
        #expect(cache.touch(1) == nil)
        #expect(cache.priority(of: 0) == 2 && cache.priority(of: 1) == 1)
        // A third endpoint evicts the lowest priority (1, used once); the clock rises to its priority.
        #expect(cache.touch(2) == 1)
        #expect(cache.clock == 1)
        #expect(cache.priority(of: 2) == 2)  // clock 1 + 1 use
        // Evicted before the newcomer is counted: of the two at priority 2, the least recently used (0).
        #expect(cache.touch(3) == 0)
        #expect(cache.count == 2)
        #expect(cache.priority(of: 3) == 3)
        // Forgotten on eviction: back with a frequency of one.
        var again = GreedyDualCache(capacity: 1, coldStartMilliseconds: 1_000, memoryMB: 1_000)
        _ = again.touch(0); _ = again.touch(0); _ = again.touch(0)
        #expect(again.touch(1) == 0)
        #expect(again.clock == 3)
        #expect(again.touch(0) == 1)
        #expect(again.priority(of: 0) == 5)  // clock 4 (endpoint 1's priority) + 1 use
        // Cost over size: a slow start or a small instance is worth more.
        var weighted = GreedyDualCache(capacity: 1, coldStartMilliseconds: 3_000, memoryMB: 1_000)
        _ = weighted.touch(7)
        #expect(weighted.priority(of: 7) == 3)
    }

    @Test func greedyDualPingsOnlyWhatItCaches() throws {
        // Two endpoints each called every 20 minutes, instances idle out after 10: a cache of two keeps both
        // warm (a ping 598 s after each call's bucket start), a cache of one keeps only the last one called.
        var lines = ""
        for hour in 0..<4 { lines += "\(hour * 2_400 + 1),a,10\n\(hour * 2_400 + 1_201),b,10\n" }
        let trace = try Trace.parse(Data(lines.utf8), name: "t.csv")
        let both = GreedyDualSimulator.run(trace, capacity: 2, target: try target())
        let one = GreedyDualSimulator.run(trace, capacity: 1, target: try target())
        #expect(both.coldStarts == 2)
        #expect(one.coldStarts == 8)
        #expect(both.pings > one.pings)
        #expect(both.policy == "greedy-dual ×2")
    }

    // MARK: Azure Functions 2019

    func minutes(_ counts: [Int: Int]) -> String {
        (1...1_440).map { String(counts[$0] ?? 0) }.joined(separator: ",")
    }

    @Test func azure2019SpreadsEachMinutesCallsEvenlyAndEndsThemThere() throws {
        let header = "HashOwner,HashApp,HashFunction,Trigger," + (1...1_440).map(String.init).joined(separator: ",") + "\n"
        let invocations = header
            + "o1,app1,fffff111aaaa,http," + minutes([1: 2, 3: 1]) + "\n"
            + "o1,app1,ggggg222bbbb,timer," + minutes([2: 1]) + "\n"
        let durations = "HashOwner,HashApp,HashFunction,Average,Count,Minimum,Maximum,percentile_Average_0,percentile_Average_1,percentile_Average_25,percentile_Average_50,percentile_Average_75,percentile_Average_99,percentile_Average_100\n"
            + "o1,app1,fffff111aaaa,100,3,0,200,100,100,100,100,100,100,100\n"
        let percentiles = try AzureTraces.durationPercentiles(Data(durations.utf8), name: "d.csv")
        let trace = try AzureTraces.parse2019(Data(invocations.utf8), name: "i.csv", durations: percentiles)
        #expect(trace.endpoints == ["fffff111-http", "ggggg222-timer"])
        let origin = AzureTraces.originSeconds * 1_000_000
        // Minute 1: two calls ending at 15 s and 45 s, each 100 ms long; minute 2: one (no durations: 1 ms) at
        // 90 s; minute 3: one ending at 150 s.
        #expect(trace.times == [origin + 14_900_000, origin + 44_900_000, origin + 89_999_000, origin + 149_900_000])
        #expect(trace.endpointIndices == [0, 0, 1, 0])
        #expect(trace.durations == [100_000, 100_000, 1_000, 100_000])
    }

    @Test func azure2019DurationsFollowThePercentiles() {
        let percentiles: [Int64] = [0, 10, 100, 200, 300, 1_000, 5_000]
        #expect(AzureTraces.sample(percentiles, at: 0) == 0)
        #expect(AzureTraces.sample(percentiles, at: 0.5) == 200)
        #expect(AzureTraces.sample(percentiles, at: 0.625) == 250)
        #expect(AzureTraces.sample(percentiles, at: 1) == 5_000)
        // The golden-ratio sequence fills [0, 1) evenly: a quarter of 1,000 draws under the 25th percentile.
        let under = (1...1_000).filter { AzureTraces.goldenFraction(Int64($0)) < 0.25 }.count
        #expect((240...260).contains(under))
    }

    @Test func azure2019RefusesABadLineNamingIt() throws {
        let line = "o,a,f,http," + minutes([5: 1]) + "\n"
        #expect(throws: ModelDeckError("i.csv:2: minute 7: 'x' is not a count of invocations")) {
            try AzureTraces.parse2019(Data((line + line.replacingOccurrences(of: "o,a,f,http,0,0,0,0,1,0,0", with: "o,a,g,http,0,0,0,0,1,0,x")).utf8),
                                      name: "i.csv", durations: [:])
        }
        #expect(throws: ModelDeckError("i.csv:1: expected 1,444 fields (HashOwner,HashApp,HashFunction,Trigger and 1,440 minutes); got 3")) {
            try AzureTraces.parse2019(Data("o,a,\u{1B}]0;title\u{07}f\n".utf8), name: "i.csv", durations: [:])
        }
        // A count that would make more invocations than a trace may hold is refused before they are made.
        #expect(throws: ModelDeckError("i.csv:1: the file describes more than 20,000,000 invocations, the most a trace may hold; keep fewer functions")) {
            try AzureTraces.parse2019(Data(("o,a,f,http," + minutes([1: 999_999_999])).utf8), name: "i.csv", durations: [:])
        }
        #expect(throws: ModelDeckError("d.csv:1: expected 14 fields (HashOwner,HashApp,HashFunction,Average,Count,Minimum,Maximum and 7 percentiles); got 2")) {
            try AzureTraces.durationPercentiles(Data("a,b\n".utf8), name: "d.csv")
        }
    }

    // MARK: Azure Functions 2021

    @Test func azure2021StartsEachCallItsDurationBeforeItsEndInStartOrder() throws {
        let text = """
            app,func,end_timestamp,duration
            734272c01926d196,313c03f53a0d31f7,5160.142570018768,0.134
            17c37a0fdd5d1932,c9f8e30e36d1aef6,5161.280997037888,0.013
            7fa05b607ae861b8,9bc86d6cd1ee254a,5241.567729949951,42.356
            734272c01926d196,313c03f53a0d31f7,5219.518173933029,0.108

            """
        let trace = try AzureTraces.parse2021(Data(text.utf8), name: "t.txt")
        let origin = AzureTraces.originSeconds * 1_000_000
        #expect(trace.endpoints == ["734272c0-313c03f5", "17c37a0f-c9f8e30e", "7fa05b60-9bc86d6c"])
        #expect(trace.times == [origin + 5_160_008_570, origin + 5_161_267_997, origin + 5_199_211_730, origin + 5_219_410_174])
        #expect(trace.endpointIndices == [0, 1, 2, 0])
        #expect(trace.durations == [134_000, 13_000, 42_356_000, 108_000])
    }

    @Test func azure2021RefusesABadLineNamingIt() {
        #expect(throws: ModelDeckError("t.txt:3: duration 'soon' is not a duration in seconds")) {
            try AzureTraces.parse2021(Data("app,func,end_timestamp,duration\na,f,1,0.5\na,f,2,soon\n".utf8), name: "t.txt")
        }
        #expect(throws: ModelDeckError("t.txt:1: end_timestamp '-1' is not seconds from the start of the trace (0 to 100 years)")) {
            try AzureTraces.parse2021(Data("a,f,-1,0.5\n".utf8), name: "t.txt")
        }
        #expect(throws: ModelDeckError("t.txt:1: expected app,func,end_timestamp,duration; got 2 fields")) {
            try AzureTraces.parse2021(Data("a,f\n".utf8), name: "t.txt")
        }
        #expect(throws: ModelDeckError("t.txt:1: duration 2d is over the limit of 1d")) {
            try AzureTraces.parse2021(Data("a,f,1000000,172800\n".utf8), name: "t.txt")
        }
    }
}
