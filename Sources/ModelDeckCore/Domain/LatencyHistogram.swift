import Foundation

/// Request latencies in microseconds, as a log-bucketed sketch with a guaranteed relative error and a
/// bounded size: what `metric_buckets` stores for every bucket, and what the dashboard, the rollback gate
/// and `/metrics` merge.
///
/// The method is DDSketch's (Masson, Rim and Lee, "DDSketch: A Fast and Fully-Mergeable Quantile Sketch
/// with Relative-Error Guarantees", VLDB 2019, https://arxiv.org/abs/1908.10693): a latency `v` goes to bin
/// `i = ⌈log_γ v⌉` with `γ = (1 + α) / (1 − α)`, and a bin answers `2γ^i / (γ + 1)`, which is within `α` of
/// every value in it. A percentile ranked over the bins is therefore within `α` of the exact percentile
/// (same rank, nearest-rank definition). Merging adds counts bin by bin: exact, associative, and the
/// same as having recorded every latency into one sketch.
///
/// Bounded size the way Prometheus native histograms bound theirs
/// (https://prometheus.io/docs/specs/native_histograms/, "schema" and bucket limits): when the encoding
/// would pass `maximumEncodedBytes`, neighbouring bins are merged in pairs (γ becomes γ², a bin of the
/// coarser schema is exactly two bins of the finer one), so a stored bucket never passes 2 KB whatever the
/// traffic. Schema 0 has α = 0.5%, schema 1 α = 1.0% (0.99998%); a bucket falls back to schema 2 (α ≈ 2%)
/// only when its latencies span more than about five decades with hundreds of thousands of requests in it
/// (see `LatencyHistogramTests`). Sketches of different schemas merge at the coarser one.
///
/// Why written here: no Swift DDSketch or native-histogram library is among the packages this project may
/// use (hdrhistogram-swift is, but an HDR histogram's size grows with the number of distinct values it
/// holds, which is what made the registry grow with traffic). The whole method is the two formulas above.
///
/// Encoding (version byte 0xD1): schema, zero count, then runs of non-empty bins as
/// (gap from the previous run, run length, counts), all LEB128 varints; an empty sketch is empty data.
public struct LatencyHistogram: Sendable {
    /// α at schema 0: a percentile is within 0.5% of the exact value.
    public static let relativeAccuracy = 0.005
    /// The most bytes a stored histogram takes.
    public static let maximumEncodedBytes = 2_048
    /// Latencies are clamped to one day (a request that long has long timed out everywhere).
    public static let highestMicroseconds: UInt64 = 86_400_000_000
    static let formatVersion: UInt8 = 0xD1
    /// At schema 4 the whole range (1 µs to a day) is 158 bins: even with 10-byte counts, under 2 KB.
    static let maximumSchema = 6
    static let logGamma = log((1 + relativeAccuracy) / (1 - relativeAccuracy))

    /// Bins are γ^(2^schema) wide.
    public private(set) var schema = 0
    public private(set) var count: UInt64 = 0
    /// Latencies of 0 µs.
    private var zeroCount: UInt64 = 0
    /// Index of `bins[0]`.
    private var offset = 0
    private var bins = Bins()

    public init() {}

    /// The bytes each bin's count takes now (1, 2, 4 or 8: `Bins`).
    var bytesPerBin: Int { bins.width.rawValue }

    /// The relative error bound of percentiles at `schema`: (γ − 1) / (γ + 1).
    public static func relativeAccuracy(atSchema schema: Int) -> Double {
        let gamma = exp(logGamma * Double(1 << schema))
        return (gamma - 1) / (gamma + 1)
    }

    public mutating func record(microseconds: UInt64, count: UInt64 = 1) {
        guard count > 0 else { return }
        self.count += count
        let value = min(microseconds, Self.highestMicroseconds)
        guard value > 0 else { zeroCount += count; return }
        var index = Int((log(Double(value)) / Self.logGamma).rounded(.up))
        for _ in 0..<schema { index = Self.coarser(index) }
        grow(toInclude: index)
        bins[index - offset] += count
    }

    /// The index at the next schema: bin `j` of γ² holds bins `2j − 1` and `2j` of γ, i.e. ⌈i / 2⌉.
    @inline(__always) static func coarser(_ index: Int) -> Int { (index + 1) >> 1 }

