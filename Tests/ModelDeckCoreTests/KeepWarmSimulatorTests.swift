import Foundation
import Testing
@testable import ModelDeckCore

struct KeepWarmSimulatorTests {
    func target(idleTimeout: Int64 = 600, coldStart: Int64 = 2_000) throws -> SimulatedTarget {
        SimulatedTarget(coldStartMilliseconds: coldStart, idleTimeoutSeconds: idleTimeout, pingMilliseconds: 10, memoryMB: 512,
                        rates: try PriceTable.standard.invocationRates(platform: "aws-lambda", region: "us-east-1", architecture: "x86_64"))
    }

    func trace(_ lines: [(seconds: Double, endpoint: String, ms: Int32)]) -> Trace {
        var trace = Trace()
        for line in lines {
            trace.append(atMilliseconds: Int64((line.seconds * 1_000).rounded()), endpoint: trace.endpointIndex(line.endpoint), durationMilliseconds: line.ms)
        }
        return trace
    }

    @Test func withoutKeepWarmEveryRequestAfterTheIdleTimeoutIsCold() throws {
        // 0 s: cold (no instance), runs 2 s + 200 ms, idle from 2.2 s.
        // 5 s: warm on that instance, idle from 5.2 s, which keeps it until 605.2 s.
        // 1,200 s: cold again. Latencies 2,200 / 200 / 2,200 ms.
        let outcome = KeepWarmSimulator.run(trace([(0, "a", 200), (5, "a", 200), (1_200, "a", 200)]), policy: .off, target: try target())
        #expect(outcome.requests == 3)
        #expect(outcome.coldStarts == 2)
        #expect(outcome.pings == 0)
        #expect(abs(outcome.p99Ms! - 2_200) <= 2_200 * LatencyHistogram.relativeAccuracy)  // the latency sketch is within 0.5%
        // The first instance lived 0–605.2 s; the second from 1,200 s to the end of the trace, 1,200.2 s.
        #expect(outcome.warmInstanceSeconds == 605 + 0)
        // Billed: 2,200 + 200 + 2,200 ms (Lambda bills the init phase) × 0.5 GB = 2.3 GB-s × $0.0000166667
        // = $0.00003833341, plus 3 requests × $0.0000002 = $0.0000006: $0.00003893341 → 39 µ$.
        #expect(outcome.trafficCostMicros == 39)
        #expect(outcome.pingCostMicros == 0)
    }

    @Test func aFixedWarmerPingsOnItsIntervalAndKeepsOneInstanceWarm() throws {
        // Requests at 0, 1,750 and 3,550 s; pings every 5 minutes from the daemon's start (0 s) to the end
        // (3,550.2 s): 0, 300, …, 3,300 s, 12 pings. The ping at 0 s finds the first request's instance still
        // starting and starts a second one (the only cold ping). Every later ping and request takes the most
        // recently idle instance, so the first stays warm throughout and the second stops at 2.01 + 600 s.
        let outcome = KeepWarmSimulator.run(trace([(0, "a", 200), (1_750, "a", 200), (3_550, "a", 200)]),
                                            policy: .fixed(everySeconds: 300, concurrency: 1), target: try target())
        #expect(outcome.coldStarts == 1)
        #expect(outcome.pings == 12)
        #expect(outcome.coldPings == 1)
        #expect(outcome.warmInstanceSeconds == 602 + 3_550)
        // Pings billed: one cold (2,010 ms) and 11 warm (10 ms): 2,120 ms × 0.5 GB = 1.06 GB-s × $0.0000166667
        // = $0.00001766670, plus 12 × $0.0000002 = $0.0000024: $0.0000200667 → 20 µ$.
        #expect(outcome.pingCostMicros == 20)
    }

    @Test func aPingAtTheMomentOfARequestFindsItsInstanceBusy() throws {
        // Requests at 0 and 1,800 s, pings every 5 minutes: the ping at 1,800 s comes while the request of that
        // second runs, so it starts another instance, as a real concurrent ping would.
        let outcome = KeepWarmSimulator.run(trace([(0, "a", 200), (1_800, "a", 200), (1_900, "a", 200)]),
                                            policy: .fixed(everySeconds: 300, concurrency: 1), target: try target())
        #expect(outcome.coldStarts == 1)
        #expect(outcome.coldPings == 2)  // at 0 s and at 1,800 s
    }

