import Foundation
import Histogram

/// One bench request as the generator saw it. Times are from the request's *due* time on the open-loop
/// schedule, so a request that left late (or queued behind a slow one) shows its wait as latency.
public struct BenchSample: Equatable, Sendable {
    /// When it was due, from the start of its phase.
    public var due: Duration
    /// From due to the last byte of the answer (or the failure).
    public var latencyMicroseconds: UInt64
    /// From due to when it was handed to the HTTP client: the generator's own scheduling lateness.
    public var latenessMicroseconds: UInt64
    /// HTTP status; 0 when no answer came.
    public var status: Int
    /// Whether it met a cold instance (the target says so: the local gateway's `X-ModelDeck-Cold-Start`, Lambda's
    /// Init Duration).
    public var coldStart: Bool
    /// The instance that answered, when the target names it.
    public var instance: String?
    /// Where the target splits a cold start: process start and model load in milliseconds.
    public var processStartMs: Int?
    public var modelLoadMs: Int?

    public init(due: Duration, latencyMicroseconds: UInt64, latenessMicroseconds: UInt64 = 0, status: Int, coldStart: Bool = false,
                instance: String? = nil, processStartMs: Int? = nil, modelLoadMs: Int? = nil) {
        self.due = due
        self.latencyMicroseconds = latencyMicroseconds
        self.latenessMicroseconds = latenessMicroseconds
        self.status = status
        self.coldStart = coldStart
        self.instance = instance
        self.processStartMs = processStartMs
        self.modelLoadMs = modelLoadMs
    }

    /// No answer, or a server-side failure (5xx, the gateway's 429 when it is full included).
    public var failed: Bool { status == 0 || status >= 500 || status == 429 }
}

/// Latencies of a bench phase in an HDR histogram (Gil Tene's HdrHistogram, through hdrhistogram-swift:
/// three significant digits from 1 µs to an hour), so p99 and max are exact to 0.1% whatever the spread.
/// The registry's `LatencyHistogram` sketch keeps stored buckets small; a bench run is measured once and
/// stored as figures, so the HDR histogram's precision costs nothing here.
public struct BenchLatency: Sendable {
    private var histogram = Histogram<UInt64>(lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000, numberOfSignificantValueDigits: .three)

    public init() {}

    public init(_ microseconds: some Sequence<UInt64>) {
        for value in microseconds { record(value) }
    }

    public mutating func record(_ microseconds: UInt64) {
        _ = histogram.record(min(max(microseconds, 1), 3_600_000_000))
    }

    public var count: Int { Int(histogram.totalCount) }

    /// The value at `percentile` (0–100), in milliseconds; 0 when empty.
    public func milliseconds(atPercentile percentile: Double) -> Double {
        guard count > 0 else { return 0 }
        return Double(histogram.valueAtPercentile(percentile)) / 1_000
    }

    public var maxMilliseconds: Double { count > 0 ? Double(histogram.max) / 1_000 : 0 }
}

/// What a bench run measured, phase by phase: stored as JSON in `bench_runs.figures`, printed by `bench`,
/// `get bench` and `bench compare`.
public struct BenchFigures: Codable, Equatable, Sendable {
    public var cold: Cold?
    public var warm: Latency?
    public var scale: Scale?
    public var lukeWarm: [LukeWarm]?
    /// Requests the run sent, and what they cost at the target's prices (micro-dollars): bench cost, kept apart
    /// from user traffic and pings.
    public var requests: Int = 0
    public var costMicros: Int64 = 0
    /// What the figures cannot say on this target (a cold start it cannot force, a stand-in's figures).
    public var notes: [String] = []

    public init() {}

    public struct Cold: Codable, Equatable, Sendable {
        /// The first prediction after the version was made cold, due to answered.
        public var totalMs: Double
        /// Whether it met a cold instance (false: the target kept one warm, or could not be forced cold).
        public var coldStart: Bool
        public var processStartMs: Int?
        public var modelLoadMs: Int?
        /// The rest: the first answer once the model was loaded.
        public var firstAnswerMs: Double?
        public var status: Int

        public init(_ sample: BenchSample) {
            totalMs = Double(sample.latencyMicroseconds) / 1_000
            coldStart = sample.coldStart
            processStartMs = sample.processStartMs
            modelLoadMs = sample.modelLoadMs
            let split = Double((sample.processStartMs ?? 0) + (sample.modelLoadMs ?? 0))
            firstAnswerMs = sample.processStartMs == nil && sample.modelLoadMs == nil ? nil : max(0, totalMs - split)
            status = sample.status
        }
    }

