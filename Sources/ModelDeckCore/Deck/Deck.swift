/// What a deck file declares: targets, models with their versions, endpoints with their initial
/// traffic and keep-warm policy, and notifications. Each declaration remembers where it was written, for error messages.
public struct Deck: Sendable {
    public var targets: [Declared<Target>] = []
    public var models: [Declared<Model>] = []
    public var versions: [Declared<ModelVersion>] = []
    public var endpoints: [Declared<EndpointDeclaration>] = []
    /// Where on-call events go (`notifications:`).
    public var notifications: [Declared<NotificationChannel>] = []

    public init() {}
}

/// A value and the place in the deck that declared it (`deck.yaml:12:5`).
public struct Declared<Value: Sendable>: Sendable {
    public var value: Value
    public var location: String

    public init(_ value: Value, at location: String) {
        self.value = value
        self.location = location
    }
}

/// An endpoint as a deck declares it: its settings plus the traffic it starts with.
public struct EndpointDeclaration: Equatable, Sendable {
    /// The endpoint with the deck's values, and defaults where the deck says nothing.
    public var endpoint: Endpoint
    /// Version name (as written: `v1` or `model@v1`) → weight in percent; empty when none is declared.
    public var traffic: [String: Int]
    /// The settings the deck actually wrote. On an existing endpoint only these are applied, so a deck that
    /// does not mention keep-warm never undoes a `modeldeck warm` (as `kubectl apply` leaves fields alone).
    public var declared: Set<EndpointSetting>

    public init(endpoint: Endpoint, traffic: [String: Int], declared: Set<EndpointSetting> = Set(EndpointSetting.allCases)) {
        self.endpoint = endpoint
        self.traffic = traffic
        self.declared = declared
    }

    /// `existing` with the declared settings of this declaration applied over it.
    public func merged(over existing: Endpoint) -> Endpoint {
        var merged = existing
        for setting in declared {
            switch setting {
            case .memory: merged.memoryMB = endpoint.memoryMB
            case .concurrency: merged.concurrency = endpoint.concurrency
            case .minInstances: merged.minInstances = endpoint.minInstances
            case .maxInstances: merged.maxInstances = endpoint.maxInstances
            case .idleTimeout: merged.idleTimeoutSeconds = endpoint.idleTimeoutSeconds
            case .sloP99: merged.slo.p99Milliseconds = endpoint.slo.p99Milliseconds
            case .sloErrorRate: merged.slo.errorRatePPM = endpoint.slo.errorRatePPM
            case .dailyBudget: merged.dailyBudgetMicros = endpoint.dailyBudgetMicros
            case .keepWarm: merged.keepWarm = endpoint.keepWarm
            case .production: merged.production = endpoint.production
            case .rollout: merged.rollout = endpoint.rollout
            case .gate: merged.gate = endpoint.gate
            }
        }
        return merged
    }
}

/// The endpoint settings a deck may declare (model and target are fixed once the endpoint exists).
public enum EndpointSetting: String, CaseIterable, Sendable {
    case memory, concurrency, minInstances, maxInstances, idleTimeout, sloP99, sloErrorRate, dailyBudget, keepWarm, production, rollout, gate
}
