/// Numbers from AWS answers, turned into whole numbers without trusting them.
///
/// `Int64(someDouble)` traps when the double is NaN, infinite or beyond ±9.2·10¹⁸, and an answer from a
/// misbehaving endpoint (or a hostile one, had the region been bent) can say `1e300`. Every count, duration
/// and weight read from AWS goes through here: a value that is not finite or not in `0...limit` is nil,
/// and the caller treats it as missing.
public enum AWSNumber {
    /// Far above any real count or millisecond figure of one period (10¹²), and far below what sums of
    /// them, times a memory size in MB, can hold in an Int64.
    public static let limit: Double = 1e12

    public static func whole(_ value: Double, limit: Double = limit,
                             rounding rule: FloatingPointRoundingRule = .toNearestOrAwayFromZero) -> Int64? {
        guard value.isFinite, value >= 0, value <= limit else { return nil }
        return Int64(value.rounded(rule))
    }
}
