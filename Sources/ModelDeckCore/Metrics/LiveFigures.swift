import Foundation

/// A span of time the live figures are read over: `seconds` up to `end` (Unix seconds).
public struct LiveWindow: Equatable, Hashable, Sendable {
    public var start: Int64
    public var end: Int64

    public var seconds: Int64 { end - start }

    public init(start: Int64, end: Int64) {
        precondition(end > start, "a window ends after it starts")
        self.start = start
        self.end = end
    }

    /// The last `seconds` before `now`.
    public init(last seconds: Int64, now: Date) {
        let end = Int64(now.timeIntervalSince1970.rounded(.down))
        self.init(start: end - max(1, seconds), end: end)
    }

    /// The window `modeldeck get --window`, `/metrics` and `/api/v1` read when none is named.
    public static let defaultSeconds: Int64 = 60
    /// The longest window a caller may ask for: a day (older buckets are rolled up and may be gone).
    public static let maxSeconds: Int64 = 86_400

    /// How much of a bucket `[start, start + width)` lies inside the window, as a share of it (0…1).
    ///
    /// A window ends now, so a bucket that is still filling has all its requests in its elapsed part:
    /// its span is cut at the window's end before it is shared out.
    public func share(ofBucketAt start: Int64, width: Int64) -> Double {
        let spanEnd = min(start + width, end)
        guard width > 0, spanEnd > start else { return 0 }
        let overlap = spanEnd - max(self.start, start)
        return overlap <= 0 ? 0 : Double(overlap) / Double(spanEnd - start)
    }
}

/// What one endpoint (or one of its versions) did over a window: the live figures every view shows — the
/// dashboard, `modeldeck get -o wide|json`, `/metrics`, `/api/v1/endpoints`, the deploy gate and the demo.
/// They are computed here and nowhere else, so two views of the same window never disagree.
///
/// How a window reads the metric buckets (10 s recent, wider once rolled up or collected from a platform):
/// - counts (`requests`, `errors`, `coldStarts`, `pings`) and costs are the sums of the buckets that overlap
///   the window, whole;
/// - the percentiles are those of the same buckets' merged histograms (a histogram cannot be cut in two);
/// - the rates (`requestsPerSecond`, `burnMicrosPerHour`) count each bucket pro rata of the part of it
///   inside the window, so a bucket that straddles the window's start does not inflate them.
/// Keep-warm pings are never user traffic: they are counted apart and left out of latency and errors.
public struct LiveFigures: Equatable, Sendable, Codable {
    public var windowSeconds: Int64
    public var requests: Int64 = 0
    public var errors: Int64 = 0
    /// User requests that started an instance.
    public var coldStarts: Int64 = 0
    /// Keep-warm pings, and those of them that started an instance.
    public var pings: Int64 = 0
    public var pingColdStarts: Int64 = 0
    public var requestsPerSecond: Double = 0
    /// Share of user requests that failed (5xx); nil without requests.
    public var errorRate: Double?
    /// Latency of user requests, cold starts included (what callers waited), in milliseconds.
    public var p50Milliseconds: Double?
    public var p95Milliseconds: Double?
    public var p99Milliseconds: Double?
    /// The p99 of warm requests and of cold starts, apart.
    public var warmP99Milliseconds: Double?
    public var coldP99Milliseconds: Double?
    /// The most requests in flight at once in any bucket of the window.
    public var maxInFlight: Int64 = 0
    /// Cost of the window's buckets, user traffic and keep-warm pings apart, in micro-dollars.
    public var costMicros: Int64 = 0
    public var pingCostMicros: Int64 = 0
    /// Cost per hour at the window's rate (pings included), in micro-dollars, and the pings' part of it.
    public var burnMicrosPerHour: Int64 = 0
    public var pingBurnMicrosPerHour: Int64 = 0
    /// Synthetic probes (an endpoint someone else runs: http), apart from user traffic and pings: how many, how
    /// many failed, how many waited for a cold start, their latency, and the share that succeeded.
    public var probes: Int64 = 0
    public var probeErrors: Int64 = 0
    public var probeColdStarts: Int64 = 0
    public var probeP50Milliseconds: Double?
    public var probeP99Milliseconds: Double?
    /// Share of probes answered with 2xx or 3xx in time; nil without probes.
    public var availability: Double?

    public init(windowSeconds: Int64) {
        self.windowSeconds = windowSeconds
    }

    /// The share of user requests that found a warm instance; nil without requests.
    public var warmHitRate: Double? {
        requests > 0 ? Double(requests - min(coldStarts, requests)) / Double(requests) : nil
    }

