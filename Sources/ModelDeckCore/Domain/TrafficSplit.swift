/// How an endpoint's requests are shared between versions: whole-percent weights that sum to 100.
public struct TrafficSplit: Equatable, Sendable {
    /// Version id (`model@version`) → weight in percent. Versions at 0 are dropped.
    public private(set) var weights: [String: Int]

    /// Builds a split, refusing weights that are negative, over 100, or do not sum to exactly 100.
    public init(_ weights: [String: Int], endpoint: String) throws {
        for (version, weight) in weights.sorted(by: { $0.key < $1.key }) where !(0...100).contains(weight) {
            throw ModelDeckError("endpoint '\(endpoint)': weight \(weight) for '\(version)' is outside 0–100")
        }
        let sum = weights.values.reduce(0, +)
        guard sum == 100 else {
            let listed = weights.sorted(by: { $0.key < $1.key }).map { "\($0.key)=\($0.value)" }.joined(separator: ", ")
            throw ModelDeckError("endpoint '\(endpoint)': traffic weights sum to \(sum), they must sum to 100 (\(listed))")
        }
        self.weights = weights.filter { $0.value > 0 }
    }

    /// All traffic on one version.
    public static func all(on version: String) -> TrafficSplit {
        // Force-try is safe: a single weight of 100 always sums to 100.
        try! TrafficSplit([version: 100], endpoint: "")
    }

    /// The version with the largest share (ties broken by id, so the answer is stable).
    public var primary: String? { Self.primary(of: weights) }

    /// The version with the largest weight in `weights` (ties broken by id).
    public static func primary(of weights: [String: Int]) -> String? {
        weights.filter { $0.value > 0 }
            .max { lhs, rhs in lhs.value != rhs.value ? lhs.value < rhs.value : lhs.key > rhs.key }?.key
    }

    /// `sentiment@v1 90%, sentiment@v2 10%`, largest first.
    public var summary: String {
        weights.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }
            .map { "\($0.key) \($0.value)%" }.joined(separator: ", ")
    }
}
