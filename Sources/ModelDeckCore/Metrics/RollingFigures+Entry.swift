import Foundation

extension RollingFigures.Entry {
    /// Adds a bucket overlapping the window that starts at `windowStart`.
    mutating func add(_ bucket: StoredBucket, windowStart: Int64) throws {
        try sums.add(bucket)
        percentiles = nil
        buckets += 1
        if bucket.start < windowStart {
            straddlers.append(.init(start: bucket.start, width: bucket.width, amounts: RollingFigures.amounts(bucket)))
        } else {
            inside.add(bucket)
        }
    }

    /// Takes out a bucket added before (as it was then). False when that cannot be exact.
    mutating func remove(_ bucket: StoredBucket, windowStart: Int64) -> Bool {
        guard buckets > 0, sums.subtract(bucket) else { return false }
        percentiles = nil
        buckets -= 1
        if bucket.start < windowStart {
            guard let index = straddlers.firstIndex(where: { $0.start == bucket.start && $0.width == bucket.width }) else { return false }
            straddlers.remove(at: index)
        } else {
            inside.subtract(bucket)
        }
        return true
    }

    /// Takes out a bucket as it was (`before`, nil when new) and adds it as it is now. False when that cannot
    /// be exact.
    mutating func rewrite(_ before: StoredBucket?, as bucket: StoredBucket, windowStart: Int64) -> Bool {
        if let before, !remove(before, windowStart: windowStart) { return false }
        do { try add(bucket, windowStart: windowStart) } catch { return false }
        return true
    }

    /// A bucket counted whole that now straddles the window's start: its amounts are counted pro rata from now on.
    mutating func straddle(_ bucket: StoredBucket) {
        inside.subtract(bucket)
        straddlers.append(.init(start: bucket.start, width: bucket.width, amounts: RollingFigures.amounts(bucket)))
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
