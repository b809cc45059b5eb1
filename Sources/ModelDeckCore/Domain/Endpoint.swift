/// A named place where one model answers requests, on one target, with its capacity, SLO, budget and
/// keep-warm policy. Its live versions and weights are in `TrafficSplit`.
public struct Endpoint: Codable, Equatable, Sendable {
    public var name: String
    public var model: String
    public var target: String
    /// Memory each instance gets, in MB.
    public var memoryMB: Int
    /// Requests one instance serves at once.
    public var concurrency: Int
    public var minInstances: Int
    public var maxInstances: Int
    /// An instance idle this long is stopped (scale to zero when `minInstances` is 0).
    public var idleTimeoutSeconds: Int64
    public var slo: SLO
    /// Daily budget in micro-dollars; nil when none is set.
    public var dailyBudgetMicros: Int64?
    public var keepWarm: KeepWarmPolicy
    /// Production endpoints are marked in the TUI and ask for a reason before any action.
    public var production: Bool
    /// A fixed policy's concurrency by the clock (working hours, a daily batch): each entry takes effect
    /// when its cron fires; empty for one concurrency all day.
    public var keepWarmSchedule: [ScheduledConcurrency] = []
    /// The plan a deploy uses when it names none (a deck's `rollout:`, `canary:10%:5m` or a step list).
    public var rollout: String?
    /// How its deploys are judged and how much evidence a step needs (a deck's `gate:`); nil: the defaults.
    public var gate: RollbackGate?

    public init(name: String, model: String, target: String, memoryMB: Int, concurrency: Int = 1,
                minInstances: Int = 0, maxInstances: Int = 4, idleTimeoutSeconds: Int64 = 300,
                slo: SLO = SLO(), dailyBudgetMicros: Int64? = nil, keepWarm: KeepWarmPolicy = .off,
                production: Bool = false, rollout: String? = nil, gate: RollbackGate? = nil) {
        self.name = name
        self.model = model
        self.target = target
        self.memoryMB = memoryMB
        self.concurrency = concurrency
        self.minInstances = minInstances
        self.maxInstances = maxInstances
        self.idleTimeoutSeconds = idleTimeoutSeconds
        self.slo = slo
        self.dailyBudgetMicros = dailyBudgetMicros
        self.keepWarm = keepWarm
        self.production = production
        self.rollout = rollout
        self.gate = gate
    }
}

/// What "healthy" means for an endpoint: p99 latency and error rate limits.
public struct SLO: Codable, Equatable, Sendable {
    /// p99 latency limit in milliseconds.
    public var p99Milliseconds: Int64
    /// Error-rate limit in parts per million (10,000 = 1%).
    public var errorRatePPM: Int64

    public init(p99Milliseconds: Int64 = 1_000, errorRatePPM: Int64 = 10_000) {
        self.p99Milliseconds = p99Milliseconds
        self.errorRatePPM = errorRatePPM
    }
}

/// How an endpoint is kept warm between requests.
public enum KeepWarmPolicy: Equatable, Sendable {
    case off
    /// Every `everySeconds`, `concurrency` pings at once, so that many instances stay warm.
    case fixed(everySeconds: Int64, concurrency: Int)
    /// Learned from the endpoint's own idle times (hybrid histogram policy, "Serverless in the Wild").
    case adaptive

    public var mode: String {
        switch self {
        case .off: "off"
        case .fixed: "fixed"
        case .adaptive: "adaptive"
        }
    }

    /// Parses what `text` prints: `off`, `adaptive`, `every 5m` or `every 5m x2` (× works too).
    public init(parsing text: String) throws {
        let words = text.lowercased().replacingOccurrences(of: "×", with: " x").split(separator: " ").map(String.init)
        let usage = "use off, adaptive, 'every DURATION' or 'every DURATION xN' (e.g. every 5m x2)"
        switch words.first {
        case "off" where words.count == 1: self = .off
        case "adaptive" where words.count == 1: self = .adaptive
        case "every" where words.count == 2 || words.count == 3:
            let seconds = try Quantity.seconds(words[1], what: "keep-warm interval")
            guard seconds >= 1 else { throw ModelDeckError("keep-warm interval '\(words[1])' must be at least 1s") }
            var concurrency = 1
            if words.count == 3 {
                guard words[2].hasPrefix("x"), let count = Int(words[2].dropFirst()) else {
                    throw ModelDeckError("keep-warm policy '\(text)': '\(words[2])' is not a count like x2; \(usage)")
                }
                guard (1...1_000).contains(count) else { throw ModelDeckError("keep-warm concurrency \(count) is outside 1–1,000") }
                concurrency = count
            }
            self = .fixed(everySeconds: seconds, concurrency: concurrency)
        default:
            throw ModelDeckError("keep-warm policy '\(text)' is not known; \(usage)")
        }
    }

    /// `off`, `every 5m ×2`, `adaptive` — how tables show it.
    public var summary: String {
        switch self {
        case .off: "off"
        case .fixed(let every, let concurrency):
            concurrency == 1 ? "every \(Format.duration(seconds: every))"
                : "every \(Format.duration(seconds: every)) ×\(concurrency)"
        case .adaptive: "adaptive"
        }
    }
}

extension KeepWarmPolicy: Codable {
    private enum CodingKeys: String, CodingKey { case mode, everySeconds, concurrency }

    public init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        switch try container.decode(String.self, forKey: .mode) {
        case "off": self = .off
        case "adaptive": self = .adaptive
        case "fixed":
            self = .fixed(everySeconds: try container.decode(Int64.self, forKey: .everySeconds),
                          concurrency: try container.decode(Int.self, forKey: .concurrency))
        case let other:
            throw DecodingError.dataCorruptedError(forKey: .mode, in: container,
                                                   debugDescription: "unknown keep-warm mode '\(other)'")
        }
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(mode, forKey: .mode)
        if case .fixed(let every, let concurrency) = self {
            try container.encode(every, forKey: .everySeconds)
            try container.encode(concurrency, forKey: .concurrency)
        }
    }
}
