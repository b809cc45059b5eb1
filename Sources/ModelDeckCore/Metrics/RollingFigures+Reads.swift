// What a refresh of the rolling windows reads, and what it could not keep exactly (`RollingFigures.refresh`).

extension RollingFigures {
    /// What a refresh must read, for windows moving from the last refresh's end to `now`.
    public struct Reads: Sendable {
        /// Buckets written after this sequence.
        public var after: Int64
        /// Buckets starting in `entering` (the windows' common end moved over them).
        public var entering: Range<Int64>
        /// Per window length, its start before and after: buckets that start between (`Moves.left`, `straddling`).
        public var starts: [(length: Int64, from: Int64, to: Int64)]
        /// Buckets starting here left the cost projection's window (`CostBurn.Bounds`).
        public var leavingProjection: Range<Int64>
    }

    /// The buckets a refresh read, as plain values.
    public struct Moves: Sendable {
        /// Buckets written since `Reads.after`, and the sequence they were read at.
        public var written: [StoredBucket] = []
        public var sequence: Int64 = 0
        /// Buckets starting in `Reads.entering`.
        public var entering: [StoredBucket] = []
        /// Per window length: the buckets that started at or after `from` and ended by `to` (they left without
        /// straddling the start: those that straddled it leave as kept), and those that started in [from, to) and
        /// still overlap (now straddle the start), with their sketches where the window has them.
        public var left: [Int64: [StoredBucket]] = [:]
        public var straddling: [Int64: [StoredBucket]] = [:]
        /// Buckets starting in `Reads.leavingProjection` (their costs only).
        public var leavingProjection: [StoredBucket] = []

        public init() {}
    }

    /// One endpoint version's minute of the sparkline.
    struct MinuteKey: Hashable, Sendable {
        var version: VersionKey
        var minute: Int64
    }

    /// What a refresh could not keep exactly and must read again.
    struct Rereads: Sendable {
        /// Endpoint versions to sum again from their buckets (`reload`).
        var figures = Set<VersionKey>()
        /// Endpoint versions whose costs to sum again, or whose earliest start in the projection to find again.
        var cost = Set<VersionKey>()
        var firstStarts = Set<VersionKey>()
        /// Every cost, at midnight UTC.
        var allCost = false
        /// Sparkline minutes the written buckets changed in a way `RollingSparkline.rewrite` cannot follow.
        var minutes = Set<MinuteKey>()
    }
}
