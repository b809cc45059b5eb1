import Foundation

/// What callers waited in a replay, counted exactly and put into a `LatencyHistogram` at the end. A trace's
/// durations are mostly whole milliseconds (and a cold start is), so most waits are counted by their
/// millisecond in a plain array, and the sketch computes each distinct value's bin once, instead of a
/// logarithm per request (a sixth of a replay's time). The sketch comes out the same: its bins are counts,
/// whatever order they are added in.
struct SimulatedLatencies {
    /// Waits of whole milliseconds below this are counted by the array (2 minutes, 1 MB).
    static let countedMilliseconds = 1 << 17
    private var byMillisecond = [UInt64](repeating: 0, count: countedMilliseconds)
    private var rest = LatencyHistogram()

    @inline(__always) mutating func record(microseconds: Int64) {
        let (milliseconds, remainder) = microseconds.quotientAndRemainder(dividingBy: 1_000)
        if remainder == 0, milliseconds >= 0, milliseconds < Self.countedMilliseconds {
            byMillisecond[Int(milliseconds)] += 1
        } else {
            rest.record(microseconds: UInt64(max(0, microseconds)))
        }
    }

    /// Every wait recorded, as the sketch.
    var histogram: LatencyHistogram {
        var histogram = rest
        for (milliseconds, count) in byMillisecond.enumerated() where count > 0 {
            histogram.record(microseconds: UInt64(milliseconds) * 1_000, count: count)
        }
        return histogram
    }
}