    @Test func aBurstNeedsAsManyWarmInstancesAsItHasConcurrentRequests() throws {
        // Three requests at once at 100 s, instances idle out after 60 s. A warmer of concurrency 1 every 30 s
        // keeps one instance warm, so two of the three start cold; concurrency 3 keeps all three warm.
        let burst = trace([(0, "a", 100), (100, "a", 500), (100, "a", 500), (100, "a", 500)])
        let one = KeepWarmSimulator.run(burst, policy: .fixed(everySeconds: 30, concurrency: 1), target: try target(idleTimeout: 60))
        let three = KeepWarmSimulator.run(burst, policy: .fixed(everySeconds: 30, concurrency: 3), target: try target(idleTimeout: 60))
        #expect(one.coldStarts == 1 + 2)
        #expect(three.coldStarts == 1)
    }

    @Test func aComparisonSaysWhichWayItWent() {
        var adaptive = SimulationOutcome(policy: "adaptive"), fixed = SimulationOutcome(policy: "every 5m")
        (adaptive.coldStarts, adaptive.pingCostMicros, adaptive.pings) = (1, 4_872, 902)
        (fixed.coldStarts, fixed.pingCostMicros, fixed.pings) = (265, 5_813, 574)
        #expect(adaptive.compared(with: fixed)
                == "adaptive vs every 5m: fewer cold starts (1 vs 265) at lower ping cost ($0.004872 vs $0.005813; 902 vs 574 pings)")
        adaptive.coldStarts = 300
        adaptive.pingCostMicros = 5_813
        #expect(adaptive.compared(with: fixed).hasPrefix("adaptive vs every 5m: more cold starts (300 vs 265) at the same ping cost"))
    }

    @Test func endpointsNeverShareInstances() throws {
        let outcome = KeepWarmSimulator.run(trace([(0, "a", 100), (10, "b", 100), (20, "a", 100), (30, "b", 100)]), policy: .off, target: try target())
        #expect(outcome.coldStarts == 2)
    }

    @Test func adaptiveUsesTheDaemonsPlannerAndPrewarmsBeforePeriodicRequests() throws {
        // A request every 10 minutes for 12 hours; instances idle out after 60 s, starts take 2 s.
        var lines: [(Double, String, Int32)] = []
        for index in 0..<72 { lines.append((Double(index) * 600, "a", 200)) }
        let periodic = trace(lines)
        let off = KeepWarmSimulator.run(periodic, policy: .off, target: try target(idleTimeout: 60))
        let adaptive = KeepWarmSimulator.run(periodic, policy: .adaptive, target: try target(idleTimeout: 60))
        #expect(off.coldStarts == 72)
        // While learning (the first 10 idle times) the planner keeps one instance warm with a ping 2 s before
        // the idle timeout runs out (58 s after the last activity); once the histogram is representative (every
        // gap in the 9-minute bin: pre-warm at 540 s × 0.9 = 486 s less the 2 s start and the 2 s guard, keep
        // alive to 600 s × 1.1 = 660 s) it pings only in that window.
        #expect(adaptive.coldStarts == 1)
        // Learning: in each of the first 10 gaps, pings at 58, 116, …, 580 s after the request: 10 a gap, all warm.
        // Learnt: before each of the other 61 requests, one cold pre-warm 492 s after the request before, then one
        // refresh 58 s later (550 s); the request at 600 s comes before a third.
        #expect(adaptive.coldPings == 61)
        #expect(adaptive.pings == 10 * 10 + 61 * 2)
        // Warm time: far below keeping one instance warm for 12 hours (43,200 s).
        #expect(adaptive.warmInstanceSeconds < 43_200 / 2)
        // Compare with the planner itself at one point of the replay: its plan after the 20th request.
        var histogram = IdleTimeHistogram()
        for _ in 0..<19 { histogram.record(idleSeconds: 590) }
        let plan = KeepWarmPlanner.plan(policy: .adaptive, now: Date(timeIntervalSince1970: 11_400), lastInvocation: Date(timeIntervalSince1970: 11_410),
                                        lastPing: nil, idleTimeoutSeconds: 60, coldStartSeconds: 2, histogram: histogram)
        #expect(plan.reason == "adaptive: warm 8m6s–11m after a request; cold until the pre-warm")
    }
}

