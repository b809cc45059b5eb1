/// The name of a platform ModelDeck drives (`local`, `aws-lambda`, …): the `kind` of a target in a deck and
/// in the registry. Everything ModelDeck knows about a kind is in its `TargetDescriptor`; a kind exists only
/// when a descriptor declares it, so reading a kind that no descriptor knows fails (`init?(rawValue:)`).
///
/// A struct rather than an enum, so there is no exhaustive `switch` over the kinds to extend: a new kind is a
/// descriptor (plus its driver in ModelDeckTargets), never a case to add to switches elsewhere.
public struct TargetKind: RawRepresentable, Hashable, Codable, Sendable, CustomStringConvertible {
    public let rawValue: String

    /// A kind named by a descriptor (the static constants beside each descriptor).
    init(declaring name: String) { rawValue = name }

    /// The kind named `rawValue`, or nil when no descriptor declares it.
    public init?(rawValue: String) {
        guard let descriptor = TargetDescriptor.all.first(where: { $0.kind.rawValue == rawValue }) else { return nil }
        self = descriptor.kind
    }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let kind = TargetKind(rawValue: text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath,
                                                    debugDescription: "unknown target kind '\(text)'; use one of \(TargetKind.names)"))
        }
        self = kind
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }

    public var description: String { rawValue }

    /// Every kind, in the order of `TargetDescriptor.all`.
    public static var allKinds: [TargetKind] { TargetDescriptor.all.map(\.kind) }

    /// `local, aws-lambda, …` — for refusals that list the choices.
    public static var names: String { allKinds.map(\.rawValue).joined(separator: ", ") }

    /// Everything ModelDeck knows about this kind.
    public var descriptor: TargetDescriptor { TargetDescriptor.of(self) }
}