    private mutating func grow(toInclude index: Int) {
        if bins.isEmpty {
            offset = index
            bins = Bins(zeros: 1)
            return
        }
        let end = offset + bins.count
        guard index < offset || index >= end else { return }
        bins.extend(before: max(0, offset - index), after: max(0, index + 1 - end))
        offset = min(index, offset)
    }

    /// Merges neighbouring bins in pairs: one schema coarser.
    mutating func downscale() {
        guard !bins.isEmpty else { schema += 1; return }
        let first = Self.coarser(offset), last = Self.coarser(offset + bins.count - 1)
        var merged = Bins(zeros: last - first + 1)
        for (position, n) in bins.enumerated() where n > 0 { merged[Self.coarser(offset + position) - first] += n }
        offset = first
        bins = merged
        schema += 1
    }

    private func downscaled(to target: Int) -> LatencyHistogram {
        var copy = self
        while copy.schema < target { copy.downscale() }
        return copy
    }

    /// Adds every request of `other`: exact (counts add bin by bin), at the coarser of the two schemas.
    public mutating func add(_ other: LatencyHistogram) {
        guard other.count > 0 else { return }
        while schema < other.schema { downscale() }
        let other = other.downscaled(to: schema)
        count += other.count
        zeroCount += other.zeroCount
        guard !other.bins.isEmpty else { return }
        grow(toInclude: other.offset)
        grow(toInclude: other.offset + other.bins.count - 1)
        let shift = other.offset - offset
        for (position, n) in other.bins.enumerated() where n > 0 { bins[position + shift] += n }
    }

    /// This histogram less `part` (which must be a subset of it, e.g. the cold starts of all requests):
    /// exact bin by bin, at the coarser of the two schemas.
    public func subtracting(_ part: LatencyHistogram) -> LatencyHistogram {
        let target = max(schema, part.schema)
        var result = downscaled(to: target)
        let part = part.downscaled(to: target)
        let zeros = min(result.zeroCount, part.zeroCount)
        result.zeroCount -= zeros
        result.count -= zeros
        for (position, n) in part.bins.enumerated() where n > 0 {
            let index = part.offset + position - result.offset
            guard index >= 0, index < result.bins.count else { continue }
            let taken = min(result.bins[index], n)
            result.bins[index] -= taken
            result.count -= taken
        }
        return result
    }

    /// The latency a bin answers for (microseconds): within α of every latency in it.
    private func representative(_ index: Int) -> Double {
        let logWidth = Self.logGamma * Double(1 << schema)
        return 2 * exp(logWidth * Double(index)) / (1 + exp(logWidth))
    }

    /// Requests whose latency (as its bin answers it) fell in `range` (microseconds), e.g. for bands.
    public func count(microseconds range: ClosedRange<UInt64>) -> UInt64 {
        var total = range.contains(0) ? zeroCount : 0
        for (position, n) in bins.enumerated() where n > 0 {
            let value = representative(offset + position)
            if value >= Double(range.lowerBound), value < Double(range.upperBound) + 1 { total += n }
        }
        return total
    }

    /// The latency at `percentile` (0–100) in milliseconds — the request of rank ⌈p/100 · count⌉ — within
    /// the schema's relative accuracy; nil when nothing was recorded.
    public func milliseconds(atPercentile percentile: Double) -> Double? {
        // An empty sketch (most cold-start sketches, made again with every window entry's percentiles) answers
        // without the arrays of the walk.
        guard count > 0 else { return nil }
        return milliseconds(atPercentiles: [percentile])[0]
    }

    /// `milliseconds(atPercentile:)` of each of `percentiles`, in any order, from one walk of the bins: the
    /// dashboard makes p50, p95 and p99 of every five-minute sketch its sums changed (all 10,000 of them at a
    /// bucket edge, issue #20), and three walks went over most bins two or three times.
    public func milliseconds(atPercentiles percentiles: [Double]) -> [Double?] {
        guard count > 0 else { return percentiles.map { _ in nil } }
        let ranks = percentiles.map { min(count, max(1, UInt64((min(100, max(0, $0)) * Double(count) / 100).rounded(.up)))) }
        let order = ranks.indices.sorted { ranks[$0] < ranks[$1] }
        var results = [Double?](repeating: nil, count: ranks.count)
        // Ranks in increasing order, each found by carrying on from where the last stopped: a running total
        // over the stored counts in one tight loop (`Bins.position(reaching:from:seen:)`), not a call per bin.
        var seen = zeroCount, position = 0
        for index in order {
            let rank = ranks[index]
            if rank <= zeroCount {
                results[index] = 0
                continue
            }
            if seen < rank {
                guard let reached = bins.position(reaching: rank, from: position, seen: &seen) else {
                    // Counts short of `count` (not from this type's operations): the highest bin answers.
                    results[index] = bins.isEmpty ? 0 : representative(offset + bins.count - 1) / 1_000
                    position = bins.count
                    continue
                }
                position = reached + 1
            }
            results[index] = representative(offset + position - 1) / 1_000
        }
        return results
    }

