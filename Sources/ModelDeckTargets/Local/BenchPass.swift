import HTTPTypes
import ModelDeckCore
import Synchronization

/// Which requests are `modeldeck bench` traffic: those that carry, in `X-ModelDeck-Bench`, the token of a bench run
/// of that endpoint that is running in the registry. Such a request may pin its version (`X-ModelDeck-Version`) and
/// ask for a cold instance (`X-ModelDeck-Bench-Cold: 1`), and is left out of the metric buckets (user latency,
/// errors, cold starts, SLO gates, warm-hit rates): the run stores its own figures and cost (`bench_runs`).
/// As with pings (`WarmupSecret`), honouring those headers from anyone would let a caller pin the canary or hide
/// its traffic from the gate; the token is only known to whoever can write the registry.
final class BenchPasses: Sendable {
    static let header = HTTPField.Name("X-ModelDeck-Bench")!
    static let coldHeader = HTTPField.Name("X-ModelDeck-Bench-Cold")!
    static let processStartHeader = HTTPField.Name("X-ModelDeck-Process-Start-Ms")!
    static let modelLoadHeader = HTTPField.Name("X-ModelDeck-Model-Load-Ms")!

    private let registry: Registry
    /// Answers for a second, so a run at 1,000 requests a second asks the registry about once a second.
    private let answers = Mutex<[String: (valid: Bool, at: ContinuousClock.Instant)]>([:])

    init(registry: Registry) { self.registry = registry }

    /// Whether `token` is valid for `endpoint` without asking the registry: false without a token (or with one
    /// no run could have), the answer of the last second when there is one, else nil (then `isValid` asks).
    func known(_ token: String?, endpoint: String) -> Bool? {
        guard let token, !token.isEmpty, token.utf8.count <= 64 else { return false }
        let key = endpoint + " " + token
        guard let hit = answers.withLock({ $0[key] }), ContinuousClock.now - hit.at < .seconds(1) else { return nil }
        return hit.valid
    }

    func isValid(_ token: String?, endpoint: String) async -> Bool {
        if let known = known(token, endpoint: endpoint) { return known }
        guard let token else { return false }
        let key = endpoint + " " + token
        let valid = (try? await registry.perform { try $0.benchPassIsValid(token, endpoint: endpoint) }) ?? false
        answers.withLock { cache in
            if cache.count >= 1_024 { cache.removeAll() }
            cache[key] = (valid, .now)
        }
        return valid
    }
}
