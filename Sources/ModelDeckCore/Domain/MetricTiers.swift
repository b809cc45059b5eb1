import Foundation

/// How long metric buckets keep each resolution: 10-second buckets for an hour, 1-minute buckets until a
/// day old, then 1-hour buckets until the retention ends (the downsampling of Thanos and Mimir, which keep
/// 5-minute and 1-hour resolutions for old data). A registry then holds about 2,400 buckets per busy
/// endpoint version for 30 days instead of 43,000.
///
/// Pure: `plan(now:)` says which buckets roll into which width, and what is dropped; the registry's
/// rollup (`Registry.rollUpMetrics`) carries that out in bounded transactions.
public struct MetricTiers: Sendable, Equatable, CustomStringConvertible {
    public struct Tier: Sendable, Equatable {
        /// Bucket width in seconds.
        public var width: Int64
        /// Buckets of this width are kept until they are this old (seconds, from their start), then rolled
        /// into the next tier, or dropped after the last one.
        public var keptFor: Int64

        public init(width: Int64, keptFor: Int64) {
            self.width = width
            self.keptFor = keptFor
        }
    }

    public private(set) var tiers: [Tier]

    /// The retention: how long the last tier keeps its buckets.
    public var retentionSeconds: Int64 { tiers.last?.keptFor ?? 0 }

    /// 10 s for an hour, 1 min for a day, 1 h for `retentionDays`.
    public static func standard(retentionDays: Int = 30) -> MetricTiers {
        // A retention of a day leaves no room for the hourly tier. The tiers below pass `init`'s checks.
        guard retentionDays > 1 else { return try! MetricTiers([Tier(width: 10, keptFor: 3_600), Tier(width: 60, keptFor: 86_400)]) }
        return try! MetricTiers([Tier(width: 10, keptFor: 3_600), Tier(width: 60, keptFor: 86_400),
                          Tier(width: 3_600, keptFor: Int64(max(1, retentionDays)) * 86_400)])
    }

    /// Checks that the tiers can nest: widths grow and each divides the next (so a coarse bucket is whole
    /// fine buckets), each tier keeps its buckets at least one bucket of the next width and longer than the
    /// tier before. Refusals name the tier and the rule.
    public init(_ tiers: [Tier]) throws {
        guard !tiers.isEmpty else { throw ModelDeckError("metric tiers: at least one tier is needed") }
        guard tiers.count <= 8 else { throw ModelDeckError("metric tiers: \(tiers.count) tiers given, at most 8") }
        for (index, tier) in tiers.enumerated() {
            let name = "tier \(index + 1) (\(Self.duration(tier.width)) for \(Self.duration(tier.keptFor)))"
            guard tier.width >= 1, tier.width <= 86_400 else { throw ModelDeckError("metric tiers: \(name): a width must be 1s to 1d") }
            guard tier.keptFor <= 3_650 * 86_400 else { throw ModelDeckError("metric tiers: \(name): kept for at most 3650d") }
            if index > 0 {
                let previous = tiers[index - 1]
                guard tier.width > previous.width, tier.width % previous.width == 0 else {
                    throw ModelDeckError("metric tiers: \(name): the width must be a multiple of \(Self.duration(previous.width)), the tier before")
                }
                guard previous.keptFor >= tier.width else {
                    throw ModelDeckError("metric tiers: tier \(index) keeps \(Self.duration(previous.keptFor)), less than one \(Self.duration(tier.width)) bucket of the next")
                }
                guard tier.keptFor > previous.keptFor else {
                    throw ModelDeckError("metric tiers: \(name): must keep buckets longer than the tier before (\(Self.duration(previous.keptFor)))")
                }
            }
        }
        guard tiers.last!.keptFor >= 86_400 else { throw ModelDeckError("metric tiers: the last tier must keep buckets at least 1d (the retention)") }
        self.tiers = tiers
    }

    /// Reads `10s:1h,1m:1d,1h` — width:kept-for, the last tier kept for `retentionSeconds`.
    public static func parse(_ text: String, retentionSeconds: Int64) throws -> MetricTiers {
        let parts = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        var tiers: [Tier] = []
        for (index, part) in parts.enumerated() {
            let fields = part.split(separator: ":").map(String.init)
            let last = index == parts.count - 1
            guard fields.count == (last ? 1 : 2) else {
                throw ModelDeckError("--tiers \(text): expected WIDTH:KEPT,…,WIDTH (e.g. 10s:1h,1m:1d,1h; the last tier is kept for --retention), got '\(part)'")
            }
            tiers.append(Tier(width: try Quantity.seconds(fields[0], what: "--tiers width"),
                              keptFor: last ? retentionSeconds : try Quantity.seconds(fields[1], what: "--tiers kept-for")))
        }
        return try MetricTiers(tiers)
    }

    /// One rollup step: buckets narrower than `toWidth` that start before `before` become `toWidth` buckets.
    public struct Rollup: Sendable, Equatable {
        public var toWidth: Int64
        public var before: Int64
    }

    /// What is due at `now` (Unix seconds), finest first: each tier's cutoff is whole buckets of the next
    /// width, so a coarse bucket is never split between two tiers; then what the retention drops.
    public func plan(now: Int64) -> (rollups: [Rollup], dropBefore: Int64) {
        var rollups: [Rollup] = []
        for (tier, next) in zip(tiers, tiers.dropFirst()) {
            let age = now - tier.keptFor
            rollups.append(Rollup(toWidth: next.width, before: Self.floor(age, to: next.width)))
        }
        return (rollups, now - retentionSeconds)
    }

    /// The tier a bucket of `width` that started at `start` belongs in at `now`: the width it should have.
    public func width(forBucketStartingAt start: Int64, now: Int64) -> Int64? {
        guard start >= now - retentionSeconds else { return nil }
        var width = tiers[0].width
        for rollup in plan(now: now).rollups where start < rollup.before { width = rollup.toWidth }
        return width
    }

    static func floor(_ value: Int64, to width: Int64) -> Int64 {
        value >= 0 ? value / width * width : -((-value + width - 1) / width) * width
    }

    public var description: String {
        tiers.map { "\(Self.duration($0.width)) for \(Self.duration($0.keptFor))" }.joined(separator: ", ")
    }

    /// `10s`, `1m`, `1h`, `30d`: how `--tiers` spells a duration.
    public static func duration(_ seconds: Int64) -> String {
        for (unit, size) in [("d", Int64(86_400)), ("h", 3_600), ("m", 60)] where seconds >= size && seconds % size == 0 {
            return "\(seconds / size)\(unit)"
        }
        return "\(seconds)s"
    }
}