    /// The mean latency in milliseconds, from the bins' answers (within α); nil when empty.
    public var meanMilliseconds: Double? {
        guard count > 0 else { return nil }
        var sum = 0.0
        for (position, n) in bins.enumerated() where n > 0 { sum += Double(n) * representative(offset + position) }
        return sum / Double(count) / 1_000
    }

    // MARK: Encoding

    /// At most `maximumEncodedBytes`: coarser schemas until it fits.
    public func encoded() -> Data {
        guard count > 0 else { return Data() }
        var sketch = self
        while true {
            let data = sketch.encodedAtThisSchema()
            if data.count <= Self.maximumEncodedBytes || sketch.schema >= Self.maximumSchema { return data }
            sketch.downscale()
        }
    }

    private func encodedAtThisSchema() -> Data {
        var data = Data([Self.formatVersion, UInt8(schema)])
        data.reserveCapacity(16 + bins.count * 2)
        Self.appendVarint(zeroCount, to: &data)
        var position = 0
        var previousEnd: Int?
        while position < bins.count {
            guard bins[position] > 0 else { position += 1; continue }
            var end = position
            while end < bins.count, bins[end] > 0 { end += 1 }
            let start = offset + position
            if let previousEnd {
                Self.appendVarint(UInt64(start - previousEnd), to: &data)
            } else {
                Self.appendVarint(UInt64(bitPattern: Int64((start << 1) ^ (start >> 63))), to: &data)   // zigzag
            }
            Self.appendVarint(UInt64(end - position), to: &data)
            for n in bins[position..<end] { Self.appendVarint(n, to: &data) }
            previousEnd = offset + end
            position = end
        }
        return data
    }

    public init(encoded data: Data) throws {
        self.init()
        try add(encoded: data)
    }

    /// Adds the requests of an encoded sketch straight into this one, bin by bin, without building a sketch
    /// for it first: the dashboard adds hundreds of thousands of stored buckets per snapshot, and a sketch
    /// per bucket (its byte copy and bin array) was most of that time. Same result as
    /// `add(LatencyHistogram(encoded:))`; an empty sketch takes the blob's schema. A damaged blob throws and
    /// may leave part of it added: callers drop the sum.
    public mutating func add(encoded data: Data) throws { try apply(encoded: data, subtracting: false) }

    /// Takes the requests of an encoded sketch back out of this one, bin by bin: the dashboard's rolling
    /// window, when a bucket it added leaves the window or is written again. The blob must be part of this
    /// sketch and no coarser (a sketch never becomes finer again); anything else throws, and the caller
    /// rebuilds the sum from the buckets. A throw may leave part of it taken out.
    public mutating func subtract(encoded data: Data) throws { try apply(encoded: data, subtracting: true) }

    /// The schema an encoded sketch is at, without decoding it; nil for an empty or foreign blob.
    public static func schema(ofEncoded data: Data) -> Int? {
        guard data.count >= 2, data[data.startIndex] == formatVersion else { return nil }
        return Int(data[data.startIndex + 1])
    }

