import Foundation

extension RollingFigures.Entry {
    /// Adds a bucket overlapping the window that starts at `windowStart`.
    mutating func add(_ bucket: StoredBucket, windowStart: Int64) throws {
        try sums.add(bucket)
        inFlight.add(bucket.maxInFlight)
        percentiles = nil
        buckets += 1
        if bucket.start < windowStart {
            straddlers.append(.init(bucket, histograms: sums.histograms))
        } else {
            inside.add(bucket)
        }
    }

    /// Takes out a bucket added before (as it was then) that lies inside the window starting at `windowStart`.
    /// False when that cannot be exact. A straddler never comes here: it leaves as kept (`removeStraddlers`),
    /// and one written again is older than the young buckets, so its version is summed again.
    mutating func remove(_ bucket: StoredBucket, windowStart: Int64) -> Bool {
        guard bucket.start >= windowStart, subtract(bucket) else { return false }
        inside.subtract(bucket)
        return true
    }

    /// Takes out the straddlers that end by `end` (they left the window), as they were kept. False when that
    /// cannot be exact.
    mutating func removeStraddlers(endingBy end: Int64) -> Bool {
        var index = straddlers.startIndex
        while index < straddlers.endIndex {
            guard straddlers[index].end <= end else {
                index += 1
                continue
            }
            guard subtract(straddlers[index].bucket) else { return false }
            straddlers.remove(at: index)
        }
        return true
    }

    /// Takes `bucket`'s counts, costs, sketches and maximum out of the sums.
    private mutating func subtract(_ bucket: StoredBucket) -> Bool {
        guard buckets > 0, inFlight.remove(bucket.maxInFlight), sums.subtract(bucket, maxInFlight: inFlight.maximum) else { return false }
        percentiles = nil
        buckets -= 1
        return true
    }

    /// Takes out a bucket as it was (`before`, nil when new) and adds it as it is now. False when that cannot
    /// be exact.
    mutating func rewrite(_ before: StoredBucket?, as bucket: StoredBucket, windowStart: Int64) -> Bool {
        if let before, !remove(before, windowStart: windowStart) { return false }
        do { try add(bucket, windowStart: windowStart) } catch { return false }
        return true
    }

    /// A bucket counted whole that now straddles the window's start: its amounts are counted pro rata from now
    /// on. `bucket` is as it was added, with its sketches when the window has them (it leaves as kept).
    mutating func straddle(_ bucket: StoredBucket) {
        inside.subtract(bucket)
        straddlers.append(.init(bucket, histograms: sums.histograms))
    }

    /// Its figures over `window`, and its straddlers' amounts pro rata (what its endpoint's total adds up);
    /// its percentiles are made once and kept until its sums change.
    mutating func figures(_ window: LiveWindow) -> (figures: LiveFigures, rates: LiveFigures.Rates) {
        if percentiles == nil { percentiles = sums.percentiles() }
        let rates = rates(window)
        return (LiveFigures.Builder.figures(window: window, sums: sums, inside: inside, partial: rates, percentiles: percentiles), rates)
    }

    /// The straddlers' amounts pro rata of their share of `window`, oldest first.
    func rates(_ window: LiveWindow) -> LiveFigures.Rates {
        var rates = LiveFigures.Rates()
        // Most entries have one straddler (10-second buckets): no sorted copy to make.
        if straddlers.count <= 1 {
            for straddler in straddlers { rates.add(straddler.amounts, share: window.share(ofBucketAt: straddler.start, width: straddler.width)) }
            return rates
        }
        for straddler in straddlers.sorted(by: { ($0.start, $0.width) < ($1.start, $1.width) }) {
            rates.add(straddler.amounts, share: window.share(ofBucketAt: straddler.start, width: straddler.width))
        }
        return rates
    }
}

extension RollingFigures {
    /// One endpoint's entries over one window, by version: a short list searched in order, not a table. Most
    /// endpoints have one version, a few two or three; a one-entry Swift dictionary has two slots, and the
    /// empty one cost 424 bytes per endpoint and window (issue #20: 12.7 MB at 10,000 endpoints).
    /// Entries are changed in place (`update`): a copy would copy its sketch at the first change.
    struct Versions: Sendable {
        /// A struct, not a tuple: reading a tuple's version out of the array copied the whole tuple, entry and
        /// all (a retain of each of its arrays), for every endpoint at every refresh.
        struct Item: Sendable {
            let version: String
            var entry: Entry
        }
        private var list: [Item] = []

        var count: Int { list.count }
        var isEmpty: Bool { list.isEmpty }
        /// Whether one of its entries has no bucket left in the window.
        var hasEmpty: Bool { list.contains { $0.entry.isEmpty } }

        /// `body` on the entry of `version`, made by `make` first when there is none (nil: then none is made,
        /// and neither is `body` run).
        @discardableResult
        mutating func update<Result>(_ version: String, making make: () -> Entry? = { nil },
                                     _ body: (inout Entry) throws -> Result) rethrows -> Result? {
            if let index = list.firstIndex(where: { $0.version == version }) { return try body(&list[index].entry) }
            guard let made = make() else { return nil }
            list.append(Item(version: version, entry: made))
            return try body(&list[list.count - 1].entry)
        }

        /// `body` on each entry in order, with its version, in place: handing an entry out by value copies it
        /// (a retain of each of its arrays).
        mutating func updateEach(_ body: (String, inout Entry) throws -> Void) rethrows {
            for index in list.indices { try body(list[index].version, &list[index].entry) }
        }

        /// `body` on each entry in order, in place.
        mutating func updateEach(_ body: (inout Entry) throws -> Void) rethrows {
            try updateEach { _, entry in try body(&entry) }
        }

        mutating func remove(_ version: String) { list.removeAll { $0.version == version } }

        /// Drops the entries with no bucket left in the window.
        mutating func removeEmpty() { list.removeAll { $0.entry.isEmpty } }
    }
}

extension RollingFigures {
    /// The maxima in flight of an entry's buckets, as a count per value, so that the largest one left is known
    /// when a bucket leaves: the recorder writes one with every bucket that had requests, and the bucket that
    /// held the window's maximum leaves it at every bucket edge (issue #20: without the tally, each such
    /// endpoint version was summed again from its buckets, and an edge refresh at 10,000 endpoints took 38 s).
    /// A short list sorted by value (a few values per window), without the zeros.
    struct InFlightTally: Sendable {
        private var counts: [(value: Int64, count: Int64)] = []

        /// The largest value counted, 0 with none.
        var maximum: Int64 { counts.last?.value ?? 0 }

        mutating func add(_ value: Int64) {
            guard value > 0 else { return }
            let index = counts.firstIndex { $0.value >= value } ?? counts.endIndex
            if index < counts.endIndex, counts[index].value == value {
                counts[index].count += 1
            } else {
                counts.insert((value, 1), at: index)
            }
        }

        /// Takes one `value` out; false when none was counted.
        mutating func remove(_ value: Int64) -> Bool {
            guard value > 0 else { return true }
            guard let index = counts.firstIndex(where: { $0.value == value }) else { return false }
            counts[index].count -= 1
            if counts[index].count == 0 { counts.remove(at: index) }
            return true
        }
    }
}
