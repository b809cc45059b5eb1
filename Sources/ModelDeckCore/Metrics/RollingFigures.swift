import Foundation

/// The dashboard's live figures over windows that end now (the last minute, the last five), kept up to date
/// from one refresh to the next instead of read again (issue #20: at 10,000 endpoints five minutes of
/// 10-second buckets are 300,000 rows, which no refresh can read in 50 ms).
///
/// Per window and endpoint version it keeps the buckets that overlap the window summed whole
/// (`LiveFigures.Sums`: counts, costs, merged sketches), the amounts of those entirely inside it, and the few
/// straddling its start, whose share of the window changes with every refresh. A refresh
/// (`Registry.refresh(_:now:)`) then reads only:
/// - the buckets written since the last refresh (`BucketWriteSequence`); a bucket written again is taken out
///   as it was and added as it is. The old value is known for the buckets that started in the last
///   `youngSeconds` (kept here: the recorder writes only those); a bucket written again further back (a
///   platform's collector revising its figures, the rollup) makes its endpoint version be summed again from
///   its buckets;
/// - the buckets that entered a window or came to straddle its start as it moved. A straddler is kept as it
///   was added and leaves as kept; only a bucket that left without straddling first (a refresh that moved by
///   its width or more) is read.
///
/// A sum that cannot be taken from exactly (a sketch coarser than the finest) is summed again from the buckets
/// too; the maximum in flight is kept exactly by a tally of the buckets' maxima (`InFlightTally`). The figures
/// themselves are made by `LiveFigures.Builder.figures`, the one computation behind every view, so they are
/// those a full read of the window gives: `RollingFiguresTests` checks that after every step of random writes
/// and refreshes.
public struct RollingFigures: Sendable {
    /// Buckets that start this close to the end of the last refresh are kept whole, so that one written
    /// again can be taken out as it was.
    public static let youngSeconds: Int64 = 30

    public struct VersionKey: Hashable, Sendable {
        public var endpoint: String
        public var version: String
    }

    /// A bucket that starts before its window: its amounts count pro rata, and it is kept as it was added
    /// (without its sketches in a counts-only window) so that it leaves without being read again.
    struct Straddler: Sendable {
        var bucket: StoredBucket
        var amounts: LiveFigures.Amounts
        var start: Int64 { bucket.start }
        var width: Int64 { bucket.width }
        var end: Int64 { bucket.start + bucket.width }

        init(_ bucket: StoredBucket, histograms: Bool) {
            self.bucket = bucket
            if !histograms { (self.bucket.latency, self.bucket.coldLatency, self.bucket.probeLatency) = (nil, nil, nil) }
            amounts = RollingFigures.amounts(bucket)
        }
    }

    /// One endpoint version over one window.
    struct Entry: Sendable {
        var sums: LiveFigures.Sums
        var inside = LiveFigures.Amounts()
        var straddlers: [Straddler] = []
        var percentiles: LiveFigures.Sums.Percentiles?
        var inFlight = InFlightTally()
        /// How many buckets it holds: a version is shown while one of its buckets overlaps the window.
        var buckets = 0

        init(histograms: Bool) { sums = LiveFigures.Sums(histograms: histograms) }

        var isEmpty: Bool { buckets == 0 }
    }