struct TraceTests {
    func parse(_ text: String) throws -> Trace { try Trace.parse(Data(text.utf8), name: "t.csv") }

    @Test func readsTimestampsEndpointsAndDurations() throws {
        let trace = try parse("timestamp,endpoint,duration_ms\n# a comment\n1700000000.25,a,200\n\n1700000000.250,b,1s\r\n1700000001,a,250ms\n")
        #expect(trace.count == 3)
        #expect(trace.endpoints == ["a", "b"])
        #expect(trace.times == [1_700_000_000_250_000, 1_700_000_000_250_000, 1_700_000_001_000_000])
        #expect(trace.endpointIndices == [0, 1, 0])
        #expect(trace.durations == [200_000, 1_000_000, 250_000])
        // A spreadsheet's byte-order mark before the header is skipped.
        #expect(try Trace.parse(Data([0xEF, 0xBB, 0xBF] + Array("timestamp,endpoint,duration_ms\n1,a,5\n".utf8)), name: "t.csv").count == 1)
    }

    @Test func decimalMillisecondsAndMicrosecondTimestampsReplayAsGiven() throws {
        let trace = try parse("1700000000.000001,a,4.6\n1700000000.1234567,a,0.0015\n1700000001,a,12.25\n1700000002,a,7\n")
        #expect(trace.times == [1_700_000_000_000_001, 1_700_000_000_123_456, 1_700_000_001_000_000, 1_700_000_002_000_000])
        // 4.6 ms, 1.5 µs, 12.25 ms; digits beyond the microsecond are dropped.
        #expect(trace.durations == [4_600, 1, 12_250, 7_000])
        // A fractional duration is billed and waited for as given: 4.6 ms runs 4.6 ms.
        let outcome = KeepWarmSimulator.run(try parse("1,a,4.6\n"), policy: .off, target: SimulatedTarget(
            coldStartMilliseconds: 1_000, idleTimeoutSeconds: 60, pingMilliseconds: 10, memoryMB: 128,
            rates: try PriceTable.standard.invocationRates(platform: "aws-lambda", region: "us-east-1", architecture: "x86_64")))
        #expect(abs(outcome.p99Ms! - 1_004.6) <= 1_004.6 * 0.005) // the latency sketch keeps 0.5%
        #expect(outcome.endpoints[0].servingMicroseconds == 1_004_600)
    }

    @Test func aLineWithTerminalControlsIsEchoedHarmlessly() {
        #expect(throws: ModelDeckError("t.csv:2: expected timestamp,endpoint,duration_ms; got 'red,a,1'")) {
            try parse("1,a,200\n\u{1B}[31mred,a,1\n")
        }
        #expect(throws: ModelDeckError("t.csv:1: duration '4.' has a point but no decimals")) { try parse("1,a,4.\n") }
        #expect(throws: ModelDeckError("t.csv:1: duration 2d is over the limit of 1d")) { try parse("1,a,2d\n") }
        #expect(throws: ModelDeckError("t.csv:1: duration 1d3h46m40s is over the limit of 1d")) { try parse("1,a,100000000.5\n") }
    }

    @Test func aMalformedLineIsRefusedNamingIt() {
        #expect(throws: ModelDeckError("t.csv:2: expected timestamp,endpoint,duration_ms; got 'yesterday,a,200'")) {
            try parse("1,a,200\nyesterday,a,200\n")
        }
        #expect(throws: ModelDeckError("t.csv:3: duration 'soon' is not a duration; use a number with ms, s, m, h or d, e.g. 250ms, 30s, 5m, 1h30m")) {
            try parse("1,a,200\n2,a,200\n3,a,soon\n")
        }
        #expect(throws: ModelDeckError("t.csv:2: timestamp 1 is earlier than the line before; the trace must be in time order")) {
            try parse("2,a,200\n1,a,200\n")
        }
        #expect(throws: ModelDeckError("t.csv:1: no duration; expected timestamp,endpoint,duration_ms")) { try parse("1,a\n") }
        #expect(throws: ModelDeckError("t.csv:1: duration '-5' is not a duration; use a number with ms, s, m, h or d, e.g. 250ms, 30s, 5m, 1h30m")) {
            try parse("1,a,-5\n")
        }
        #expect(throws: ModelDeckError("t.csv: the trace has no invocations")) { try parse("timestamp,endpoint,duration_ms\n") }
    }
}

