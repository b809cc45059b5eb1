import Foundation

/// The worst p99 of each of the last `Fleet.sparklineMinutes` minutes per endpoint (the dashboard's
/// sparkline), kept per endpoint version and minute from one refresh to the next (issue #20: the 30 minutes
/// were grouped afresh at every refresh); minutes that fall out of the 30 are dropped. A stored bucket's
/// p99 is fixed when it is written, so a minute changes only when one of its buckets is written (the
/// rollup's deletions come with the write of the minute's merged bucket). Each minute keeps which bucket
/// holds its worst p99, so a recorder's write (`rewrite`) changes it without reading the minute again
/// (issue #20: a query per written bucket was a fifth of a refresh): the others' worst is the minute's
/// unless the written bucket held it. Only when it held it and its p99 went down, or for a wider bucket
/// (the rollup's, a platform's, which may come with deletions), is the minute read again through the
/// primary key (`Registry.refresh`).
/// Minutes after now are kept too: a bucket stamped ahead of now shows once now reaches its minute, as a
/// full read shows it.
public struct RollingSparkline: Sendable {
    /// One minute's worst p99 (a bucket's stored `p99_ms`, over buckets with requests), kept as the start of
    /// the bucket that holds it (one of them, on a tie): the minute is that start's.
    public struct Point: Equatable, Sendable {
        public var start: Int64
        public var p99: Double

        public var minute: Int64 { Self.minute(ofBucketAt: start) }

        public init(start: Int64, p99: Double) {
            self.start = start
            self.p99 = p99
        }

        static func minute(ofBucketAt start: Int64) -> Int64 { start / 60 * 60 }
    }

    /// The first minute shown at `now`: the sparkline ends with the minute `now` is in.
    public static func from(now: Int64) -> Int64 { (now / 60 - Int64(Fleet.sparklineMinutes) + 1) * 60 }

    public private(set) var from: Int64?
    /// Per endpoint version, its minutes from `from` on, in order.
    public private(set) var points: [RollingFigures.VersionKey: [Point]] = [:]

    public init() {}

    /// Starts again from a full read (`Registry.minuteP99s`) as of `now`.
    public init(_ points: [RollingFigures.VersionKey: [Point]], now: Int64) {
        from = Self.from(now: now)
        self.points = points.mapValues { $0.sorted { $0.minute < $1.minute } }
    }

    /// `lines()` as last made (for `madeFrom`), and the endpoints whose points changed since.
    private var made: [String: [Double?]] = [:]
    private var madeFrom: Int64?
    private var changed = Set<String>()

    /// Sets one version's minute (nil: no bucket with requests and a p99 in it).
    mutating func set(_ version: RollingFigures.VersionKey, minute: Int64, point: Point?) {
        changed.insert(version.endpoint)
        // Taken out and changed in place: left in the table, the list would be copied by the first change.
        var list = points.removeValue(forKey: version) ?? []
        list.removeAll { $0.minute == minute }
        if let point {
            list.insert(point, at: list.firstIndex { $0.minute > minute } ?? list.endIndex)
        }
        if !list.isEmpty { points[version] = list }
    }

    /// Takes in a bucket written again or anew (`bucket.p99Milliseconds` read with it) in the minute `minute`
    /// of its version. False when the minute must be read again instead: the bucket may have held the
    /// minute's worst p99 and its own went down or away, or it is wider than the recorder's
    /// (`MetricRollup.fineWidth`: the rollup's, a platform's, which may come with deletions).
    mutating func rewrite(_ version: RollingFigures.VersionKey, minute: Int64, bucket: StoredBucket) -> Bool {
        guard bucket.width <= MetricRollup.fineWidth else { return false }
        let p99 = bucket.requests > 0 ? bucket.p99Milliseconds : nil
        let worst = points[version]?.first { $0.minute == minute }
        // Whether the written bucket may be the one that held the minute's worst (a wider one may start there too).
        let held = worst?.start == bucket.start
        guard let p99 else { return !held }
        if let worst, held ? p99 < worst.p99 : p99 <= worst.p99 { return !held }
        // The others' worst is at most the minute's as it was: this one's is the minute's worst now.
        set(version, minute: minute, point: Point(start: bucket.start, p99: p99))
        return true
    }

    /// Drops the minutes before the first shown at `now`.
    mutating func move(to now: Int64) {
        let first = Self.from(now: now)
        from = first
        guard points.values.contains(where: { ($0.first?.minute ?? first) < first }) else { return }
        points = points.compactMapValues { list in
            let kept = list.drop { $0.minute < first }
            return kept.isEmpty ? nil : Array(kept)
        }
    }

    /// The minutes a written bucket starting at `start` may change: its own, if shown from now on.
    func minute(ofBucketAt start: Int64) -> Int64? {
        guard let from, start >= from else { return nil }
        return Point.minute(ofBucketAt: start)
    }

    /// Each endpoint's sparkline: the worst p99 of its versions in each shown minute, oldest first, nil where
    /// idle; endpoints without a point (from the first shown minute on, later ones included) are left out.
    public func lines() -> [String: [Double?]] {
        guard let from else { return [:] }
        var result: [String: [Double?]] = [:]
        for (version, list) in points where !list.isEmpty { Self.draw(list, into: &result[version.endpoint], from: from) }
        return result
    }

    /// `lines()`, made again only for the endpoints whose points changed since the last call (for every
    /// endpoint when the first minute shown moved, once a minute): the dashboard asks at every refresh, and
    /// 10,000 lines made afresh each time were 10,000 arrays.
    public mutating func currentLines() -> [String: [Double?]] {
        guard let from else { return [:] }
        if madeFrom != from {
            made = lines()
        } else if !changed.isEmpty {
            for endpoint in changed { made[endpoint] = nil }
            for (version, list) in points where !list.isEmpty && changed.contains(version.endpoint) {
                Self.draw(list, into: &made[version.endpoint], from: from)
            }
        }
        madeFrom = from
        changed = []
        return made
    }

    /// Adds one version's points to its endpoint's line (the worst p99 of each minute), made when nil.
    private static func draw(_ list: [Point], into line: inout [Double?]?, from: Int64) {
        if line == nil { line = Array(repeating: nil, count: Fleet.sparklineMinutes) }
        for point in list {
            let index = Int((point.minute - from) / 60)
            guard index >= 0, index < Fleet.sparklineMinutes else { continue }
            line![index] = max(line![index] ?? 0, point.p99)
        }
    }
}