    /// The window lengths kept, in seconds.
    public let lengths: [Int64]
    /// The lengths whose figures need no latency (counts, costs and rates only: cold starts over the hour).
    public let countsOnly: Set<Int64>
    /// The end of the windows as of the last refresh, and the write sequence read with it.
    public private(set) var end: Int64?
    public private(set) var sequence: Int64 = 0
    /// The endpoints kept, each at a slot until the next full load (a name and its place in the table: an
    /// endpoint gone from the catalog keeps them, not its entries): a window's entries are an array by slot,
    /// so that a refresh and the rows reach an endpoint's by position, not by hashing its name into a table of
    /// 10,000 for every window at every refresh (issue #20: the look-ups were a sixth of a refresh).
    var slots: [String: Int] = [:]
    var slotNames: [String] = []
    /// Per window (in the order of `lengths`), per slot, per version. An endpoint with no entry in a window
    /// has no version there.
    var windows: [[Versions]]
    /// Per window, whether its entries merge sketches (not `countsOnly`).
    private let histograms: [Bool]
    /// The slots of the names the figures were last asked for (`each`), until a slot is made or the windows
    /// are loaded again.
    var named: Named?
    /// Every bucket that starts at or after `end - youngSeconds` (as of `sequence`), by start: a refresh
    /// ages out and reaches whole starts, without going through every young bucket.
    private var young: [Int64: [MetricBucket.Key: StoredBucket]] = [:]
    /// Per window, the endpoint versions with a straddler, by the straddler's end: when the window's start
    /// passes that end, the straddler leaves as kept, not read again. A version may be listed twice, or after
    /// its entry was made again (`reload`) or dropped (`removeEmpty`): taking out what ended by the start
    /// twice takes nothing the second time, and a version with no entry is passed over.
    private var straddling: [[Int64: [SlotVersion]]]
    /// Today's cost and the month's projection per endpoint version, and the sparkline's minutes, kept the same way.
    public internal(set) var cost = RollingCost()
    public internal(set) var sparkline = RollingSparkline()
    /// Not figures, but kept with them: the endpoint tables the rows are made of, until the catalog or a
    /// deployment moves (`FleetCatalog`).
    public internal(set) var catalog: FleetCatalog?

    /// The dashboard's: the last five minutes (`Fleet.recentSeconds`) and, counts only, the last minute (its
    /// request rate) and the hour (its cold starts). A latency sketch is a dense array of bins (about 4 KB
    /// for 2–400 ms), so a window without them halves what 10,000 endpoints keep.
    public static var dashboard: RollingFigures {
        RollingFigures(lengths: [60, Fleet.recentSeconds, 3_600], countsOnly: [60, 3_600])
    }

    public init(lengths: [Int64], countsOnly: Set<Int64> = []) {
        precondition(!lengths.isEmpty && lengths.allSatisfy { $0 > Self.youngSeconds }, "windows are longer than the young buckets")
        self.lengths = lengths.sorted()
        self.countsOnly = countsOnly
        histograms = self.lengths.map { !countsOnly.contains($0) }
        windows = Array(repeating: [], count: lengths.count)
        straddling = Array(repeating: [:], count: lengths.count)
    }

    /// The longest window kept.
    public var longest: Int64 { lengths.last ?? 0 }

    static func key(_ bucket: StoredBucket) -> MetricBucket.Key {
        MetricBucket.Key(endpoint: bucket.endpoint, version: bucket.version, start: bucket.start, width: bucket.width)
    }

    // MARK: Loading

    /// Starts again from `buckets`: every bucket that ends after `now - longest` (future ones included),
    /// as of write sequence `sequence`.
    public mutating func load(_ buckets: some Sequence<StoredBucket>, now: Int64, sequence: Int64) throws {
        reset(now: now, sequence: sequence)
        for bucket in buckets { try place(bucket) }
    }

    /// Forgets every bucket: windows ending at `now`, as of write sequence `sequence`; `place` adds them.
    mutating func reset(now: Int64, sequence: Int64) {
        slots = [:]
        slotNames = []
        named = nil
        windows = Array(repeating: [], count: lengths.count)
        young = [:]
        straddling = Array(repeating: [:], count: lengths.count)
        end = now
        self.sequence = sequence
    }

    /// Sums one endpoint version again from `buckets` (all of its buckets that end after `now - longest`),
    /// for the versions `refresh` could not keep exactly.
    mutating func reload(_ version: VersionKey, from buckets: [StoredBucket]) throws {
        if let slot = slots[version.endpoint] {
            for window in windows.indices { windows[window][slot].remove(version.version) }
        }
        for start in Array(young.keys) {
            young[start] = young[start]?.filter { $0.key.endpoint != version.endpoint || $0.key.version != version.version }
        }
        for bucket in buckets { try place(bucket) }
    }

