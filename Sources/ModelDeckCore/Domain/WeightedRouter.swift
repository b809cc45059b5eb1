/// Picks the version a request goes to from an endpoint's traffic weights.
///
/// Pure: the caller supplies a uniform roll in 0..<100 (from a random source in production, fixed in
/// tests), so the mapping from weights to versions is exactly testable. Versions are ordered by id so the
/// same weights always cut the range the same way.
public enum WeightedRouter {
    /// The version whose share of 0..<100 contains `roll`; nil when nothing takes traffic.
    public static func pick(_ weights: [String: Int], roll: Int) -> String? {
        precondition((0..<100).contains(roll), "roll must be in 0..<100")
        // One version (most endpoints, at every request): no sorted copy of the weights.
        if weights.count == 1, let (version, weight) = weights.first { return roll < weight ? version : nil }
        var upper = 0
        for (version, weight) in weights.sorted(by: { $0.key < $1.key }) where weight > 0 {
            upper += weight
            if roll < upper { return version }
        }
        return nil
    }

    /// Picks with a roll drawn from `generator`.
    public static func pick<G: RandomNumberGenerator>(_ weights: [String: Int], using generator: inout G) -> String? {
        // One version taking all the traffic: every roll picks it; none is drawn.
        if weights.count == 1, let (version, weight) = weights.first, weight >= 100 { return version }
        return pick(weights, roll: Int.random(in: 0..<100, using: &generator))
    }
}
