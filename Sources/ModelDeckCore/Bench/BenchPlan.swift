import Foundation

/// What `modeldeck bench` will do: the phases, their rates and durations, and the idle gaps — parsed and
/// checked before a single request is sent (a refused plan sends nothing and stores nothing).
public struct BenchPlan: Codable, Equatable, Sendable {
    public enum Phase: String, Codable, CaseIterable, Sendable {
        case cold, warm, scale
        case lukeWarm = "luke-warm"
    }

    public var phases: [Phase]
    /// The warm phase's fixed rate, requests per second.
    public var rate: Double
    /// How long the warm phase offers `rate`, in milliseconds.
    public var durationMs: Int64
    /// The scale phase: from `ramp.from` to `ramp.to` requests per second over `ramp.overMs`, then `ramp.to`
    /// held for `holdMs` (the time to scale may end in the hold).
    public var ramp: Ramp
    /// Idle gaps of the luke-warm phase, in milliseconds, in the order they are run.
    public var idleGapsMs: [Int64]
    /// First requests sent after each gap (all at once: the share of them that met a cold instance).
    public var lukeWarmRequests: Int
    /// The scale phase's target is met when p99 is within this multiple of the warm p99.
    public var p99Multiple: Double

    public struct Ramp: Codable, Equatable, Sendable {
        public var from: Double
        public var to: Double
        public var overMs: Int64
        public var holdMs: Int64 { max(1_000, overMs / 2) }

        public init(from: Double, to: Double, overMs: Int64) {
            self.from = from
            self.to = to
            self.overMs = overMs
        }
    }

    /// The highest rate a plan may offer (the generator holds its lateness p99 under 1 ms up to about
    /// 1,000 requests a second on two cores: `modeldeck-bench generator`).
    public static let maxRate = 2_000.0
    /// The longest a warm phase or a ramp may run.
    public static let maxPhaseMs: Int64 = 3_600_000
    /// Default idle budget: the luke-warm gaps together may not be longer (a bench that sits idle for hours
    /// ties up a terminal and an endpoint). `--idle-budget` raises it.
    public static let defaultIdleBudgetMs: Int64 = 3_600_000

    public init(phases: [Phase] = Phase.allCases, rate: Double = 20, durationMs: Int64 = 60_000,
                ramp: Ramp = Ramp(from: 1, to: 100, overMs: 60_000), idleGapsMs: [Int64] = [60_000, 300_000, 900_000, 1_800_000],
                lukeWarmRequests: Int = 1, p99Multiple: Double = 2) {
        self.phases = phases
        self.rate = rate
        self.durationMs = durationMs
        self.ramp = ramp
        self.idleGapsMs = idleGapsMs
        self.lukeWarmRequests = lukeWarmRequests
        self.p99Multiple = p99Multiple
    }

    /// Parses the command line's texts. Every refusal is one line that names the limit.
    public static func parse(only: String?, rate: String, duration: String, ramp: String, idleGaps: String,
                             idleBudget: String?, p99Multiple: Double = 2) throws -> BenchPlan {
        var plan = BenchPlan()
        if let only {
            guard let phase = Phase(rawValue: only) else {
                throw ModelDeckError("--only '\(only)' is not a phase; use cold, warm, scale or luke-warm")
            }
            plan.phases = [phase]
        }
        plan.rate = try Self.rate(rate, what: "--rate")
        plan.durationMs = try Quantity.milliseconds(duration, what: "--duration")
        guard plan.durationMs > 0, plan.durationMs <= maxPhaseMs else {
            throw ModelDeckError("--duration '\(duration)' must be more than 0 and at most \(Format.duration(milliseconds: maxPhaseMs))")
        }
        plan.ramp = try Self.ramp(ramp)
        plan.idleGapsMs = try idleGaps.split(separator: ",").map { gap in
            let ms = try Quantity.milliseconds(String(gap), what: "--idle-gaps")
            guard ms > 0 else { throw ModelDeckError("--idle-gaps '\(gap)' must be longer than 0") }
            return ms
        }
        guard !plan.idleGapsMs.isEmpty else { throw ModelDeckError("--idle-gaps is empty; give gaps such as 1m,5m,15m") }
        let budget = try idleBudget.map { try Quantity.milliseconds($0, what: "--idle-budget") } ?? defaultIdleBudgetMs
        let total = plan.idleGapsMs.reduce(0, +)
        if plan.phases.contains(.lukeWarm), total > budget {
            throw ModelDeckError("--idle-gaps add up to \(Format.duration(milliseconds: total)), over the idle budget of "
                                 + "\(Format.duration(milliseconds: budget)); shorten them or raise --idle-budget")
        }
        guard p99Multiple >= 1 else { throw ModelDeckError("--p99-multiple \(p99Multiple) must be at least 1") }
        plan.p99Multiple = p99Multiple
        return plan
    }