    private mutating func apply(encoded data: Data, subtracting: Bool) throws {
        guard !data.isEmpty else { return }
        try data.withUnsafeBytes { raw in
            var reader = VarintReader(raw.bindMemory(to: UInt8.self))
            guard try reader.byte() == Self.formatVersion else {
                throw ModelDeckError("latency histogram blob of \(data.count) bytes is not in the sketch format (first byte \(data.first ?? 0), expected \(Self.formatVersion)); was the registry migrated?")
            }
            let blobSchema = Int(try reader.byte())
            guard blobSchema <= Self.maximumSchema else { throw ModelDeckError("latency histogram schema \(blobSchema) is past the largest, \(Self.maximumSchema)") }
            if subtracting {
                guard blobSchema <= schema else { throw ModelDeckError("latency sketch at schema \(blobSchema) cannot be taken out of one at schema \(schema)") }
            } else {
                if count == 0, bins.isEmpty { schema = blobSchema }
                while schema < blobSchema { downscale() }
            }
            let coarsening = schema - blobSchema
            func add(_ n: UInt64) throws {
                let (sum, overflow) = subtracting ? count.subtractingReportingOverflow(n) : count.addingReportingOverflow(n)
                guard !overflow else { throw ModelDeckError("latency histogram blob's counts overflow") }
                count = sum
            }
            let zeros = try reader.varint()
            try add(zeros)
            if subtracting {
                guard zeroCount >= zeros else { throw ModelDeckError("latency sketch taken out holds requests this one does not") }
                zeroCount -= zeros
            } else {
                zeroCount += zeros
            }
            var previousEnd: Int?
            // 1 µs to a day is 2,519 bins at schema 0; anything far outside is a damaged blob.
            let limit = 10_000
            while !reader.atEnd {
                let rawStart = try reader.varint()
                let start: Int
                if let previousEnd {
                    guard rawStart > 0, rawStart <= UInt64(limit) else { throw ModelDeckError("latency histogram blob has a gap of \(rawStart) bins (at most \(limit))") }
                    start = previousEnd + Int(rawStart)
                } else {
                    start = Int(Int64(bitPattern: rawStart >> 1) ^ -Int64(bitPattern: rawStart & 1))
                }
                let length = try reader.varint()
                guard length > 0, start >= -limit, start <= limit, length <= UInt64(limit), start + Int(length) <= limit else {
                    throw ModelDeckError("latency histogram blob has bins out of range (at most \(limit) from 1 µs)")
                }
                let end = start + Int(length)
                var first = start, last = end - 1
                for _ in 0..<coarsening { first = Self.coarser(first); last = Self.coarser(last) }
                if subtracting {
                    guard !bins.isEmpty, first >= offset, last < offset + bins.count else {
                        throw ModelDeckError("latency sketch taken out holds requests this one does not")
                    }
                } else {
                    grow(toInclude: first)
                    grow(toInclude: last)
                }
                for blobIndex in start..<end {
                    let n = try reader.varint()
                    guard n > 0 else { continue }
                    try add(n)
                    var index = blobIndex
                    for _ in 0..<coarsening { index = Self.coarser(index) }
                    if subtracting {
                        guard bins[index - offset] >= n else { throw ModelDeckError("latency sketch taken out holds requests this one does not") }
                        bins[index - offset] -= n
                    } else {
                        bins[index - offset] += n
                    }
                }
                previousEnd = end
            }
        }
    }

    /// The format before the 2026-11-30 migration: HDR-quantized (microseconds, count) pairs as
    /// little-endian UInt64s, 16 bytes each. Only the migration reads it.
    public init(legacyPairs data: Data) throws {
        self.init()
        guard data.count % 16 == 0 else { throw ModelDeckError("latency histogram blob has \(data.count) bytes, not a multiple of 16") }
        var pairs: [(UInt64, UInt64)] = []
        data.withUnsafeBytes { raw in
            var position = 0
            while position < raw.count {
                pairs.append((UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: position, as: UInt64.self)),
                              UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: position + 8, as: UInt64.self))))
                position += 16
            }
        }
        for (value, n) in pairs { record(microseconds: value, count: n) }
    }

    static func appendVarint(_ value: UInt64, to data: inout Data) {
        var value = value
        while value >= 0x80 {
            data.append(UInt8(value & 0x7F) | 0x80)
            value >>= 7
        }
        data.append(UInt8(value))
    }
}

extension LatencyHistogram: Equatable {
    /// The same requests in the same bins, compared at the coarser schema of the two.
    public static func == (lhs: LatencyHistogram, rhs: LatencyHistogram) -> Bool {
        guard lhs.count == rhs.count else { return false }
        let target = max(lhs.schema, rhs.schema)
        let a = lhs.downscaled(to: target), b = rhs.downscaled(to: target)
        return a.zeroCount == b.zeroCount && a.nonEmptyBins == b.nonEmptyBins
    }

    private var nonEmptyBins: [Int: UInt64] {
        var result: [Int: UInt64] = [:]
        for (position, n) in bins.enumerated() where n > 0 { result[offset + position] = n }
        return result
    }
}
