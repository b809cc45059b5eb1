import Foundation

/// What one keep-warm policy did for one endpoint of a trace.
public struct EndpointOutcome: Codable, Equatable, Sendable {
    public var endpoint: String
    public var requests: Int64 = 0
    public var coldStarts: Int64 = 0
    public var pings: Int64 = 0
    public var coldPings: Int64 = 0
    public var pingCostMicros: Int64 = 0
    /// Provisioned environments' charge while configured (`provisioned:N`).
    public var provisionedCostMicros: Int64 = 0
    /// Microseconds instances were alive, and of that, serving user requests (their starts included).
    public var aliveMicroseconds: Int64 = 0
    public var servingMicroseconds: Int64 = 0

    public init(endpoint: String) { self.endpoint = endpoint }

    public var warmInstanceSeconds: Int64 { aliveMicroseconds / 1_000_000 }
    /// What keeping instances warm cost: the pings, or the provisioned environments.
    public var warmingCostMicros: Int64 { pingCostMicros + provisionedCostMicros }
    /// Warm instance time that served no user request: idle, or answering pings.
    public var wastedWarmInstanceSeconds: Int64 { max(0, aliveMicroseconds - servingMicroseconds) / 1_000_000 }
}

/// What one keep-warm policy did over a trace.
public struct SimulationOutcome: Codable, Equatable, Sendable {
    public var policy: String
    public var requests: Int64 = 0
    /// User requests that found no warm instance and waited for a start.
    public var coldStarts: Int64 = 0
    /// p99 of what callers waited, cold starts included, in milliseconds.
    public var p99Ms: Double?
    public var pings: Int64 = 0
    /// Pings that found no warm instance and started one.
    public var coldPings: Int64 = 0
    /// Time instances were alive (starting, busy or idle), summed over instances, in whole seconds.
    public var warmInstanceSeconds: Int64 = 0
    /// The part of `warmInstanceSeconds` that served no user request (idle, or answering pings): the
    /// wasted memory-time of "Serverless in the Wild".
    public var wastedWarmInstanceSeconds: Int64 = 0
    public var trafficCostMicros: Int64 = 0
    public var pingCostMicros: Int64 = 0
    /// What provisioned concurrency cost while configured (requests apart), for `provisioned:N`.
    public var provisionedCostMicros: Int64 = 0
    /// Per endpoint, in the trace's order.
    public var endpoints: [EndpointOutcome] = []

    public var totalCostMicros: Int64 { trafficCostMicros + warmingCostMicros }
    /// What keeping instances warm cost: the pings, or the provisioned environments.
    public var warmingCostMicros: Int64 { pingCostMicros + provisionedCostMicros }
    /// Cold starts per million requests.
    public var coldStartPPM: Int64 { requests == 0 ? 0 : coldStarts * 1_000_000 / requests }
    /// The share of user requests that found a warm instance, per million.
    public var warmHitPPM: Int64 { requests == 0 ? 0 : 1_000_000 - coldStartPPM }

    private enum CodingKeys: String, CodingKey {
        case policy, requests, coldStarts, p99Ms, pings, coldPings, warmInstanceSeconds, wastedWarmInstanceSeconds
        case trafficCostMicros, pingCostMicros, provisionedCostMicros, totalCostMicros, coldStartRate, warmHitRate, endpoints
    }

    public init(policy: String) { self.policy = policy }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        policy = try c.decode(String.self, forKey: .policy)
        requests = try c.decode(Int64.self, forKey: .requests)
        coldStarts = try c.decode(Int64.self, forKey: .coldStarts)
        p99Ms = try c.decodeIfPresent(Double.self, forKey: .p99Ms)
        pings = try c.decode(Int64.self, forKey: .pings)
        coldPings = try c.decode(Int64.self, forKey: .coldPings)
        warmInstanceSeconds = try c.decode(Int64.self, forKey: .warmInstanceSeconds)
        wastedWarmInstanceSeconds = try c.decodeIfPresent(Int64.self, forKey: .wastedWarmInstanceSeconds) ?? 0
        trafficCostMicros = try c.decode(Int64.self, forKey: .trafficCostMicros)
        pingCostMicros = try c.decode(Int64.self, forKey: .pingCostMicros)
        provisionedCostMicros = try c.decodeIfPresent(Int64.self, forKey: .provisionedCostMicros) ?? 0
        endpoints = try c.decodeIfPresent([EndpointOutcome].self, forKey: .endpoints) ?? []
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(policy, forKey: .policy)
        try c.encode(requests, forKey: .requests)
        try c.encode(coldStarts, forKey: .coldStarts)
        try c.encode(Format.percent(ppm: coldStartPPM), forKey: .coldStartRate)
        try c.encode(Format.percent(ppm: warmHitPPM), forKey: .warmHitRate)
        try c.encodeIfPresent(p99Ms, forKey: .p99Ms)
        try c.encode(pings, forKey: .pings)
        try c.encode(coldPings, forKey: .coldPings)
        try c.encode(warmInstanceSeconds, forKey: .warmInstanceSeconds)
        try c.encode(wastedWarmInstanceSeconds, forKey: .wastedWarmInstanceSeconds)
        try c.encode(trafficCostMicros, forKey: .trafficCostMicros)
        try c.encode(pingCostMicros, forKey: .pingCostMicros)
        if provisionedCostMicros != 0 { try c.encode(provisionedCostMicros, forKey: .provisionedCostMicros) }
        try c.encode(totalCostMicros, forKey: .totalCostMicros)
        if !endpoints.isEmpty { try c.encode(endpoints, forKey: .endpoints) }
    }
}

extension SimulationOutcome {
    /// One plain line on how `self` did against `other`, for cold starts and ping cost, whichever way it went:
    /// `adaptive vs every 5m: fewer cold starts (1 vs 265) at lower ping cost ($0.004872 vs $0.005813)`.
    public func compared(with other: SimulationOutcome) -> String {
        func word(_ mine: Int64, _ theirs: Int64, less: String, more: String) -> String {
            mine < theirs ? less : mine > theirs ? more : "the same"
        }
        let starts = word(coldStarts, other.coldStarts, less: "fewer", more: "more")
        // Against provisioned concurrency, what warming costs is its charge, not pings.
        let provisioned = provisionedCostMicros != 0 || other.provisionedCostMicros != 0
        let (mine, theirs) = provisioned ? (warmingCostMicros, other.warmingCostMicros) : (pingCostMicros, other.pingCostMicros)
        let cost = word(mine, theirs, less: "lower", more: "higher")
        return "\(policy) vs \(other.policy): \(starts) cold starts (\(Format.grouped(coldStarts)) vs \(Format.grouped(other.coldStarts))) "
            + "at \(cost) \(provisioned ? "warming" : "ping") cost (\(Format.dollars(micros: mine)) vs \(Format.dollars(micros: theirs)); "
            + "\(Format.grouped(pings)) vs \(Format.grouped(other.pings)) pings)"
    }
}