    /// `20/s`, `1200/min`, `20` (per second): requests per second, more than 0 and at most `maxRate`.
    public static func rate(_ text: String, what: String) throws -> Double {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        var number = Substring(trimmed), perSeconds = 1.0
        if let slash = trimmed.firstIndex(of: "/") {
            number = trimmed[..<slash]
            switch trimmed[trimmed.index(after: slash)...] {
            case "s": perSeconds = 1
            case "min", "m": perSeconds = 60
            default: throw ModelDeckError("\(what) '\(text)' is not a rate; use requests per second or minute, e.g. 20/s or 600/min")
            }
        }
        guard let value = Double(number), value.isFinite else {
            throw ModelDeckError("\(what) '\(text)' is not a rate; use requests per second or minute, e.g. 20/s or 600/min")
        }
        let perSecond = value / perSeconds
        guard perSecond > 0, perSecond <= maxRate else {
            throw ModelDeckError("\(what) '\(text)' must be more than 0/s and at most \(Int(maxRate))/s")
        }
        return perSecond
    }

    /// `1..100/s:60s`: from 1 to 100 requests a second over 60 seconds.
    public static func ramp(_ text: String) throws -> Ramp {
        let shape = "use FROM..TO/s:DURATION, e.g. 1..100/s:60s"
        let parts = text.split(separator: ":", maxSplits: 1)
        guard parts.count == 2, let dots = parts[0].range(of: "..") else {
            throw ModelDeckError("--ramp '\(text)' is not a ramp; \(shape)")
        }
        let from = String(parts[0][..<dots.lowerBound]), rest = String(parts[0][dots.upperBound...])
        let unit = rest.firstIndex(of: "/").map { String(rest[$0...]) } ?? "/s"
        let to = rest.firstIndex(of: "/").map { String(rest[..<$0]) } ?? rest
        let ramp = Ramp(from: try rate(from + unit, what: "--ramp"), to: try rate(to + unit, what: "--ramp"),
                        overMs: try Quantity.milliseconds(String(parts[1]), what: "--ramp"))
        guard ramp.to > ramp.from else { throw ModelDeckError("--ramp '\(text)' must rise: \(to) is not above \(from)") }
        guard ramp.overMs > 0, ramp.overMs <= maxPhaseMs else {
            throw ModelDeckError("--ramp '\(text)' must last more than 0 and at most \(Format.duration(milliseconds: maxPhaseMs))")
        }
        return ramp
    }

    /// How many requests the plan sends (what `--max-cost` prices).
    public var requestCount: Int {
        var total = 0
        for phase in phases {
            switch phase {
            case .cold: total += 1
            case .warm: total += OpenLoopSchedule.fixed(rate: rate, durationMs: durationMs).count
            case .scale: total += OpenLoopSchedule.ramp(ramp).count
            case .lukeWarm: total += idleGapsMs.count * lukeWarmRequests
            }
        }
        return total
    }
}

/// When each request of an open-loop run is due, as offsets from the phase's start: fixed in advance, so a
/// slow answer never delays the next request (no coordinated omission: queueing shows as latency, which is
/// measured from the due time, not from when the request happened to leave).
public enum OpenLoopSchedule {
    /// `rate` a second for `durationMs`: request n is due at n / rate.
    public static func fixed(rate: Double, durationMs: Int64) -> [Duration] {
        guard rate > 0, durationMs > 0 else { return [] }
        let count = Int((rate * Double(durationMs) / 1_000).rounded(.down))
        return (0..<count).map { .nanoseconds(Int64((Double($0) / rate * 1e9).rounded())) }
    }

    /// A rate rising linearly from `from` to `to` over `overMs`, then `to` held for `holdMs`: request n is due
    /// when the offered count ∫r(t)dt reaches n. On the ramp, `from·t + (to − from)·t²/(2T) = n`, solved for t.
    public static func ramp(_ ramp: BenchPlan.Ramp) -> [Duration] {
        let span = Double(ramp.overMs) / 1_000, a = ramp.from, slope = (ramp.to - ramp.from) / span
        let onRamp = a * span + slope * span * span / 2
        let total = onRamp + ramp.to * Double(ramp.holdMs) / 1_000
        var result: [Duration] = []
        var n = 0.0
        while n < total.rounded(.down) {
            let t: Double
            if n <= onRamp {
                // slope/2·t² + a·t − n = 0, the positive root (written to stay exact when slope is small).
                t = 2 * n / (a + (a * a + 2 * slope * n).squareRoot())
            } else {
                t = span + (n - onRamp) / ramp.to
            }
            result.append(.nanoseconds(Int64((t * 1e9).rounded())))
            n += 1
        }
        return result
    }

    /// The offered rate at `offset` into a ramp.
    public static func offeredRate(_ ramp: BenchPlan.Ramp, at offset: Duration) -> Double {
        let t = offset.inSeconds, span = Double(ramp.overMs) / 1_000
        return t >= span ? ramp.to : ramp.from + (ramp.to - ramp.from) * t / span
    }
}

extension Duration {
    /// This duration in seconds, as a Double.
    public var inSeconds: Double {
        let (s, attoseconds) = components
        return Double(s) + Double(attoseconds) / 1e18
    }
}
