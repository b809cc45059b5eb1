import Foundation

/// Latency percentiles over many stored histograms at once: the dashboard's and the detail view's sum of
/// the buckets it shows. Kept as its own type so those callers read encoded blobs straight in; since the
/// sketch merges exactly and decodes in microseconds, it is a `LatencyHistogram` underneath.
public struct LatencyPairs: Sendable {
    private var histogram = LatencyHistogram()

    public init() {}

    public var count: UInt64 { histogram.count }

    /// The sketch's schema (`LatencyHistogram.schema`).
    public var schema: Int { histogram.schema }

    /// Adds the requests of one encoded histogram (`LatencyHistogram.encoded()`).
    public mutating func add(encoded data: Data) throws {
        try histogram.add(encoded: data)
    }

    /// Takes the requests of one encoded histogram back out (`LatencyHistogram.subtract(encoded:)`).
    public mutating func subtract(encoded data: Data) throws {
        try histogram.subtract(encoded: data)
    }

    /// Adds the requests of `other`.
    public mutating func add(_ other: LatencyPairs) {
        histogram.add(other.histogram)
    }

    /// These requests less `part` (a subset of them, e.g. the cold starts of all requests).
    public func subtracting(_ part: LatencyPairs) -> LatencyPairs {
        var result = LatencyPairs()
        result.histogram = histogram.subtracting(part.histogram)
        return result
    }

    /// Requests whose latency fell in `range` (microseconds).
    public func count(microseconds range: ClosedRange<UInt64>) -> UInt64 { histogram.count(microseconds: range) }

    /// The latency at `percentile` (0–100) in milliseconds; nil when empty.
    public func milliseconds(atPercentile percentile: Double) -> Double? { histogram.milliseconds(atPercentile: percentile) }

    /// The latencies at `percentiles` (0–100, any order), from one walk of the bins; nil each when empty.
    public func milliseconds(atPercentiles percentiles: [Double]) -> [Double?] { histogram.milliseconds(atPercentiles: percentiles) }
}