    /// Adds a bucket read whole to every window it overlaps, and to the young ones.
    mutating func place(_ bucket: StoredBucket) throws {
        guard let end else { return }
        if bucket.start >= end - Self.youngSeconds { young[bucket.start, default: [:]][Self.key(bucket)] = bucket }
        var slot: Int?
        for (window, length) in lengths.enumerated() where Self.overlaps(bucket, start: end - length, end: end) {
            let found = slot ?? self.slot(bucket.endpoint)
            slot = found
            try add(bucket, window: window, slot: found, windowStart: end - length)
        }
    }

    /// The slot of `endpoint`, made when it has none.
    private mutating func slot(_ endpoint: String) -> Int {
        if let slot = slots[endpoint] { return slot }
        let slot = slotNames.count
        slots[endpoint] = slot
        slotNames.append(endpoint)
        for window in windows.indices { windows[window].append(Versions()) }
        named = nil
        return slot
    }

    static func overlaps(_ bucket: StoredBucket, start: Int64, end: Int64) -> Bool {
        bucket.start < end && bucket.start + bucket.width > start
    }

    private mutating func add(_ bucket: StoredBucket, window: Int, slot: Int, windowStart: Int64) throws {
        let histograms = histograms[window]
        try windows[window][slot].update(bucket.version, making: { Entry(histograms: histograms) }) { try $0.add(bucket, windowStart: windowStart) }
        if bucket.start < windowStart { straddles(bucket, window: window, slot: slot) }
    }

    private mutating func straddles(_ bucket: StoredBucket, window: Int, slot: Int) {
        straddling[window][bucket.start + bucket.width, default: []].append(SlotVersion(slot: slot, version: bucket.version))
    }

    /// An endpoint version by its endpoint's slot.
    struct SlotVersion: Sendable {
        var slot: Int
        var version: String
    }

    /// Whether `version` is among `lost`, without hashing it when none is (most refreshes).
    private static func among(_ lost: Set<VersionKey>, _ version: @autoclosure () -> VersionKey) -> Bool {
        !lost.isEmpty && lost.contains(version())
    }

    // MARK: Refreshing

    /// What `refresh` must read to move to `now`; nil when it must load again instead (nothing loaded yet,
    /// time went back, or the windows moved past themselves).
    public func reads(now: Int64) -> Reads? {
        guard let end, now >= end, now - end < lengths[0], now - end < Self.youngSeconds else { return nil }
        return Reads(after: sequence, entering: end..<now, starts: lengths.map { ($0, end - $0, now - $0) },
                     leavingProjection: CostBurn.Bounds(now: end).projectionStart..<CostBurn.Bounds(now: now).projectionStart)
    }