    /// Adds buckets one by one, then gives the figures: the one computation behind every view.
    ///
    /// Counts, costs and sketches are summed whole (`Sums`); the rates count whole the buckets entirely in the
    /// window (`inside`, integers) and pro rata the ones straddling its start (`partial`). The dashboard's
    /// rolling window (`RollingFigures`) keeps the same sums as buckets come and go, and gives its figures
    /// through `figures(window:sums:inside:partial:)`, the same function.
    public struct Builder: Sendable {
        public let window: LiveWindow
        private(set) var sums: Sums
        private var inside = Amounts()
        private var partial = Rates()

        /// Whether latency histograms are merged; without them only counts, rates and costs are given
        /// (cold starts over an hour, say, where merging hundreds of histograms would buy nothing).
        public var histograms: Bool { sums.histograms }

        public init(window: LiveWindow, histograms: Bool = true) {
            self.window = window
            sums = Sums(histograms: histograms)
        }

        public var isEmpty: Bool { sums.isEmpty }

        /// Adds one stored bucket (its histograms as stored); a bucket outside the window adds nothing.
        public mutating func add(_ bucket: StoredBucket) throws {
            let share = window.share(ofBucketAt: bucket.start, width: bucket.width)
            guard share > 0 else { return }
            try sums.add(bucket)
            if share == 1 {
                inside.add(bucket)
            } else {
                partial.add(bucket, share: share)
            }
        }

        /// Adds another builder's buckets over the same window (an endpoint's versions into its total).
        public mutating func add(_ other: Builder) {
            precondition(other.window == window, "figures of different windows do not add")
            sums.add(other.sums)
            inside.add(other.inside)
            partial.requests += other.partial.requests
            partial.cost += other.partial.cost
            partial.pingCost += other.partial.pingCost
        }

        public func figuresNow() -> LiveFigures {
            Self.figures(window: window, sums: sums, inside: inside, partial: partial)
        }

        /// The figures of `sums` over `window`, where `inside` are the amounts of the buckets entirely in it
        /// and `partial` the pro-rated amounts of those straddling its start.
        static func figures(window: LiveWindow, sums: Sums, inside: Amounts, partial: Rates, percentiles known: Sums.Percentiles? = nil) -> LiveFigures {
            var result = sums.figures
            result.windowSeconds = window.seconds
            let seconds = Double(window.seconds)
            result.requestsPerSecond = requestsPerSecond(window: window, inside: inside.requests, partial: partial.requests)
            result.burnMicrosPerHour = Int64(((Double(inside.cost) + partial.cost) * 3_600 / seconds).rounded())
            result.pingBurnMicrosPerHour = Int64(((Double(inside.pingCost) + partial.pingCost) * 3_600 / seconds).rounded())
            result.errorRate = result.requests == 0 ? nil : Double(result.errors) / Double(result.requests)
            let percentiles = known ?? sums.percentiles()
            result.p50Milliseconds = percentiles.p50
            result.p95Milliseconds = percentiles.p95
            result.p99Milliseconds = percentiles.p99
            result.warmP99Milliseconds = percentiles.warmP99
            result.coldP99Milliseconds = percentiles.coldP99
            result.probeP50Milliseconds = percentiles.probeP50
            result.probeP99Milliseconds = percentiles.probeP99
            result.availability = result.probes == 0 ? nil : Double(result.probes - result.probeErrors) / Double(result.probes)
            return result
        }

        /// User requests per second over `window`: those of the buckets inside it, and the straddlers' share.
        static func requestsPerSecond(window: LiveWindow, inside: Int64, partial: Double) -> Double {
            (Double(inside) + partial) / Double(window.seconds)
        }

        /// The merged histograms, for views that draw the distribution (the endpoint detail).
        public var merged: (all: LatencyPairs, cold: LatencyPairs) { (sums.latency, sums.cold) }
    }

    /// The whole amounts of some buckets (requests, user cost, ping cost): what the rates count.
    struct Amounts: Sendable, Equatable {
        var requests: Int64 = 0
        var cost: Int64 = 0
        var pingCost: Int64 = 0

        mutating func add(_ bucket: StoredBucket) {
            requests += bucket.requests
            cost += bucket.costMicros + bucket.warmupCostMicros
            pingCost += bucket.warmupCostMicros
        }

        mutating func subtract(_ bucket: StoredBucket) {
            requests -= bucket.requests
            cost -= bucket.costMicros + bucket.warmupCostMicros
            pingCost -= bucket.warmupCostMicros
        }

        mutating func add(_ other: Amounts) {
            requests += other.requests
            cost += other.cost
            pingCost += other.pingCost
        }
    }

