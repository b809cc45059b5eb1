import Foundation
import Histogram

/// Request latencies in microseconds, as an HDR histogram (3 significant digits, up to one hour), with a
/// compact encoding for `metric_buckets`: the recorded (value, count) pairs as little-endian UInt64s.
///
/// HdrHistogram's own Codable form writes the whole counts array (thousands of zeros); a bucket holds a
/// few dozen distinct values, so pairs are about a hundred times smaller.
public struct LatencyHistogram: Sendable, Equatable {
    public private(set) var histogram: Histogram<UInt64>

    public static let highestMicroseconds: UInt64 = 3_600_000_000

    public init() {
        histogram = Histogram<UInt64>(highestTrackableValue: Self.highestMicroseconds, numberOfSignificantValueDigits: .three)
    }

    public static func == (lhs: LatencyHistogram, rhs: LatencyHistogram) -> Bool { lhs.encoded() == rhs.encoded() }

    public var count: UInt64 { histogram.totalCount }

    public mutating func record(microseconds: UInt64, count: UInt64 = 1) {
        _ = histogram.record(min(microseconds, Self.highestMicroseconds), count: count)
    }

    public mutating func add(_ other: LatencyHistogram) {
        histogram.add(other.histogram)
    }

    /// This histogram less `part` (which must be a subset of it, e.g. the cold starts of all requests):
    /// exact, because both share one bucket layout.
    public func subtracting(_ part: LatencyHistogram) -> LatencyHistogram {
        var result = LatencyHistogram()
        for value in histogram.recordedValues() {
            let remaining = value.count - min(value.count, part.histogram.countForValue(value.value))
            if remaining > 0 { result.record(microseconds: value.value, count: remaining) }
        }
        return result
    }

    /// Requests whose latency fell in `range` (microseconds), e.g. for a histogram's bands.
    public func count(microseconds range: ClosedRange<UInt64>) -> UInt64 {
        count == 0 ? 0 : histogram.count(within: range)
    }

    /// The latency at `percentile` (0–100) in milliseconds; nil when nothing was recorded.
    public func milliseconds(atPercentile percentile: Double) -> Double? {
        count == 0 ? nil : Double(histogram.valueAtPercentile(percentile)) / 1_000
    }

    public func encoded() -> Data {
        var data = Data()
        for value in histogram.recordedValues() {
            withUnsafeBytes(of: value.value.littleEndian) { data.append(contentsOf: $0) }
            withUnsafeBytes(of: value.count.littleEndian) { data.append(contentsOf: $0) }
        }
        return data
    }

    public init(encoded data: Data) throws {
        self.init()
        try Self.forEachPair(in: data) { value, count in record(microseconds: value, count: count) }
    }

    /// Calls `body` with each (microseconds, count) pair of an encoded histogram: little-endian UInt64s.
    static func forEachPair(in data: Data, _ body: (_ value: UInt64, _ count: UInt64) -> Void) throws {
        guard data.count % 16 == 0 else { throw ModelDeckError("latency histogram blob has \(data.count) bytes, not a multiple of 16") }
        data.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                body(UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: offset, as: UInt64.self)),
                     UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: offset + 8, as: UInt64.self)))
                offset += 16
            }
        }
    }
}

/// Latency percentiles over many stored histograms at once, straight from their encoded pairs.
///
/// Decoding a blob into a `LatencyHistogram` allocates and zeroes HDR's whole counts array (hundreds of
/// kilobytes); the dashboard reads tens of thousands of buckets per refresh, and that alone took seconds.
/// Stored values are already HDR-quantized, so summing counts per value and ranking them gives the same
/// percentiles (within HDR's own 0.1% precision) for the cost of a small dictionary.
public struct LatencyPairs: Sendable {
    private var counts: [UInt64: UInt64] = [:]
    public private(set) var count: UInt64 = 0

    public init() {}

    /// Adds the requests of one encoded histogram (`LatencyHistogram.encoded()`).
    public mutating func add(encoded data: Data) throws {
        try LatencyHistogram.forEachPair(in: data) { value, n in
            counts[value, default: 0] += n
            count += n
        }
    }

    /// Adds the requests of `other`.
    public mutating func add(_ other: LatencyPairs) {
        for (value, n) in other.counts { counts[value, default: 0] += n }
        count += other.count
    }

    /// These requests less `part` (a subset of them, e.g. the cold starts of all requests).
    public func subtracting(_ part: LatencyPairs) -> LatencyPairs {
        var result = LatencyPairs()
        for (value, n) in counts {
            let remaining = n - min(n, part.counts[value] ?? 0)
            if remaining > 0 {
                result.counts[value] = remaining
                result.count += remaining
            }
        }
        return result
    }

    /// Requests whose latency fell in `range` (microseconds).
    public func count(microseconds range: ClosedRange<UInt64>) -> UInt64 {
        counts.reduce(0) { range.contains($1.key) ? $0 + $1.value : $0 }
    }

    /// The latency at `percentile` (0–100) in milliseconds, ranked as HdrHistogram ranks; nil when empty.
    public func milliseconds(atPercentile percentile: Double) -> Double? {
        guard count > 0 else { return nil }
        let rank = max(1, UInt64((percentile / 100 * Double(count)).rounded()))
        var seen: UInt64 = 0
        for value in counts.keys.sorted() {
            seen += counts[value] ?? 0
            if seen >= rank { return Double(value) / 1_000 }
        }
        return counts.keys.max().map { Double($0) / 1_000 }
    }
}
