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
    /// Per slot, every bucket of its endpoint that starts at or after `end - youngSeconds` (as of `sequence`),
    /// by start: a short list (three or four 10-second buckets per endpoint version), not a table of every
    /// young bucket by key per start. Those tables were 16 MB at 10,000 endpoints (`heaptrack`: a third of every
    /// slot empty, and the key's two names and bounds beside each bucket, issue #20).
    private var young: [[StoredBucket]] = []
    /// The starts of the young buckets (and maybe some that left): a refresh goes through the slots only when
    /// one of them ages out or is reached.
    private var youngStarts = Set<Int64>()
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
    /// request rate) and the hour (its cold starts). A latency sketch is a dense array of bins (530 for 2–400 ms,
    /// 1 to 8 bytes each), so the windows without them keep none.
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
        young = []
        youngStarts = []
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
        if let slot = slots[version.endpoint] {
            young[slot].removeAll { $0.version == version.version }
            if young[slot].isEmpty { young[slot] = [] }  // its storage too
        }
        for bucket in buckets { try place(bucket) }
    }

    /// Adds a bucket read whole to every window it overlaps, and to the young ones.
    mutating func place(_ bucket: StoredBucket) throws {
        guard let end else { return }
        var slot: Int?
        if bucket.start >= end - Self.youngSeconds {
            let found = self.slot(bucket.endpoint)
            slot = found
            keepYoung(bucket, slot: found)
        }
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
        young.append([])
        for window in windows.indices { windows[window].append(Versions()) }
        named = nil
        return slot
    }

    /// Where the young bucket with `bucket`'s version, start and width is in its slot's list, if kept.
    private func youngIndex(like bucket: StoredBucket, slot: Int) -> Int? {
        Self.youngIndex(in: young[slot]) { $0.start == bucket.start && $0.width == bucket.width && $0.version == bucket.version }
    }

    /// The first position in `list` whose bucket passes `test`, each bucket read where it lies: `firstIndex`
    /// and `first(where:)` hand each one over as a copy (five retains and releases), and the walks of every
    /// endpoint's list cost 6 ms at 10,000 endpoints that way (issue #20).
    private static func youngIndex(in list: [StoredBucket], where test: (borrowing StoredBucket) -> Bool) -> Int? {
        list.withUnsafeBufferPointer { buffer in
            var index = 0
            while index < buffer.count {
                if test(buffer[index]) { return index }
                index += 1
            }
            return nil
        }
    }

    /// Keeps `bucket` as young, in place of the one it was, or among the others by start.
    private mutating func keepYoung(_ bucket: StoredBucket, slot: Int) {
        youngStarts.insert(bucket.start)
        if let index = youngIndex(like: bucket, slot: slot) {
            young[slot][index] = bucket
        } else {
            // Grown by one, not doubled: four buckets of 200 bytes would take room for eight (15 MB at 10,000).
            if young[slot].count == young[slot].capacity { young[slot].reserveCapacity(young[slot].count + 1) }
            young[slot].insert(bucket, at: Self.youngIndex(in: young[slot], where: { $0.start > bucket.start }) ?? young[slot].endIndex)
        }
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
            var slot = slots[bucket.endpoint]
            let before = slot.flatMap { slot in youngIndex(like: bucket, slot: slot).map { young[slot][$0] } }
            if bucket.start >= youngFrom {
                let found = slot ?? self.slot(bucket.endpoint)
                slot = found
                keepYoung(bucket, slot: found)
            }
            if !cost.rewrite(bucket, before: before, known: bucket.start >= youngFrom) { rereads.cost.insert(version) }
            if let minute = sparkline.minute(ofBucketAt: bucket.start), !sparkline.rewrite(version, minute: minute, bucket: bucket) {
                rereads.minutes.insert(MinuteKey(version: version, minute: minute))
            }
            guard !Self.among(lost, version) else { continue }
            for (window, length) in lengths.enumerated() where Self.overlaps(bucket, start: oldEnd - length, end: oldEnd) {
                if bucket.start < youngFrom {
                    lost.insert(version)  // its old value is not kept
                    break
                }
                // In place: a copy of the entry would copy its sketch at the first change (every bin, per written bucket).
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
        if youngStarts.contains(where: { $0 > oldEnd && $0 <= now }) {
            for list in young {
                // The list is by start: from the first reached, until one is past now.
                guard var index = Self.youngIndex(in: list, where: { $0.start > oldEnd }) else { continue }
                while index < list.count, list[index].start <= now {
                    reached.append(list[index])
                    index += 1
                }
            }
        }
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
        // In place, and only when a start aged out (once per bucket width), not a new list at every refresh.
        if youngStarts.contains(where: { $0 < youngNow }) {
            // The oldest first in each list: those that aged out are taken off its front (moved, not copied).
            // A list left empty gives its storage back (an endpoint with no traffic now).
            for slot in young.indices where !young[slot].isEmpty && young[slot][0].start < youngNow {
                if let kept = Self.youngIndex(in: young[slot], where: { $0.start >= youngNow }) {
                    young[slot].removeFirst(kept)
                } else {
                    young[slot] = []
                }
            }
            youngStarts = youngStarts.filter { $0 >= youngNow }
        }
        for bucket in moves.entering where bucket.start >= youngNow { keepYoung(bucket, slot: slot(bucket.endpoint)) }
        return rereads
    }

    static func amounts(_ bucket: StoredBucket) -> LiveFigures.Amounts {
        var amounts = LiveFigures.Amounts()
        amounts.add(bucket)
        return amounts
    }
}
