import Foundation
import Testing
@testable import ModelDeckCore

/// The latency sketch's promises, on real and adversarial distributions: percentiles within 1% (0.5% at
/// the finest schema) of the exact nearest-rank percentiles, at most 2 KB stored, exact merges.
struct LatencySketchTests {
    static let percentiles: [Double] = [0, 0.1, 1, 5, 10, 25, 50, 75, 90, 95, 99, 99.9, 99.99, 100]

    /// The exact nearest-rank percentile: the value of rank ⌈p · n / 100⌉ (at least 1).
    static func exact(_ sorted: [UInt64], _ p: Double) -> UInt64 {
        let rank = max(1, Int((p * Double(sorted.count) / 100).rounded(.up)))
        return sorted[min(sorted.count, rank) - 1]
    }

    /// Records `values`, stores and reads back the sketch, and checks every percentile and the size.
    /// Returns the worst relative error.
    @discardableResult
    static func check(_ name: String, _ values: [UInt64], bound: Double = 0.01) throws -> Double {
        var sketch = LatencyHistogram()
        for value in values { sketch.record(microseconds: value) }
        let data = sketch.encoded()
        #expect(data.count <= LatencyHistogram.maximumEncodedBytes, "\(name): \(data.count) bytes")
        let stored = try LatencyHistogram(encoded: data)
        #expect(stored.count == UInt64(values.count), "\(name)")
        let sorted = values.map { min($0, LatencyHistogram.highestMicroseconds) }.sorted()
        let allowed = min(bound, LatencyHistogram.relativeAccuracy(atSchema: stored.schema)) + 1e-9
        var worst = 0.0
        for p in percentiles {
            let truth = Double(exact(sorted, p))
            let estimate = try #require(stored.milliseconds(atPercentile: p)) * 1_000
            let error = truth == 0 ? estimate : abs(estimate - truth) / truth
            worst = max(worst, error)
            #expect(error <= allowed, "\(name): p\(p) is \(estimate) µs, exact \(truth) µs (error \(error), schema \(stored.schema))")
        }
        // All of them from one walk of the bins, asked in another order (the dashboard's p50, p95 and p99).
        let reversed = Array(percentiles.reversed())
        #expect(stored.milliseconds(atPercentiles: reversed) == reversed.map { stored.milliseconds(atPercentile: $0) }, "\(name): in one walk")
        return worst
    }

    @Test func percentilesAreWithinHalfAPercentOnRealisticDistributions() throws {
        var random = SeededRandom(seed: 22)
        for trial in 0..<20 {
            let n = [1, 2, 3, 10, 100, 1_000, 6_000, 20_000][trial % 8]
            let median = [800.0, 15_000, 120_000, 2_000_000][trial % 4]
            let lognormal = (0..<n).map { _ in UInt64(max(1, median * exp(0.8 * random.normal()))) }
            let worst = try Self.check("log-normal n=\(n) median=\(median)", lognormal, bound: 0.005)
            #expect(worst <= 0.005)
            let uniform = (0..<n).map { _ in 2_000 + random.next() % 400_000 }
            try Self.check("uniform n=\(n)", uniform, bound: 0.005)
            // A warm mode and a cold-start mode three decades apart.
            let bimodal = (0..<n).map { index in index % 20 == 0 ? 3_000_000 + random.next() % 2_000_000 : 4_000 + random.next() % 2_000 }
            try Self.check("bimodal n=\(n)", bimodal, bound: 0.005)
            // Heavy tail (Pareto, α = 1.1).
            let pareto = (0..<n).map { _ in UInt64(min(3.6e9, 1_000 / pow(max(random.unit(), 1e-12), 1 / 1.1))) }
            try Self.check("pareto n=\(n)", pareto, bound: 0.005)
        }
    }

    @Test func adversarialDistributionsStayWithinOnePercentAndTwoKilobytes() throws {
        var random = SeededRandom(seed: 7)
        try Self.check("all equal", Array(repeating: 123_457, count: 50_000), bound: 0.005)
        try Self.check("one microsecond", Array(repeating: 1, count: 1_000), bound: 0.005)
        try Self.check("zero", Array(repeating: 0, count: 10) + [5], bound: 0.005)
        try Self.check("extremes: 1 µs and hours", (0..<10_000).map { $0 % 2 == 0 ? 1 : 3 * 3_600_000_000 + UInt64($0) }, bound: 0.005)
        // Every latency from 1 µs to 10 minutes, log-uniform: every bin of eight decades in use.
        let logUniform = (0..<200_000).map { _ in UInt64(exp(random.unit() * log(600_000_000.0))) }
        try Self.check("log-uniform 1 µs … 10 min", logUniform, bound: 0.01)
        // Consecutive integers (what HDR's size grew with): 100,000 distinct values.
        try Self.check("distinct 1 … 100,000 µs", (1...100_000).map { UInt64($0) }, bound: 0.01)
        // Values sitting right at bin edges, where the log's rounding decides.
        let gamma = (1 + LatencyHistogram.relativeAccuracy) / (1 - LatencyHistogram.relativeAccuracy)
        let edges = (1..<2_000).flatMap { i -> [UInt64] in
            let edge = pow(gamma, Double(i))
            return [UInt64(edge.rounded(.down)), UInt64(edge.rounded(.up))].filter { $0 > 0 }
        }
        try Self.check("bin edges", edges, bound: 0.01)
    }

