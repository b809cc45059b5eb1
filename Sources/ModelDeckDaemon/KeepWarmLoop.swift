import Foundation
import GRDB
import Logging
import ModelDeckCore
import ModelDeckTargets
import ServiceLifecycle
import Synchronization

/// Keeps endpoints warm, each on its own clock. `KeepWarmPlanner` decides every endpoint's next ping (stored
/// for the TUI); the loop sleeps until the earliest one is due — or until the registry changes or a ping
/// finishes — and then starts every due ping at once, to every version that takes traffic. Pings run
/// concurrently, at most `maxConcurrentPings` endpoints at a time and never two at once for one endpoint.
/// They are marked, so they never count as user traffic.
struct KeepWarmLoop: Service {
    let registry: Registry
    let drivers: Drivers
    let logger: Logger
    /// Endpoints pinged at the same time; more due at once wait for a free slot.
    var maxConcurrentPings = 32
    /// The registry is re-read when it changes, at most this often: while pings go out, each one's record
    /// changes it.
    var reloadInterval: Duration = .seconds(1)
    /// The longest the loop sleeps without a reason to wake.
    var maxSleep: Duration = .seconds(5)
    /// How long an endpoint whose pings reached nothing (its gateway is still starting, say) waits before the next try.
    var retryDelay: TimeInterval = 1

    /// The pause before trying an endpoint again after `failures` rounds in a row reached nothing.
    static func pause(afterFailures failures: Int, first: TimeInterval) -> TimeInterval {
        min(300, first * pow(2, Double(min(max(failures, 1), 20) - 1)))
    }

    struct EndpointState {
        var endpoint: Endpoint
        var weights: [String: Int]
        var lastInvocation: Date?
        var lastPing: Date?
        var histogram: IdleTimeHistogram
        var coldStartSeconds: Int64
        /// The most user requests in flight at once in the hour before the last one (adaptive warms that many).
        var recentConcurrency = 1
        var storedPlan: String?
        var storedNext: Date?
        /// A "ping now" someone asked for (TUI `p`, `modeldeck ping`), whatever the policy.
        var pingRequested: Date?
        /// The planner's rule the last time this state was planned, so an unchanged plan is not put into words again.
        var plannedRule: KeepWarmDecision.Rule?
    }

    func run() async throws {
        let watcher = try RegistryWatcher(path: registry.path)
        let pings = PingBook()
        var states: [String: EndpointState] = [:]
        var seen = watcher.version()
        var reloadPending = true
        var lastLoad: ContinuousClock.Instant?
        await withDiscardingTaskGroup { group in
            while !Task.isCancelled && !Task.isShuttingDownGracefully {
                if reloadPending, lastLoad.map({ .now - $0 >= reloadInterval }) ?? true {
                    lastLoad = .now
                    do {
                        states = try registry.read { db in try load(db, now: Date()) }
                        reloadPending = false
                    } catch { logger.error("keep-warm failed", metadata: ["error": "\(error)"]) }
                }
                var deadline = ContinuousClock.now + maxSleep
                if reloadPending, let lastLoad { deadline = min(deadline, lastLoad + reloadInterval) }
                var starved = false
                for ping in plan(&states, pings: pings, now: Date(), deadline: &deadline, starved: &starved) {
                    group.addTask { await send(ping, pings: pings) }
                }
                // Pings leave on time whatever the polling (the sleep ends at the deadline); registry changes are
                // re-read at most every `reloadInterval`, so a slower poll does, unless due pings wait for a slot.
                let version = await watcher.waitForChange(from: seen, until: deadline,
                                                          polling: starved ? RegistryWatcher.pollInterval : reloadInterval / 4,
                                                          orWhen: { starved && pings.takeFinished() })
                if version != seen {
                    seen = version
                    reloadPending = true
                }
            }
        }
    }

    /// A ping to send now.
    struct DuePing: Sendable {
        var endpoint: String
        var driver: any TargetDriver
        var pings: [String: Int]
        /// When it was due: the plan's next ping, or the request's time.
        var dueAt: Date
        var requested: Date?
    }

