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