    @Test func aStoredSketchNeverPassesTwoKilobytesWhateverTheTraffic() throws {
        // Worst case: every bin from 1 µs to a day holds a huge count (10-byte varints).
        var sketch = LatencyHistogram()
        var value = 1.0
        while value < Double(LatencyHistogram.highestMicroseconds) {
            sketch.record(microseconds: UInt64(value), count: UInt64.max / 8_192)
            value *= 1.004
        }
        let data = sketch.encoded()
        #expect(data.count <= LatencyHistogram.maximumEncodedBytes)
        let stored = try LatencyHistogram(encoded: data)
        #expect(stored.count == sketch.count)
        #expect(stored.schema > 1)   // it had to give up resolution, and says so

        // A busy hour: 360,000 requests between 1 ms and 10 minutes still fit at 1%.
        var random = SeededRandom(seed: 3)
        var hour = LatencyHistogram()
        for _ in 0..<360_000 { hour.record(microseconds: UInt64(1_000 * exp(random.unit() * log(600_000.0)))) }
        let hourData = hour.encoded()
        #expect(hourData.count <= LatencyHistogram.maximumEncodedBytes)
        #expect(try LatencyHistogram(encoded: hourData).schema <= 1)
    }

    @Test func mergingIsExactAcrossBucketsAndSchemas() throws {
        var random = SeededRandom(seed: 11)
        for _ in 0..<30 {
            let values = (0..<Int(random.next() % 5_000 + 1)).map { _ in UInt64(max(1, 20_000 * exp(1.2 * random.normal()))) }
            var whole = LatencyHistogram()
            for value in values { whole.record(microseconds: value) }
            // Cut into random parts, stored and read back, merged in a random order.
            var parts: [LatencyHistogram] = []
            var current = LatencyHistogram()
            for value in values {
                current.record(microseconds: value)
                if random.next() % 50 == 0 { parts.append(current); current = LatencyHistogram() }
            }
            parts.append(current)
            parts.shuffle(using: &random)
            var merged = LatencyHistogram()
            for part in parts { merged.add(try LatencyHistogram(encoded: part.encoded())) }
            #expect(merged == whole)
            #expect(merged.count == UInt64(values.count))
            for p in Self.percentiles { #expect(merged.milliseconds(atPercentile: p) == whole.milliseconds(atPercentile: p)) }
            // Merging in the other direction gives the same sketch.
            var reversed = LatencyHistogram()
            for part in parts.reversed() { reversed.add(part) }
            #expect(reversed == merged)
        }
        // A coarse sketch and a fine one merge at the coarse schema, as if recorded there.
        var fine = LatencyHistogram(), coarse = LatencyHistogram(), direct = LatencyHistogram()
        for value: UInt64 in [1_000, 2_000, 50_000] { fine.record(microseconds: value) }
        for value: UInt64 in [7_000, 900_000] { coarse.record(microseconds: value) }
        coarse.downscale()
        for value: UInt64 in [1_000, 2_000, 50_000, 7_000, 900_000] { direct.record(microseconds: value) }
        direct.downscale()
        var mixed = fine
        mixed.add(coarse)
        #expect(mixed.schema == 1 && mixed == direct)
        var other = coarse
        other.add(fine)
        #expect(other == direct)
    }

    @Test func subtractingColdStartsIsExactBinByBin() throws {
        var random = SeededRandom(seed: 5)
        var all = LatencyHistogram(), cold = LatencyHistogram(), warm = LatencyHistogram()
        for index in 0..<10_000 {
            if index % 50 == 0 {
                let value = 1_500_000 + random.next() % 4_000_000
                all.record(microseconds: value)
                cold.record(microseconds: value)
            } else {
                let value = 5_000 + random.next() % 50_000
                all.record(microseconds: value)
                warm.record(microseconds: value)
            }
        }
        #expect(all.subtracting(cold) == warm)
        #expect(all.subtracting(cold).count == 9_800)
        var coarseCold = cold
        coarseCold.downscale()
        var coarseWarm = warm
        coarseWarm.downscale()
        #expect(all.subtracting(coarseCold) == coarseWarm)
    }

    @Test func aBinPastFourBillionWidensItsCountsExactly() throws {
        // A bin that passes UInt32.max widens the counts to 8 bytes: a long, busy window must not wrap or saturate.
        let big = UInt64(UInt32.max) - 10
        var sketch = LatencyHistogram()
        sketch.record(microseconds: 20_000, count: big)
        sketch.record(microseconds: 90_000, count: 5)
        let narrow = sketch
        sketch.record(microseconds: 20_000, count: 100)            // past UInt32.max in one bin
        sketch.record(microseconds: 1_000_000, count: 3)           // and a bin added after widening
        #expect(sketch.count == big + 108)
        #expect(abs((sketch.milliseconds(atPercentile: 50) ?? 0) - 20) <= 20 * LatencyHistogram.relativeAccuracy)
        #expect(abs((sketch.milliseconds(atPercentile: 100) ?? 0) - 1_000) <= 1_000 * LatencyHistogram.relativeAccuracy)
        #expect(sketch.count(microseconds: 19_000...21_000) == big + 100)
        // Stored and read back, merged, and taken apart again: every count exact.
        let stored = try LatencyHistogram(encoded: sketch.encoded())
        #expect(stored == sketch)
        var doubled = stored
        doubled.add(sketch)
        #expect(doubled.count == 2 * (big + 108))
        #expect(doubled.count(microseconds: 19_000...21_000) == 2 * (big + 100))
        var part = LatencyHistogram()
        part.record(microseconds: 20_000, count: 100)
        part.record(microseconds: 1_000_000, count: 3)
        #expect(sketch.subtracting(part) == narrow)
        var rolling = LatencyHistogram()
        try rolling.add(encoded: sketch.encoded())
        try rolling.subtract(encoded: part.encoded())
        #expect(rolling == narrow)
        // Added as a blob into 4-byte counts: the bin that passes UInt32.max widens them in the middle of a run
        // (bins 990, 991 and 992), the rest of the run goes into the wide counts, and taking it out is exact.
        var growing = LatencyHistogram()
        try growing.add(encoded: narrow.encoded())
        var run = LatencyHistogram()
        run.record(microseconds: 19_900, count: 2)
        run.record(microseconds: 20_000, count: 100)
        run.record(microseconds: 20_200, count: 7)
        try growing.add(encoded: run.encoded())
        var expected = narrow
        expected.add(run)
        #expect(growing == expected)
        #expect(growing.count == big + 5 + 109)
        #expect(growing.count(microseconds: 19_800...20_300) == big + 109)
        try growing.subtract(encoded: run.encoded())
        #expect(growing == narrow)
        // Coarser schemas add neighbouring bins: two wide bins merged stay exact too.
        var coarse = doubled
        coarse.downscale()
        #expect(coarse.count == doubled.count)
        #expect(coarse == doubled)
    }

    @Test func countsTakeTheFewestBytesThatHoldThemAndWidenExactly() throws {
        // A bin's count takes 1 byte up to 255, 2 up to 65,535, 4 up to UInt32.max, then 8: each step is
        // crossed by one request, and every count stays exact through storing, merging and taking out.
        var sketch = LatencyHistogram()
        sketch.record(microseconds: 20_000, count: 255)
        sketch.record(microseconds: 90_000, count: 3)
        #expect(sketch.bytesPerBin == 1)
        var inBin: UInt64 = 255
        let steps: [(added: UInt64, bytes: Int)] = [(1, 2), (65_535 - 256, 2), (1, 4), (UInt64(UInt32.max) - 65_536, 4), (1, 8)]
        for step in steps {
            let before = sketch
            sketch.record(microseconds: 20_000, count: step.added)
            inBin += step.added
            #expect(sketch.bytesPerBin == step.bytes)
            #expect(sketch.count == inBin + 3)
            #expect(sketch.count(microseconds: 19_000...21_000) == inBin)
            #expect(sketch.count(microseconds: 89_000...91_000) == 3)
            #expect(abs((sketch.milliseconds(atPercentile: 50) ?? 0) - 20) <= 20 * LatencyHistogram.relativeAccuracy)
            #expect(try LatencyHistogram(encoded: sketch.encoded()) == sketch)
            var part = LatencyHistogram()
            part.record(microseconds: 20_000, count: step.added)
            #expect(sketch.subtracting(part) == before)
            // Added as a blob to the narrower counts, then taken out again.
            var rolling = before
            try rolling.add(encoded: part.encoded())
            #expect(rolling == sketch)
            #expect(rolling.bytesPerBin == step.bytes)
            try rolling.subtract(encoded: part.encoded())
            #expect(rolling == before)
            // Merged sketch into sketch, and new bins on either side in the width reached.
            var merged = before
            merged.add(part)
            #expect(merged == sketch)
            #expect(merged.bytesPerBin == step.bytes)
            var grown = sketch
            grown.record(microseconds: 1_000, count: 2)
            grown.record(microseconds: 400_000, count: 7)
            #expect(grown.bytesPerBin == step.bytes)
            #expect(grown.count(microseconds: 900...1_100) == 2)
            #expect(grown.count(microseconds: 390_000...410_000) == 7)
            #expect(grown.count(microseconds: 19_000...21_000) == inBin)
        }
        // The largest count of each width fits it exactly; one past it, or far past, goes as wide as it needs.
        for (count, bytes) in [(UInt64(UInt8.max), 1), (UInt64(UInt16.max), 2), (UInt64(UInt32.max), 4), (UInt64(1) << 40, 8)] {
            var exact = LatencyHistogram()
            exact.record(microseconds: 5_000, count: 1)
            exact.record(microseconds: 5_000, count: count - 1)
            #expect(exact.bytesPerBin == bytes)
            #expect(exact.count(microseconds: 4_900...5_100) == count)
        }
        // A coarser schema adds neighbouring bins: of three bins of 255 in a row, two make one of 510, in 2 bytes.
        var row = LatencyHistogram()
        let gamma = exp(LatencyHistogram.logGamma)
        for step in 0..<3 { row.record(microseconds: UInt64(20_000 * pow(gamma, Double(step))), count: 255) }
        #expect(row.bytesPerBin == 1)
        row.downscale()
        #expect(row.bytesPerBin == 2)
        #expect(row.count(microseconds: 19_000...21_000) == 765)
    }

    @Test func bandsCountWhatFellInThem() {
        var sketch = LatencyHistogram()
        for value: UInt64 in [1_000, 9_000, 9_000, 50_000, 2_000_000] { sketch.record(microseconds: value) }
        #expect(sketch.count(microseconds: 0...9_999) == 3)
        #expect(sketch.count(microseconds: 10_000...999_999) == 1)
        #expect(sketch.count(microseconds: 1_000_000...LatencyHistogram.highestMicroseconds) == 1)
        #expect(abs((sketch.meanMilliseconds ?? 0) - 413.8) <= 413.8 * 0.005)
    }

    @Test func damagedBlobsAreRefusedNeverTrapped() throws {
        var sketch = LatencyHistogram()
        for value: UInt64 in [1, 1_000, 2_000, 3_000_000] { sketch.record(microseconds: value) }
        let good = sketch.encoded()
        #expect(try LatencyHistogram(encoded: good) == sketch)
        #expect(try LatencyHistogram(encoded: Data()).count == 0)
        for bad in [Data([1, 2, 3]), Data([0xD1]), Data([0xD1, 9, 0]), Data([0xD1, 0, 0x80]),
                    Data([0xD1, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F, 1, 1]),
                    Data([0xD1, 0, 0, 2, 0xFF, 0xFF, 0x03]), good.dropLast()] {
            #expect(throws: ModelDeckError.self) { try LatencyHistogram(encoded: bad) }
        }
        // Random damage: either refused or read, never a trap.
        var random = SeededRandom(seed: 99)
        for _ in 0..<5_000 {
            var bytes = [UInt8](good)
            bytes[Int(random.next() % UInt64(bytes.count))] = UInt8(truncatingIfNeeded: random.next())
            if random.next() % 3 == 0 { bytes.append(contentsOf: (0..<Int(random.next() % 12)).map { _ in UInt8(truncatingIfNeeded: random.next()) }) }
            _ = try? LatencyHistogram(encoded: Data(bytes))
        }
    }

    @Test func legacyPairsConvertWithEveryCount() throws {
        var data = Data()
        for (value, count) in [(UInt64(1_000), UInt64(5)), (2_047, 1), (150_016, 3), (0, 2)] {
            withUnsafeBytes(of: value.littleEndian) { data.append(contentsOf: $0) }
            withUnsafeBytes(of: count.littleEndian) { data.append(contentsOf: $0) }
        }
        let converted = try LatencyHistogram(legacyPairs: data)
        #expect(converted.count == 11)
        #expect(abs((converted.milliseconds(atPercentile: 100) ?? 0) - 150.016) <= 150.016 * 0.005)
        #expect(throws: ModelDeckError.self) { try LatencyHistogram(legacyPairs: Data([1, 2, 3])) }
    }
}

extension SeededRandom {
    /// Uniform in [0, 1).
    mutating func unit() -> Double { Double(next() >> 11) / Double(1 << 53) }

    /// Standard normal (Box–Muller).
    mutating func normal() -> Double {
        (-2 * log(max(unit(), 1e-300))).squareRoot() * cos(2 * .pi * unit())
    }
}

extension SeededRandom: RandomNumberGenerator {}