    /// Plans every endpoint, stores the plans that changed (in one transaction), and returns the pings due
    /// now that may start, marked in flight; `deadline` comes down to the next planned ping, and `starved`
    /// says whether a due ping waits for a free slot.
    func plan(_ states: inout [String: EndpointState], pings: PingBook, now: Date,
              deadline: inout ContinuousClock.Instant, starved: inout Bool) -> [DuePing] {
        let book = pings.snapshot()
        var free = maxConcurrentPings - book.inFlight.count
        var changed: [(String, KeepWarmPlan)] = []
        var due: [DuePing] = []
        func wake(at date: Date) {
            deadline = min(deadline, ContinuousClock.now + .seconds(max(0, date.timeIntervalSince(now))))
        }
        for name in states.keys {
            // A target that cannot be driven (no credentials) is not pinged: its deploys already say why.
            guard var state = states[name], let driver = drivers[state.endpoint.target], !(driver is UnavailableDriver) else { continue }
            let outcome = book.outcomes[name]
            // What a finished ping did is known here before the registry is re-read.
            let lastPing = [state.lastPing, outcome?.sentAt].compactMap { $0 }.max()
            let decision = KeepWarmPlanner.decide(policy: state.endpoint.keepWarm, now: now, lastInvocation: state.lastInvocation,
                                                  lastPing: lastPing, idleTimeoutSeconds: state.endpoint.idleTimeoutSeconds,
                                                  coldStartSeconds: state.coldStartSeconds, histogram: state.histogram,
                                                  recentConcurrency: state.recentConcurrency)
            // A plan that is due is the same plan whatever `now` says: it is not rewritten at every pass.
            let sameNext = decision.nextPing == state.storedNext
                || (decision.nextPing.map { $0 <= now } == true && state.storedNext.map { $0 <= now } == true)
            if decision.rule != state.plannedRule || !sameNext {
                let plan = decision.plan
                if plan.reason != state.storedPlan || !sameNext {
                    changed.append((name, plan))
                    state.storedPlan = plan.reason
                    state.storedNext = plan.nextPing
                }
                state.plannedRule = decision.rule
                states[name] = state
            }
            guard !book.inFlight.contains(name) else {
                // Its next ping is planned once it is back: an interval (a second at least) after this one went.
                wake(at: now.addingTimeInterval(1))
                continue
            }
            if let retryAt = outcome?.retryAt, retryAt > now {
                wake(at: retryAt)
                continue
            }
            let requested = state.pingRequested.flatMap { $0 == outcome?.answeredRequest ? nil : $0 }
            let scheduled = state.endpoint.keepWarm != .off ? decision.nextPing : nil
            guard let dueAt = [requested, scheduled].compactMap({ $0 }).min(), !state.weights.isEmpty else { continue }
            guard dueAt <= now else {
                wake(at: dueAt)
                continue
            }
            guard free > 0 else {
                starved = true // a finishing ping wakes the loop
                continue
            }
            free -= 1
            due.append(DuePing(endpoint: name, driver: driver,
                               pings: KeepWarmPlanner.pings(concurrency: max(1, decision.concurrency), weights: state.weights),
                               dueAt: dueAt, requested: requested))
        }
        if !changed.isEmpty {
            do { try save(changed, now: now) } catch {
                logger.error("keep-warm failed", metadata: ["error": "\(error)"])
                // Not stored: put into words and saved again at the next pass.
                for (name, _) in changed { states[name]?.plannedRule = nil; states[name]?.storedPlan = nil }
            }
        }
        for ping in due { pings.start(ping.endpoint) }
        return due
    }

