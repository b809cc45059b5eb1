import Foundation

/// The pooled two-proportion z-test, one-sided: is the share `x1/n1` larger than `x2/n2`?
///
/// z = (p̂1 − p̂2) / √(p̂(1 − p̂)(1/n1 + 1/n2)), with the pooled p̂ = (x1 + x2)/(n1 + n2); the p-value is the
/// upper tail of the standard normal, ½·erfc(z/√2) (https://en.wikipedia.org/wiki/Two-proportion_Z-test).
/// Written here
/// because it is three lines of arithmetic and the allowed packages have no statistics library.
public struct ProportionTest: Equatable, Sendable {
    public var z: Double
    /// The chance of seeing a difference at least this large if the two shares were equal.
    public var pValue: Double

    /// nil when either side has no trials, or neither has any events (nothing to compare).
    public init?(events x1: Int64, of n1: Int64, versus x2: Int64, of n2: Int64) {
        guard n1 > 0, n2 > 0, x1 + x2 > 0 else { return nil }
        let (p1, p2) = (Double(x1) / Double(n1), Double(x2) / Double(n2))
        let pooled = Double(x1 + x2) / Double(n1 + n2)
        let variance = pooled * (1 - pooled) * (1 / Double(n1) + 1 / Double(n2))
        if variance <= 0 {
            // Every trial on both sides is an event: no difference to find.
            z = 0
            pValue = 0.5
            return
        }
        z = (p1 - p2) / variance.squareRoot()
        pValue = Self.upperTail(z)
    }

    /// P(Z > z) for a standard normal Z.
    public static func upperTail(_ z: Double) -> Double { 0.5 * erfc(z / 2.0.squareRoot()) }

    /// Whether the first share is higher at `confidence` (0.95: a p-value under 0.05).
    public func higher(atConfidence confidence: Double) -> Bool { pValue < 1 - confidence }
}

/// What a low-traffic step does once its deadline has passed without enough requests on the new version.
public enum LowTrafficAction: String, Codable, CaseIterable, Sendable {
    case wait, fail, promote
}

extension RollbackGate {
    /// The alarm when `new` breaks an absolute ceiling (the SLO) or is worse than `baseline`, the version it
    /// replaces, over the same window: a higher error rate by the one-sided two-proportion z-test at
    /// `confidence`, a warm p99 over the baseline's × (1 + `tolerance`) and more than `slackMilliseconds` over it, or a higher cold-start rate (by the
    /// same test, after the `expectedColdStarts` a new version needs to start its instances). Nil while
    /// `new` has fewer than `minimumRequests`, or is within all of them.
    public func alarm(for new: VersionHealth, version: String, baseline: VersionHealth?, baselineVersion: String?, slo: SLO) -> String? {
        if let alarm = alarm(for: new, slo: slo, version: version) { return alarm }
        guard new.requests >= minimumRequests, let old = baseline, let oldVersion = baselineVersion, old.requests > 0 else { return nil }
        let level = "\(Format.percent(ppm: Int64((confidence * 1_000_000).rounded())))"
        if let test = ProportionTest(events: new.errors, of: new.requests, versus: old.errors, of: old.requests), test.higher(atConfidence: confidence) {
            return "\(version) error rate \(Format.percent(ppm: new.errorPPM)) (\(new.errors) of \(new.requests)) is higher than \(oldVersion)'s \(Format.percent(ppm: old.errorPPM)) (\(old.errors) of \(old.requests)): one-sided two-proportion z-test z = \(Self.figure(test.z)), p = \(Self.figure(test.pValue, digits: 4)) < \(Self.figure(1 - confidence)) at \(level) confidence"
        }
        if let newP99 = new.p99Milliseconds, let oldP99 = old.p99Milliseconds, newP99 > oldP99 * (1 + tolerance),
           newP99 - oldP99 > Double(slackMilliseconds) {
            return "\(version) warm p99 \(Int(newP99.rounded())) ms is over \(oldVersion)'s \(Int(oldP99.rounded())) ms × \(Self.figure(1 + tolerance)) = \(Int((oldP99 * (1 + tolerance)).rounded())) ms (\(new.requests) and \(old.requests) requests over the same window)"
        }
        let extraColdStarts = max(0, new.coldStarts - expectedColdStarts)
        if let test = ProportionTest(events: extraColdStarts, of: new.requests, versus: old.coldStarts, of: old.requests), test.higher(atConfidence: confidence) {
            return "\(version) cold starts \(new.coldStarts) of \(new.requests) requests (\(extraColdStarts) past the \(expectedColdStarts) its instances need) are more than \(oldVersion)'s \(old.coldStarts) of \(old.requests): one-sided two-proportion z-test z = \(Self.figure(test.z)), p = \(Self.figure(test.pValue, digits: 4)) at \(level) confidence"
        }
        return nil
    }

    /// What a step still waits for before it may pass: "12 of 50 requests", or nil when it has enough.
    public func waitingFor(_ new: VersionHealth) -> String? {
        new.requests >= minimumRequests ? nil : "\(new.requests) of \(minimumRequests) requests"
    }

    static func figure(_ value: Double, digits: Int = 2) -> String {
        String(format: "%.\(digits)f", value)
    }

    /// `tolerance 20%, confidence 95%, min 20 requests, low traffic: wait 10m`.
    public var summary: String {
        "tolerance \(Format.percent(ppm: Int64((tolerance * 1_000_000).rounded()))) (slack \(Format.duration(milliseconds: slackMilliseconds))), confidence \(Format.percent(ppm: Int64((confidence * 1_000_000).rounded()))), min \(minimumRequests) requests, low traffic: \(onLowTraffic.rawValue) after \(Format.duration(seconds: lowTrafficDeadlineSeconds))"
    }
}
