import Foundation
import ModelDeckCore
import Synchronization

/// How long keep-warm leaves an endpoint whose pings reached nothing before trying again.
enum KeepWarmBackoff {
    /// The pause before trying an endpoint again after `failures` rounds in a row reached nothing.
    static func pause(afterFailures failures: Int, first: TimeInterval) -> TimeInterval {
        RetrySchedule(first: first, cap: 300).pause(afterFailures: failures)
    }
}

/// What the keep-warm loop and its ping tasks share: the endpoints being pinged, what each endpoint's last
/// pings did (the registry says the same once the loop has re-read it), and which finished since the loop
/// last looked (planned again then).
final class PingBook: Sendable {
    struct Outcome: Sendable {
        /// When the last pings that reached the target were sent.
        var sentAt: Date?
        /// The "ping now" request they answered.
        var answeredRequest: Date?
        /// Nothing reached the target: not before this.
        var retryAt: Date?
        /// Rounds in a row in which nothing reached the target; each doubles the pause before the next.
        var failures = 0
    }

    private struct State {
        var inFlight: Set<String> = []
        var outcomes: [String: Outcome] = [:]
        var finished: Set<String> = []
    }

    private let state = Mutex(State())

    /// Whether `endpoint` is being pinged, and what its last pings did.
    func status(of endpoint: String) -> (inFlight: Bool, outcome: Outcome?) {
        state.withLock { ($0.inFlight.contains(endpoint), $0.outcomes[endpoint]) }
    }

    var inFlightCount: Int { state.withLock { $0.inFlight.count } }

    func start(_ endpoint: String) {
        state.withLock { _ = $0.inFlight.insert(endpoint) }
    }

    func finish(_ endpoint: String, _ update: (inout Outcome) -> Void) {
        state.withLock { state in
            update(&state.outcomes[endpoint, default: Outcome()])
            state.inFlight.remove(endpoint)
            state.finished.insert(endpoint)
        }
    }

    /// Whether a ping finished since the last `takeFinished`.
    var hasFinished: Bool { state.withLock { !$0.finished.isEmpty } }

    /// The endpoints whose pings finished since the last call.
    func takeFinished() -> Set<String> {
        state.withLock { state in
            defer { state.finished = [] }
            return state.finished
        }
    }
}