    public struct Latency: Codable, Equatable, Sendable {
        public var requests: Int
        public var errors: Int
        public var p50Ms: Double
        public var p95Ms: Double
        public var p99Ms: Double
        public var maxMs: Double
        /// The generator's own lateness p99: how far behind the schedule requests left.
        public var latenessP99Ms: Double
        public var coldStarts: Int

        public init(_ samples: [BenchSample]) {
            let latency = BenchLatency(samples.map(\.latencyMicroseconds))
            let lateness = BenchLatency(samples.map(\.latenessMicroseconds))
            requests = samples.count
            errors = samples.filter(\.failed).count
            p50Ms = latency.milliseconds(atPercentile: 50)
            p95Ms = latency.milliseconds(atPercentile: 95)
            p99Ms = latency.milliseconds(atPercentile: 99)
            maxMs = latency.maxMilliseconds
            latenessP99Ms = lateness.milliseconds(atPercentile: 99)
            coldStarts = samples.filter(\.coldStart).count
        }
    }

    public struct Scale: Codable, Equatable, Sendable {
        public var fromRate: Double
        public var toRate: Double
        /// From the start of the ramp to the end of the first second, at the target rate, with no error and
        /// p99 within `p99Multiple` × the reference p99; nil when the run never got there.
        public var timeToScaleMs: Int64?
        public var p99Multiple: Double
        /// The p99 the scale target was measured against (the warm phase's, else the ramp's first second's).
        public var referenceP99Ms: Double
        /// Distinct instances that started during the ramp (where the target names them), and cold starts.
        public var instancesStarted: Int
        public var coldStarts: Int
        public var latency: Latency
    }

    public struct LukeWarm: Codable, Equatable, Sendable {
        public var gapMs: Int64
        public var requests: Int
        public var cold: Int
        public var coldShare: Double
        /// Median latency of the first requests after the gap.
        public var p50Ms: Double
        public var maxMs: Double
        public var errors: Int

        public init(gapMs: Int64, samples: [BenchSample]) {
            let latency = BenchLatency(samples.map(\.latencyMicroseconds))
            self.gapMs = gapMs
            requests = samples.count
            cold = samples.filter(\.coldStart).count
            coldShare = samples.isEmpty ? 0 : Double(cold) / Double(samples.count)
            p50Ms = latency.milliseconds(atPercentile: 50)
            maxMs = latency.maxMilliseconds
            errors = samples.filter(\.failed).count
        }
    }
}

/// The scale phase's decision, pure: when did the endpoint serve the target rate within the p99 bound.
public enum ScaleAnalysis {
    /// Samples are grouped by due time into windows of `window`; the first window that starts once the offered
    /// rate has reached `ramp.to`, holds requests, none failed, and whose p99 ≤ `multiple` × `referenceP99Ms`,
    /// ends the time to scale.
    public static func figures(_ samples: [BenchSample], ramp: BenchPlan.Ramp, referenceP99Ms: Double?, multiple: Double,
                               window: Duration = .seconds(1)) -> BenchFigures.Scale {
        let windowSeconds = window.inSeconds
        func index(_ due: Duration) -> Int { Int((due.inSeconds / windowSeconds).rounded(.down)) }
        var windows: [Int: [BenchSample]] = [:]
        for sample in samples { windows[index(sample.due), default: []].append(sample) }
        let reference = referenceP99Ms ?? BenchFigures.Latency(windows[0]?.filter { !$0.coldStart } ?? []).p99Ms
        let firstAtTarget = Int((Double(ramp.overMs) / 1_000 / windowSeconds).rounded(.up))
        var reached: Int64?
        for slot in windows.keys.sorted() where slot >= firstAtTarget {
            let inWindow = windows[slot]!
            let latency = BenchFigures.Latency(inWindow)
            if latency.errors == 0, latency.p99Ms <= multiple * reference {
                reached = Int64(((Double(slot) + 1) * windowSeconds * 1_000).rounded())
                break
            }
        }
        let started = Set(samples.filter(\.coldStart).compactMap(\.instance))
        let coldStarts = samples.filter(\.coldStart).count
        return BenchFigures.Scale(fromRate: ramp.from, toRate: ramp.to, timeToScaleMs: reached, p99Multiple: multiple,
                                  referenceP99Ms: reference, instancesStarted: started.isEmpty ? coldStarts : started.count,
                                  coldStarts: coldStarts, latency: BenchFigures.Latency(samples))
    }
}