    /// Pro-rated amounts of buckets straddling a window's start.
    struct Rates: Sendable {
        var requests = 0.0
        var cost = 0.0
        var pingCost = 0.0

        mutating func add(_ bucket: StoredBucket, share: Double) {
            var amounts = Amounts()
            amounts.add(bucket)
            add(amounts, share: share)
        }

        mutating func add(_ amounts: Amounts, share: Double) {
            requests += Double(amounts.requests) * share
            cost += Double(amounts.cost) * share
            pingCost += Double(amounts.pingCost) * share
        }
    }

    /// Buckets summed whole: counts, costs and merged sketches, with no window. Buckets can be taken out
    /// again (`subtract`), exactly, except where a sketch's schema would have to go back down: then `subtract`
    /// says so and the caller sums again from the buckets. The maximum in flight of what is left is the
    /// caller's to give (`RollingFigures.InFlightTally`).
    struct Sums: Sendable {
        /// The counts and costs alone: 88 bytes where a `LiveFigures` is 264, and the dashboard keeps a sum
        /// per endpoint version and window (30,000 at 10,000 endpoints).
        struct Counts: Sendable {
            var requests: Int64 = 0, errors: Int64 = 0, coldStarts: Int64 = 0, pings: Int64 = 0, pingColdStarts: Int64 = 0
            var maxInFlight: Int64 = 0, costMicros: Int64 = 0, pingCostMicros: Int64 = 0
            var probes: Int64 = 0, probeErrors: Int64 = 0, probeColdStarts: Int64 = 0

            init() {}

            /// One bucket's counts.
            init(_ bucket: StoredBucket) {
                (requests, errors, coldStarts, pings, pingColdStarts) =
                    (bucket.requests, bucket.errors, bucket.coldStarts, bucket.warmups, bucket.warmupColdStarts)
                (maxInFlight, costMicros, pingCostMicros) = (bucket.maxInFlight, bucket.costMicros, bucket.warmupCostMicros)
                (probes, probeErrors, probeColdStarts) = (bucket.probes, bucket.probeErrors, bucket.probeColdStarts)
            }

            /// Adds `other`'s counts (`sign` -1: takes them out); the maximum in flight is the larger one's when
            /// adding, and left as it is when taking out (`subtract` sets it).
            mutating func add(_ other: Counts, sign: Int64 = 1) {
                requests += sign * other.requests
                errors += sign * other.errors
                coldStarts += sign * other.coldStarts
                pings += sign * other.pings
                pingColdStarts += sign * other.pingColdStarts
                if sign > 0 { maxInFlight = max(maxInFlight, other.maxInFlight) }
                costMicros += sign * other.costMicros
                pingCostMicros += sign * other.pingCostMicros
                probes += sign * other.probes
                probeErrors += sign * other.probeErrors
                probeColdStarts += sign * other.probeColdStarts
            }
        }

        private(set) var counts = Counts()
        /// The counts as figures with no window (rates and percentiles left for `Builder.figures` to make).
        var figures: LiveFigures {
            var figures = LiveFigures(windowSeconds: 0)
            figures.requests = counts.requests
            figures.errors = counts.errors
            figures.coldStarts = counts.coldStarts
            figures.pings = counts.pings
            figures.pingColdStarts = counts.pingColdStarts
            figures.maxInFlight = counts.maxInFlight
            figures.costMicros = counts.costMicros
            figures.pingCostMicros = counts.pingCostMicros
            figures.probes = counts.probes
            figures.probeErrors = counts.probeErrors
            figures.probeColdStarts = counts.probeColdStarts
            return figures
        }

        /// The merged sketches of all requests, of the cold starts and of the probes.
        struct Sketches: Sendable {
            var latency = LatencyPairs()
            var cold = LatencyPairs()
            var probeLatency = LatencyPairs()
        }

        /// The sketches when `histograms`, else none: an array of at most one, so that a counts-only sum (two of
        /// the dashboard's three windows) keeps 8 bytes for them, not three empty sketches of 72 bytes each
        /// (issue #20: the windows' entries 15.4 → 11.8 MB at 10,000 endpoints, `heaptrack`). Changed in place
        /// through the array, which copies only when shared.
        private var sketches: [Sketches]
        let histograms: Bool

        init(histograms: Bool) {
            self.histograms = histograms
            sketches = histograms ? [Sketches()] : []
        }

        var latency: LatencyPairs { sketches.first?.latency ?? LatencyPairs() }
        var cold: LatencyPairs { sketches.first?.cold ?? LatencyPairs() }
        var probeLatency: LatencyPairs { sketches.first?.probeLatency ?? LatencyPairs() }