    /// Moves the windows to `now` with what `reads(now:)` asked for. Returns what could not be kept exactly:
    /// the caller reads it again (`Registry.refresh`: the endpoint versions' buckets through `reload`, costs
    /// and sparkline minutes through their own reads).
    mutating func refresh(_ moves: Moves, now: Int64) -> Rereads {
        guard let oldEnd = end else { return Rereads() }
        var rereads = Rereads()
        var lost = Set<VersionKey>()
        let youngFrom = oldEnd - Self.youngSeconds
        // Buckets written again or anew, against the windows as they were.
        for bucket in moves.written {
            let version = VersionKey(endpoint: bucket.endpoint, version: bucket.version)
            let key = Self.key(bucket)
            let before = young[bucket.start]?[key]
            if bucket.start >= youngFrom { young[bucket.start, default: [:]][key] = bucket }
            if !cost.rewrite(bucket, before: before, known: bucket.start >= youngFrom) { rereads.cost.insert(version) }
            if let minute = sparkline.minute(ofBucketAt: bucket.start), !sparkline.rewrite(version, minute: minute, bucket: bucket) {
                rereads.minutes.insert(MinuteKey(version: version, minute: minute))
            }
            guard !Self.among(lost, version) else { continue }
            var slot: Int?
            for (window, length) in lengths.enumerated() where Self.overlaps(bucket, start: oldEnd - length, end: oldEnd) {
                if bucket.start < youngFrom {
                    lost.insert(version)  // its old value is not kept
                    break
                }
                // In place: a copy of the entry would copy its sketch at the first change (4 KB per written bucket).
                // One that fails is left as it is: its version is summed again (`reload` clears it first).
                let histograms = histograms[window], found = slot ?? self.slot(version.endpoint)
                slot = found
                let rewritten = windows[window][found]
                    .update(version.version, making: { Entry(histograms: histograms) }) { $0.rewrite(before, as: bucket, windowStart: oldEnd - length) }
                guard rewritten == true else {
                    lost.insert(version)
                    break
                }
            }
        }
        // The windows move: buckets leave, come to straddle the start, or enter at the end.
        for (window, length) in lengths.enumerated() {
            let (oldStart, newStart) = (oldEnd - length, now - length)
            // The straddlers that left, as kept; then the buckets that left without straddling the start first.
            for end in straddling[window].keys.filter({ $0 <= newStart }) {
                for key in straddling[window].removeValue(forKey: end) ?? [] {
                    guard !Self.among(lost, VersionKey(endpoint: slotNames[key.slot], version: key.version)) else { continue }
                    if windows[window][key.slot].update(key.version, { $0.removeStraddlers(endingBy: newStart) }) == false {
                        lost.insert(VersionKey(endpoint: slotNames[key.slot], version: key.version))
                    }
                }
            }
            for bucket in moves.left[length] ?? [] where Self.overlaps(bucket, start: oldStart, end: oldEnd) {
                let version = VersionKey(endpoint: bucket.endpoint, version: bucket.version)
                guard !Self.among(lost, version) else { continue }
                guard let slot = slots[bucket.endpoint], windows[window][slot].update(bucket.version, { $0.remove(bucket, windowStart: oldStart) }) == true else {
                    lost.insert(version)
                    continue
                }
            }
            for bucket in moves.straddling[length] ?? [] where bucket.start < oldEnd && bucket.start >= oldStart && bucket.start + bucket.width > newStart {
                guard !Self.among(lost, VersionKey(endpoint: bucket.endpoint, version: bucket.version)) else { continue }
                guard let slot = slots[bucket.endpoint], windows[window][slot].update(bucket.version, { $0.straddle(bucket) }) != nil else {
                    lost.insert(VersionKey(endpoint: bucket.endpoint, version: bucket.version))
                    continue
                }
                straddles(bucket, window: window, slot: slot)
            }
            for bucket in moves.entering where bucket.start + bucket.width > newStart {
                guard !Self.among(lost, VersionKey(endpoint: bucket.endpoint, version: bucket.version)) else { continue }
                do {
                    try add(bucket, window: window, slot: self.slot(bucket.endpoint), windowStart: newStart)
                } catch {
                    lost.insert(VersionKey(endpoint: bucket.endpoint, version: bucket.version))
                }
            }
        }
        // Today's cost: the young buckets whose start now reached (as written), and those that left the projection.
        var reached: [StoredBucket] = []
        for (start, buckets) in young where start > oldEnd && start <= now { reached += buckets.values }
        if let firsts = cost.move(to: now, entering: reached, leaving: moves.leavingProjection) {
            rereads.firstStarts = firsts
        } else {
            rereads.allCost = true
        }
        sparkline.move(to: now)
        end = now
        sequence = moves.sequence
        rereads.figures = lost
        let youngNow = now - Self.youngSeconds
        // In place: the starts that aged out, not a new table of every young bucket at every refresh.
        for start in young.keys.filter({ $0 < youngNow }) { young.removeValue(forKey: start) }
        for bucket in moves.entering where bucket.start >= youngNow { young[bucket.start, default: [:]][Self.key(bucket)] = bucket }
        return rereads
    }

    static func amounts(_ bucket: StoredBucket) -> LiveFigures.Amounts {
        var amounts = LiveFigures.Amounts()
        amounts.add(bucket)
        return amounts
    }
}
