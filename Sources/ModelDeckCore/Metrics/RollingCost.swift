import Foundation

/// Today's cost and the month's projection per endpoint version (`CostBurn.VersionSums`), kept from one
/// dashboard refresh to the next instead of summed again (issue #20: a day of buckets per endpoint version
/// was read at every refresh, 0.6 s of CPU at 10,000 endpoints with five minutes of traffic each, more
/// with a day of it). Part of `RollingFigures`, which reads what changed (`Registry.refresh`) and calls:
/// - `rewrite` for each bucket written since the last refresh, with its value before when it was young (the
///   recorder's rewrites): the difference is added. A bucket written again further back (a platform's
///   collector revising a minute, the rollup, which deletes the buckets it merges in the same transaction)
///   makes its endpoint version be summed again (`CostBurn.sums(_:bounds:endpoint:version:)`);
/// - `move` as time passes: the young buckets whose start `now` reached are added, those whose start left
///   the projection's 24 hours are taken out (a version whose earliest start left finds it again through
///   the primary key). At midnight UTC everything is summed again, once a day.
///
/// Buckets dropped by the retention (`MetricTiers`, at least a day) are older than both windows by then, so
/// nothing summed here is deleted without a write, except when the retention is exactly a day: a bucket
/// dropped in the second it leaves the projection is then not taken out until the next full read.
/// The figures are made from these sums by `CostBurn.burn`, as `CostBurn.load` makes them;
/// `RollingFiguresTests` compares the sums with `CostBurn.sums` after every step.
public struct RollingCost: Sendable {
    public private(set) var bounds: CostBurn.Bounds?
    /// By endpoint, by version: the versions with a bucket within `bounds`.
    public private(set) var sums: [String: [String: CostBurn.VersionSums]] = [:]

    public init() {}

    /// Starts again from a full read as of `now`.
    mutating func load(_ sums: [String: [String: CostBurn.VersionSums]], now: Int64) {
        self.sums = sums
        bounds = CostBurn.Bounds(now: now)
    }

    /// Sets one version's sums read again (nil: it has no bucket within the bounds).
    mutating func set(_ version: RollingFigures.VersionKey, _ sums: CostBurn.VersionSums?) {
        self.sums[version.endpoint, default: [:]][version.version] = sums
        if self.sums[version.endpoint]?.isEmpty == true { self.sums[version.endpoint] = nil }
    }

    /// Sets one version's earliest start in the projection's window, read again.
    mutating func setFirstStart(_ version: RollingFigures.VersionKey, _ start: Int64?) {
        sums[version.endpoint]?[version.version]?.firstStart = start
    }

    /// A bucket written since the last refresh: `before` is its value then when `known` (nil: there was
    /// none). False when the version must be summed again (its old value is not known).
    mutating func rewrite(_ bucket: StoredBucket, before: StoredBucket?, known: Bool) -> Bool {
        guard let bounds, bounds.counts(start: bucket.start) else { return true }
        guard known else { return false }
        change(bucket, by: 1, bounds: bounds)
        if let before { change(before, by: -1, bounds: bounds) }
        return true
    }

    /// Moves the bounds to `now`: `entering` holds every bucket (as it is now) that starts in (old now, now],
    /// `leaving` every bucket that starts in [old projection start, new projection start). Returns the
    /// versions whose earliest start left (the caller reads it again), or nil when the day changed and every
    /// sum must be read again.
    mutating func move(to now: Int64, entering: [StoredBucket], leaving: [StoredBucket]) -> Set<RollingFigures.VersionKey>? {
        guard let old = bounds, now >= old.now else { return nil }
        let new = CostBurn.Bounds(now: now)
        guard new.dayStart == old.dayStart else { return nil }
        var firstsLost = Set<RollingFigures.VersionKey>()
        for bucket in leaving where old.counts(start: bucket.start) && bucket.start < new.projectionStart {
            change(bucket, by: -1, bounds: old)
            let key = RollingFigures.VersionKey(endpoint: bucket.endpoint, version: bucket.version)
            if let sum = sums[bucket.endpoint]?[bucket.version], sum.firstStart == bucket.start { firstsLost.insert(key) }
        }
        bounds = new
        for bucket in entering where bucket.start > old.now && new.counts(start: bucket.start) { change(bucket, by: 1, bounds: new) }
        return firstsLost.filter { sums[$0.endpoint]?[$0.version] != nil }
    }

    private mutating func change(_ bucket: StoredBucket, by sign: Int64, bounds: CostBurn.Bounds) {
        var sum = sums[bucket.endpoint]?[bucket.version] ?? CostBurn.VersionSums()
        sum.add(start: bucket.start, traffic: bucket.costMicros, warm: bucket.warmupCostMicros, bounds: bounds, sign: sign)
        set(.init(endpoint: bucket.endpoint, version: bucket.version), sum.buckets > 0 ? sum : nil)
    }
}