        var isEmpty: Bool {
            counts.requests == 0 && counts.pings == 0 && counts.probes == 0 && counts.costMicros == 0 && counts.pingCostMicros == 0
        }

        mutating func add(_ bucket: StoredBucket) throws {
            counts.add(Counts(bucket))
            guard histograms else { return }
            if let blob = bucket.latency, bucket.requests > 0 { try sketches[0].latency.add(encoded: blob) }
            if let blob = bucket.coldLatency, bucket.coldStarts > 0 { try sketches[0].cold.add(encoded: blob) }
            if let blob = bucket.probeLatency, bucket.probes > 0 { try sketches[0].probeLatency.add(encoded: blob) }
        }

        /// Takes `bucket` (added before, as it was then) back out, `maxInFlight` being the largest maximum in
        /// flight of the buckets left. False, with the sums left unusable, when that cannot be exact: a sketch
        /// coarser than the finest.
        mutating func subtract(_ bucket: StoredBucket, maxInFlight: Int64) -> Bool {
            counts.add(Counts(bucket), sign: -1)
            counts.maxInFlight = maxInFlight
            guard histograms else { return true }
            func out(_ blob: Data?, _ n: Int64, _ pairs: inout LatencyPairs) -> Bool {
                guard let blob, n > 0 else { return true }
                // A sketch coarser than schema 0 made the sum coarser; without it the sum would be finer.
                guard LatencyHistogram.schema(ofEncoded: blob) == 0 else { return false }
                return (try? pairs.subtract(encoded: blob)) != nil
            }
            return out(bucket.latency, bucket.requests, &sketches[0].latency) && out(bucket.coldLatency, bucket.coldStarts, &sketches[0].cold)
                && out(bucket.probeLatency, bucket.probes, &sketches[0].probeLatency)
        }

        mutating func add(_ other: Sums) {
            assert(histograms || !other.histograms, "a counts-only sum would drop the sketches added to it")
            counts.add(other.counts)
            guard histograms else { return }
            other.sketches.withUnsafeBufferPointer { theirs in
                guard let theirs = theirs.baseAddress else { return }
                sketches[0].latency.add(theirs.pointee.latency)
                sketches[0].cold.add(theirs.pointee.cold)
                sketches[0].probeLatency.add(theirs.pointee.probeLatency)
            }
        }

        struct Percentiles: Sendable, Equatable {
            var p50, p95, p99, warmP99, coldP99, probeP50, probeP99: Double?
        }

        func percentiles() -> Percentiles {
            // Read where they lie: each read of `latency` or `cold`, or of `sketches.first`, copies them out of
            // the array (a retain of each).
            sketches.withUnsafeBufferPointer { sketches in sketches.isEmpty ? Percentiles() : sketches[0].percentiles() }
        }
    }
}

extension LiveFigures.Sums.Sketches {
    func percentiles() -> LiveFigures.Sums.Percentiles {
        let all = latency.milliseconds(atPercentiles: [50, 95, 99]), probe = probeLatency.milliseconds(atPercentiles: [50, 99])
        // Without cold starts (and no coarser schema to bring it to) the warm requests are all of them: no
        // copy of the sketch to take nothing out of.
        let noCold = cold.count == 0 && cold.schema <= latency.schema
        return .init(p50: all[0], p95: all[1], p99: all[2],
                     warmP99: noCold ? all[2] : latency.subtracting(cold).milliseconds(atPercentile: 99),
                     coldP99: cold.milliseconds(atPercentile: 99), probeP50: probe[0], probeP99: probe[1])
    }
}

extension LiveFigures {
    /// What a one-line view (a dashboard row, `get -o wide`) shows as an endpoint's latency, errors and cold
    /// starts: its user traffic's when ModelDeck saw any, else its probes' (an endpoint someone else runs is seen
    /// only through them). `fromProbes` says which, so a view can mark it.
    public struct Observed: Equatable, Sendable {
        public var p50Milliseconds: Double?
        public var p99Milliseconds: Double?
        public var errorRate: Double?
        public var coldStarts: Int64
        public var fromProbes: Bool
    }

    public var observed: Observed {
        guard requests == 0, probes > 0 else {
            return Observed(p50Milliseconds: p50Milliseconds, p99Milliseconds: p99Milliseconds, errorRate: errorRate,
                            coldStarts: coldStarts, fromProbes: false)
        }
        return Observed(p50Milliseconds: probeP50Milliseconds, p99Milliseconds: probeP99Milliseconds,
                        errorRate: Double(probeErrors) / Double(probes), coldStarts: probeColdStarts, fromProbes: true)
    }
}
