import HTTPTypes

/// The per-daemon secret that marks a keep-warm ping.
///
/// Pings are left out of user latency, errors, cold starts and the SLO gate, may name the version they warm
/// (`X-ModelDeck-Version`) and may hold an instance (`X-ModelDeck-Warmup-Hold-Ms`). Honoured from anyone,
/// those headers would let any caller pin the canary, hide its traffic from the gate, and hold instances.
/// So the daemon makes a random secret at start, keeps it in memory, gives it to the gateway it runs, and
/// sends it with each ping; anything else is user traffic.
public enum WarmupSecret {
    public static let header = HTTPField.Name("X-ModelDeck-Warmup-Secret")!

    /// 32 random bytes as hex, from the system's CSPRNG.
    public static func make() -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<4).map { _ in
            let word = generator.next() as UInt64
            let hex = String(word, radix: 16)
            return String(repeating: "0", count: 16 - hex.count) + hex
        }.joined()
    }

    /// Compares without stopping at the first difference, so timing says nothing about the secret.
    public static func matches(_ given: String?, _ secret: String) -> Bool {
        guard let given else { return false }
        let a = Array(given.utf8), b = Array(secret.utf8)
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for index in 0..<a.count { difference |= a[index] ^ b[index] }
        return difference == 0
    }
}