    /// Sends one endpoint's pings (one version after another) and records them.
    private func send(_ ping: DuePing, pings: PingBook) async {
        let sentAt = Date()
        var results: [PingResult] = []
        var failures: [String] = []
        for (version, count) in ping.pings.sorted(by: { $0.key < $1.key }) {
            do {
                results += try await ping.driver.ping(endpoint: ping.endpoint, version: version, count: count)
            } catch {
                failures.append("\(version): \((error as? ModelDeckError)?.message ?? "\(error)")")
            }
        }
        guard !results.isEmpty else {
            // Nothing reached the target: not a ping, so it stays due, and is tried again after a pause.
            do { try noteFailure(ping.endpoint, failures.joined(separator: "; "), now: Date()) } catch {
                logger.error("keep-warm failed", metadata: ["error": "\(error)"])
            }
            // 1 s, 2 s, 4 s … up to 5 minutes: a target that keeps refusing (a deleted function, denied
            // access) is not asked every second, and a gateway still starting is asked again soon.
            pings.finish(ping.endpoint) { outcome in
                outcome.failures += 1
                outcome.retryAt = Date().addingTimeInterval(Self.pause(afterFailures: outcome.failures, first: retryDelay))
            }
            return
        }
        do { try record(ping, results: results, sentAt: sentAt) } catch {
            logger.error("keep-warm failed", metadata: ["error": "\(error)"])
        }
        pings.finish(ping.endpoint) { outcome in
            outcome.sentAt = sentAt
            outcome.retryAt = nil
            outcome.failures = 0
            if let requested = ping.requested { outcome.answeredRequest = requested }
        }
    }

    /// Every endpoint with keep-warm on or a ping asked for, in a few set queries (a fleet has thousands).
    private func load(_ db: Database, now: Date) throws -> [String: EndpointState] {
        var kept: [String: Row] = [:]
        for row in try Row.fetchAll(db, sql: "SELECT * FROM keep_warm_state") { kept[row["endpoint"]] = row }
        let endpoints = try Endpoint.fetchAll(db).filter { $0.keepWarm != .off || kept[$0.name]?["ping_requested_at"] as Date? != nil }
        guard !endpoints.isEmpty else { return [:] }
        var weights: [String: [String: Int]] = [:]
        for row in try Row.fetchAll(db, sql: "SELECT endpoint, version_id, weight FROM traffic WHERE weight > 0") {
            weights[row["endpoint"], default: [:]][row["version_id"]] = row["weight"]
        }
        var coldStartMs: [String: Int64] = [:]
        for row in try Row.fetchAll(db, sql: "SELECT endpoint, MAX(cold_start_ms) AS ms FROM instances GROUP BY endpoint") {
            coldStartMs[row["endpoint"]] = row["ms"]
        }
        let since = Int64(now.timeIntervalSince1970) - Int64(IdleTimeHistogram.binCount) * 60
        let peaks = try Registry.recentPeakConcurrency(db, since: since)
        var states: [String: EndpointState] = [:]
        for endpoint in endpoints {
            // Only the adaptive policy learns from traffic.
            // Buckets are 10 s wide, 1 min once rolled up after an hour, and 1 min from CloudWatch.
            let busy = endpoint.keepWarm == .adaptive ? try Row.fetchAll(db, sql: """
                SELECT DISTINCT start, width_s FROM metric_buckets WHERE endpoint = ? AND requests > 0 AND start >= ? ORDER BY start
                """, arguments: [endpoint.name, since]).map { (start: $0["start"] as Int64, width: $0["width_s"] as Int64) } : []
            let state = kept[endpoint.name]
            states[endpoint.name] = EndpointState(
                endpoint: endpoint, weights: weights[endpoint.name] ?? [:],
                // A bucket's end is the latest a request in it can have come.
                lastInvocation: busy.map { $0.start + $0.width }.max().map { Date(timeIntervalSince1970: TimeInterval($0)) },
                lastPing: state?["last_ping_at"], histogram: IdleTimeHistogram.from(busyBuckets: busy),
                coldStartSeconds: max(1, ((coldStartMs[endpoint.name] ?? 1_000) + 999) / 1_000),
                recentConcurrency: endpoint.keepWarm == .adaptive ? peaks[endpoint.name] ?? 1 : 1,
                storedPlan: state?["plan"], storedNext: state?["next_ping_at"], pingRequested: state?["ping_requested_at"])
        }
        return states
    }

