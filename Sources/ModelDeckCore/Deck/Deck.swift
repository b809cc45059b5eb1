/// What a deck file declares: targets, models with their versions, and endpoints with their initial
/// traffic and keep-warm policy. Each declaration remembers where it was written, for error messages.
public struct Deck: Sendable {
    public var targets: [Declared<Target>] = []
    public var models: [Declared<Model>] = []
    public var versions: [Declared<ModelVersion>] = []
    public var endpoints: [Declared<EndpointDeclaration>] = []

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
    public var endpoint: Endpoint
    /// Version name (as written: `v1` or `model@v1`) → weight in percent; empty when none is declared.
    public var traffic: [String: Int]

    public init(endpoint: Endpoint, traffic: [String: Int]) {
        self.endpoint = endpoint
        self.traffic = traffic
    }
}