struct IdleTimeWindowTests {
    @Test func theWindowAlwaysEqualsTheDaemonsHistogramOfTheLastFourHours() {
        var random = SeededRandom(seed: 7)
        var window = IdleTimeWindow(bucketSeconds: 10)
        var all: [Int64] = []
        var now: Int64 = 0
        for _ in 0..<3_000 {
            now += [10, 10, 20, 60, 600, 3_000, 9_000][Int(random.next() % 7)]
            window.advance(toSecond: now)
            window.add(busyBucketStart: now)
            all.append(now)
            let expected = IdleTimeHistogram.from(busyBucketStarts: all.filter { $0 >= now - IdleTimeWindow.spanSeconds }, bucketSeconds: 10)
            #expect(window.histogram == expected)
        }
        // And it empties once four hours pass without traffic.
        let changed = window.advance(toSecond: now + IdleTimeWindow.spanSeconds + 1)
        #expect(changed)
        #expect(window.histogram.count == 0)
        #expect(window.lastStart == nil)  // the daemon then has no last invocation either
    }
}

struct IdleTimeRepresentativenessTests {
    /// The paper's test as written: the coefficient of variation of the bin counts, in floating point.
    func coefficientOfVariationAtLeastTwo(_ histogram: IdleTimeHistogram) -> Bool {
        let inRange = histogram.bins.reduce(0, +)
        guard histogram.count >= 10, histogram.outOfBounds * 2 <= histogram.count, inRange > 0 else { return false }
        let mean = Double(inRange) / Double(IdleTimeHistogram.binCount)
        let variance = histogram.bins.reduce(0.0) { $0 + pow(Double($1) - mean, 2) } / Double(IdleTimeHistogram.binCount)
        return variance.squareRoot() / mean >= 2
    }

    @Test func windowsAreThePercentilesCountedFromTheFirstBinWhateverWasForgotten() {
        func naive(_ histogram: IdleTimeHistogram, _ percentile: Double) -> Int {
            let inRange = histogram.bins.reduce(0, +)
            let rank = max(1, Int((percentile / 100 * Double(inRange)).rounded(.up)))
            var seen = 0
            for (index, count) in histogram.bins.enumerated() {
                seen += count
                if seen >= rank { return index }
            }
            return IdleTimeHistogram.binCount - 1
        }
        var random = SeededRandom(seed: 5)
        var checked = 0
        for _ in 0..<1_000 {
            var histogram = IdleTimeHistogram()
            var idle: [Int64] = []
            let centre = Int64(random.next() % 14_000), spread = Int64(1 + random.next() % 3_000)
            for _ in 0..<(10 + Int(random.next() % 80)) {
                let seconds = centre + Int64(random.next() % UInt64(spread))
                histogram.record(idleSeconds: seconds)
                idle.append(seconds)
            }
            for _ in 0..<Int(random.next() % 6) { histogram.forget(idleSeconds: idle.removeFirst()) }
            guard let windows = histogram.windows else { continue }
            checked += 1
            #expect(windows.prewarmSeconds == Int64(naive(histogram, 5)) * 60 * 9 / 10)
            #expect(windows.keepAliveSeconds == Int64(naive(histogram, 99) + 1) * 60 * 11 / 10)
        }
        #expect(checked > 300)
    }

    @Test func theIntegerTestAgreesWithTheCoefficientOfVariation() {
        var random = SeededRandom(seed: 11)
        var agreed = 0, representative = 0
        for _ in 0..<2_000 {
            var histogram = IdleTimeHistogram()
            let spread = Int64([1, 5, 30, 120, 300][Int(random.next() % 5)])
            let centre = Int64(random.next() % 200)
            for _ in 0..<(5 + Int(random.next() % 60)) {
                histogram.record(idleSeconds: (centre + Int64(random.next() % UInt64(spread))) * 60)
            }
            if random.next() % 4 == 0, histogram.bins[Int(centre)] > 0 { histogram.forget(idleSeconds: centre * 60) }
            if histogram.isRepresentative == coefficientOfVariationAtLeastTwo(histogram) { agreed += 1 }
            if histogram.isRepresentative { representative += 1 }
        }
        #expect(agreed == 2_000)
        #expect(representative > 200 && representative < 1_800)  // both outcomes were exercised
    }
}

/// SplitMix64: a reproducible generator for tests.
struct SeededRandom {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