    private func save(_ plans: [(endpoint: String, plan: KeepWarmPlan)], now: Date) throws {
        try registry.write { db in
            for (endpoint, plan) in plans {
                try db.execute(sql: """
                    INSERT INTO keep_warm_state (endpoint, next_ping_at, plan, updated_at) VALUES (?, ?, ?, ?)
                    ON CONFLICT (endpoint) DO UPDATE SET next_ping_at = excluded.next_ping_at, plan = excluded.plan, updated_at = excluded.updated_at
                    """, arguments: [endpoint, plan.nextPing, plan.reason, now])
            }
        }
    }

    private func noteFailure(_ endpoint: String, _ reason: String, now: Date) throws {
        try registry.write { db in
            try db.execute(sql: """
                INSERT INTO keep_warm_state (endpoint, last_result, updated_at) VALUES (?, ?, ?)
                ON CONFLICT (endpoint) DO UPDATE SET last_result = excluded.last_result, updated_at = excluded.updated_at
                """, arguments: [endpoint, "ping failed: \(reason)", now])
        }
        logger.notice("keep-warm ping failed", metadata: ["endpoint": "\(endpoint)", "reason": "\(reason)"])
    }

    private func record(_ ping: DuePing, results: [PingResult], sentAt: Date) throws {
        let endpoint = ping.endpoint
        let cold = results.filter(\.coldStart)
        let failed = results.filter { !(200..<300).contains($0.status) }
        var summary = "\(results.count) ping\(results.count == 1 ? "" : "s"): \(cold.count) cold"
        if let slowest = cold.map(\.milliseconds).max() { summary += " (up to \(slowest) ms)" }
        summary += ", \(results.count - cold.count) warm"
        if !failed.isEmpty { summary += ", \(failed.count) failed" }
        let now = Date()
        try registry.write { db in
            try db.execute(sql: """
                INSERT INTO keep_warm_state (endpoint, last_ping_at, last_ping_due_at, last_result, pings_sent, updated_at)
                VALUES (?, ?, ?, ?, ?, ?)
                ON CONFLICT (endpoint) DO UPDATE SET last_ping_at = excluded.last_ping_at, last_ping_due_at = excluded.last_ping_due_at,
                    last_result = excluded.last_result, pings_sent = pings_sent + excluded.pings_sent, updated_at = excluded.updated_at
                """, arguments: [endpoint, sentAt, ping.dueAt, summary, results.count, now])
            guard let requested = ping.requested else { return }
            // Only the request these pings answered: one made meanwhile gets pings of its own.
            try db.execute(sql: """
                UPDATE keep_warm_state SET ping_requested_at = NULL, ping_requested_by = NULL
                WHERE endpoint = ? AND ping_requested_at = ?
                """, arguments: [endpoint, requested])
            try db.record(AuditEvent(at: now, actor: "daemon", endpoint: endpoint, kind: "ping.sent", message: "ping \(endpoint): \(summary)"))
        }
        logger.info("keep-warm", metadata: ["endpoint": "\(endpoint)", "result": "\(summary)"])
    }
}

/// What the keep-warm loop and its ping tasks share: the endpoints being pinged, and what each endpoint's
/// last pings did (the registry says the same once the loop has re-read it).
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
        var finished = false
    }

    private let state = Mutex(State())

    func snapshot() -> (inFlight: Set<String>, outcomes: [String: Outcome]) {
        state.withLock { ($0.inFlight, $0.outcomes) }
    }

    func start(_ endpoint: String) {
        state.withLock { _ = $0.inFlight.insert(endpoint) }
    }

    func finish(_ endpoint: String, _ update: (inout Outcome) -> Void) {
        state.withLock { state in
            update(&state.outcomes[endpoint, default: Outcome()])
            state.inFlight.remove(endpoint)
            state.finished = true
        }
    }

    /// Whether a ping finished since the last call.
    func takeFinished() -> Bool {
        state.withLock { state in
            defer { state.finished = false }
            return state.finished
        }
    }
}
