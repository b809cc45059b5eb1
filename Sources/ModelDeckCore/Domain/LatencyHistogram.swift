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
        guard data.count % 16 == 0 else { throw ModelDeckError("latency histogram blob has \(data.count) bytes, not a multiple of 16") }
        var offset = data.startIndex
        while offset < data.endIndex {
            var value: UInt64 = 0, count: UInt64 = 0
            withUnsafeMutableBytes(of: &value) { $0.copyBytes(from: data[offset..<offset + 8]) }
            withUnsafeMutableBytes(of: &count) { $0.copyBytes(from: data[offset + 8..<offset + 16]) }
            record(microseconds: UInt64(littleEndian: value), count: UInt64(littleEndian: count))
            offset += 16
        }
    }
}
