import Foundation
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
struct KeepWarmLoop<C: Clock>: Sendable where C.Duration == Duration {
    let registry: Registry
    let drivers: any DriverSource
    let logger: Logger
    /// When pings are due, and how long the loop may sleep, are reckoned on this clock (a test clock in tests).
    let clock: C
    /// Endpoints pinged at the same time; more due at once wait for a free slot.
    var maxConcurrentPings = 32
    /// The registry is re-read when it changes, at most this often: while pings go out, each one's record
    /// changes it.
    var reloadInterval: Duration = .seconds(1)
    /// The longest the loop sleeps without a reason to wake.
    var maxSleep: Duration = .seconds(5)
    /// How long an endpoint whose pings reached nothing (its gateway is still starting, say) waits before the next try.
    var retryDelay: TimeInterval = 1
    /// Records the pings the target does not record itself; one for the loop's life, so the fractions of a
    /// micro-dollar each ping costs are carried, not lost at each flush.
    let pingRecorder = InvocationRecorder()
    /// What pings the target does not record itself are priced with (`TargetPricing`).
    var prices: PriceTable = (try? PriceTable.load()) ?? .standard

    struct EndpointState {
        var endpoint: Endpoint
        var weights: [String: Int]
        /// The versions that take traffic, by id.
        var versions: [String: ModelVersion] = [:]
        var lastInvocation: Date?
        var lastPing: Date?
        var histogram: IdleTimeHistogram
        var coldStartSeconds: Int64
        /// The most user requests in flight at once in the hour before the last one (adaptive warms that many).
        var recentConcurrency = 1
        /// How long the platform keeps an idle instance, learned from cold starts after idle gaps
        /// (`KeepAliveLearner`); the endpoint's configured `idle_timeout` until there is enough evidence.
        var learnedKeepAlive: LearnedKeepAlive? = nil
        var storedPlan: String?
        var storedNext: Date?
        /// A "ping now" someone asked for (TUI `p`, `modeldeck ping`), whatever the policy.
        var pingRequested: Date?
        /// The planner's rule the last time this state was planned, so an unchanged plan is not put into words again.
        var plannedRule: KeepWarmDecision.Rule?
    }

    /// A ping to send now.
    struct DuePing: Sendable {
        var endpoint: String
        var settings: Endpoint
        var versions: [String: ModelVersion]
        var driver: any TargetDriver
        var pings: [String: Int]
        /// When it was due: the plan's next ping, or the request's time.
        var dueAt: Date
        var requested: Date?
    }

    /// Plans every endpoint, gives the plans that changed in `unsaved` (for `save`), and returns the pings due
    /// now that may start, marked in flight; `deadline` comes down to the next planned ping, and `starved`
    /// says whether a due ping waits for a free slot.
    func plan(_ states: inout [String: EndpointState], pings: PingBook, now: Date,
              deadline: inout C.Instant, starved: inout Bool, unsaved: inout [(String, KeepWarmPlan)]) -> [DuePing] {
        let book = pings.snapshot()
        var free = maxConcurrentPings - book.inFlight.count
        var changed: [(String, KeepWarmPlan)] = []
        var due: [DuePing] = []
        func wake(at date: Date) {
            deadline = min(deadline, clock.now.advanced(by: .seconds(max(0, date.timeIntervalSince(now)))))
        }
        // Each target's driver, looked up once per pass.
        var driverOf: [String: (any TargetDriver)?] = [:]
        func driver(for target: String) -> (any TargetDriver)? {
            if let known = driverOf[target] { return known }
            let found = drivers[target].flatMap { $0.unavailableReason == nil ? $0 : nil }
            driverOf[target] = .some(found)
            return found
        }
        // Each state is planned in place: not copied at every pass (a fleet has thousands, and a pass comes with
        // each due ping).
        func visit(_ name: String, _ state: inout EndpointState) {
            // A target that cannot be driven (no credentials) is not pinged: its deploys already say why.
            guard let driver = driver(for: state.endpoint.target) else { return }
            let outcome = book.outcomes[name]
            // What a finished ping did is known here before the registry is re-read.
            let lastPing = Self.later(state.lastPing, outcome?.sentAt)
            // A fixed policy's concurrency by the clock; the loop wakes when the next entry fires.
            let timetable = KeepWarmPlanner.scheduled(state.endpoint.keepWarm, schedule: state.endpoint.keepWarmSchedule,
                                                      now: now, lastPing: lastPing)
            if let change = timetable.nextChange { wake(at: change) }
            let decision = KeepWarmPlanner.decide(policy: timetable.policy, now: now, lastInvocation: state.lastInvocation,
                                                  lastPing: lastPing, idleTimeoutSeconds: state.learnedKeepAlive?.seconds ?? state.endpoint.idleTimeoutSeconds,
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
            }
            guard !book.inFlight.contains(name) else {
                // Its next ping is planned once it is back: an interval (a second at least) after this one went.
                wake(at: now.addingTimeInterval(1))
                return
            }
            if let retryAt = outcome?.retryAt, retryAt > now {
                wake(at: retryAt)
                return
            }
            let requested = state.pingRequested.flatMap { $0 == outcome?.answeredRequest ? nil : $0 }
            let scheduled = timetable.policy != .off ? Self.earlier(decision.nextPing, timetable.firedSinceLastPing) : nil
            guard let dueAt = Self.earlier(requested, scheduled), !state.weights.isEmpty else { return }
            guard dueAt <= now else {
                wake(at: dueAt)
                return
            }
            guard free > 0 else {
                starved = true // a finishing ping wakes the loop
                return
            }
            free -= 1
            due.append(DuePing(endpoint: name, settings: state.endpoint, versions: state.versions, driver: driver,
                               pings: KeepWarmPlanner.pings(concurrency: max(1, decision.concurrency), weights: state.weights),
                               dueAt: dueAt, requested: requested))
        }
        for index in states.indices { visit(states.keys[index], &states.values[index]) }
        for ping in due { pings.start(ping.endpoint) }
        unsaved = changed
        return due
    }

    /// The earlier of two optional dates, or the one there is (without an array at each endpoint of each pass).
    static func earlier(_ a: Date?, _ b: Date?) -> Date? {
        guard let a, let b else { return a ?? b }
        return min(a, b)
    }

    /// The later of two optional dates, or the one there is.
    static func later(_ a: Date?, _ b: Date?) -> Date? {
        guard let a, let b else { return a ?? b }
        return max(a, b)
    }

    /// Stores the plans that changed (for the dashboard), once the due pings have left: a ping never waits for
    /// the registry's write lock.
    func save(_ plans: [(String, KeepWarmPlan)], _ states: inout [String: EndpointState], now: Date) async {
        guard !plans.isEmpty else { return }
        do { try await registry.perform { try $0.saveKeepWarmPlans(plans, now: now) } } catch {
            logger.error("keep-warm failed", metadata: ["error": "\(error)"])
            // Not stored: put into words and saved again at the next pass.
            for (name, _) in plans { states[name]?.plannedRule = nil; states[name]?.storedPlan = nil }
        }
    }

    /// Sends one endpoint's pings (one version after another) and records them.
    private func send(_ ping: DuePing, pings: PingBook) async {
        let sentAt = Date()
        var results: [PingResult] = []
        var failures: [String] = []
        var unrecorded: [Invocation] = []
        for (version, count) in ping.pings.sorted(by: { $0.key < $1.key }) {
            do {
                guard let found = ping.versions[version] else { throw ModelDeckError("no version '\(version)' in the registry") }
                let answered = try await ping.driver.ping(found, of: ping.settings, count: count)
                results += answered
                let refused = answered.flatMap(\.refused)
                if !refused.isEmpty {
                    logger.warning("keep-warm answer out of range, left out", metadata: [
                        "endpoint": "\(ping.endpoint)", "version": "\(version)", "fields": "\(refused.prefix(5).joined(separator: "; "))",
                    ])
                }
                // What the target did not record itself (a cloud platform's pings), the daemon prices and records.
                let rates = try? TargetPricing.rates(for: ping.driver.target, table: prices)
                for result in answered where !result.recordedByTarget {
                    unrecorded.append(result.invocation(endpoint: ping.settings, version: version, at: sentAt, concurrent: answered.count, rates: rates))
                }
            } catch {
                failures.append("\(version): \((error as? ModelDeckError)?.message ?? "\(error)")")
            }
        }
        guard !results.isEmpty else {
            // Nothing reached the target: not a ping, so it stays due, and is tried again after a pause.
            do { try await noteFailure(ping.endpoint, failures.joined(separator: "; "), now: Date()) } catch {
                logger.error("keep-warm failed", metadata: ["error": "\(error)"])
            }
            // 1 s, 2 s, 4 s … up to 5 minutes: a target that keeps refusing (a deleted function, denied
            // access) is not asked every second, and a gateway still starting is asked again soon.
            pings.finish(ping.endpoint) { outcome in
                outcome.failures += 1
                outcome.retryAt = Date().addingTimeInterval(KeepWarmBackoff.pause(afterFailures: outcome.failures, first: retryDelay))
            }
            return
        }
        if !unrecorded.isEmpty {
            let recorder = pingRecorder
            for invocation in unrecorded { recorder.record(invocation) }
            do { try await registry.perform { try recorder.flush(to: $0, instances: [], endpoints: []) } } catch {
                logger.error("keep-warm failed", metadata: ["error": "\(error)"])
            }
        }
        do { try await record(ping, results: results, sentAt: sentAt) } catch {
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
    /// The platform keep-alives (a day of buckets) are learned again only once `KeepAliveLearner.relearnSeconds`
    /// have passed since `keepAlives` was learned, not at every reload.
    private func load(now: Date, keepAlives: inout (at: Date, learned: [String: LearnedKeepAlive])?) async throws -> [String: EndpointState] {
        let since = now.addingTimeInterval(-Double(IdleTimeHistogram.binCount) * 60)
        let relearn = keepAlives.map { now.timeIntervalSince($0.at) >= KeepAliveLearner.relearnSeconds } ?? true
        let (inputs, busy, peaks, fresh) = try await registry.perform { registry in
            let inputs = try registry.keepWarmInputs()
            // Only the adaptive policy learns from traffic.
            let adaptive = inputs.filter { $0.endpoint.keepWarm == .adaptive }.map(\.endpoint.name)
            return (inputs, try registry.busyIntervals(endpoints: adaptive, since: since),
                    adaptive.isEmpty ? [:] : try registry.recentPeakConcurrency(since: Int64(since.timeIntervalSince1970)),
                    relearn ? try registry.learnedKeepAlives(endpoints: adaptive, since: now.addingTimeInterval(-KeepAliveLearner.lookbackSeconds)) : nil)
        }
        if let fresh { keepAlives = (now, fresh) }
        var states: [String: EndpointState] = [:]
        for input in inputs {
            // Buckets are 10 s wide, 1 min once rolled up after an hour, and 1 min from CloudWatch.
            let intervals = busy[input.endpoint.name] ?? []
            states[input.endpoint.name] = EndpointState(
                endpoint: input.endpoint, weights: input.weights, versions: input.versions,
                // A bucket's end is the latest a request in it can have come.
                lastInvocation: intervals.map { $0.start + $0.width }.max().map { Date(timeIntervalSince1970: TimeInterval($0)) },
                lastPing: input.state?.lastPingAt, histogram: IdleTimeHistogram.from(busyBuckets: intervals),
                coldStartSeconds: max(1, ((input.slowestColdStartMs ?? 1_000) + 999) / 1_000),
                recentConcurrency: input.endpoint.keepWarm == .adaptive ? peaks[input.endpoint.name] ?? 1 : 1,
                learnedKeepAlive: keepAlives?.learned[input.endpoint.name],
                storedPlan: input.state?.plan, storedNext: input.state?.nextPingAt, pingRequested: input.state?.pingRequestedAt)
        }
        return states
    }

    private func noteFailure(_ endpoint: String, _ reason: String, now: Date) async throws {
        try await registry.perform { try $0.noteKeepWarmFailure(endpoint: endpoint, reason: reason, now: now) }
        logger.notice("keep-warm ping failed", metadata: ["endpoint": "\(endpoint)", "reason": "\(reason)"])
    }

    private func record(_ ping: DuePing, results: [PingResult], sentAt: Date) async throws {
        let endpoint = ping.endpoint
        let cold = results.filter(\.coldStart)
        let failed = results.filter { !(200..<300).contains($0.status) }
        var summary = "\(results.count) ping\(results.count == 1 ? "" : "s"): \(cold.count) cold"
        if let slowest = cold.map(\.milliseconds).max() { summary += " (up to \(slowest) ms)" }
        summary += ", \(results.count - cold.count) warm"
        if !failed.isEmpty { summary += ", \(failed.count) failed" }
        let (dueAt, requested, count, result) = (ping.dueAt, ping.requested, results.count, summary)
        try await registry.perform {
            try $0.recordPings(endpoint: endpoint, sentAt: sentAt, dueAt: dueAt, count: count, summary: result, answering: requested, now: Date())
        }
        logger.info("keep-warm", metadata: ["endpoint": "\(endpoint)", "result": "\(summary)"])
    }
}

extension KeepWarmLoop: Service where C == ContinuousClock {
    func run() async throws {
        let watcher = try RegistryWatcher(path: registry.path)
        let pings = PingBook()
        var states: [String: EndpointState] = [:]
        var seen = watcher.version()
        var reloadPending = true
        var lastLoad: ContinuousClock.Instant?
        var keepAlives: (at: Date, learned: [String: LearnedKeepAlive])?
        await withDiscardingTaskGroup { group in
            while !Task.isCancelled && !Task.isShuttingDownGracefully {
                if reloadPending, lastLoad.map({ .now - $0 >= reloadInterval }) ?? true {
                    lastLoad = .now
                    do {
                        states = try await load(now: Date(), keepAlives: &keepAlives)
                        reloadPending = false
                    } catch { logger.error("keep-warm failed", metadata: ["error": "\(error)"]) }
                }
                var deadline = clock.now + maxSleep
                if reloadPending, let lastLoad { deadline = min(deadline, lastLoad + reloadInterval) }
                var starved = false
                var unsaved: [(String, KeepWarmPlan)] = []
                let now = Date()
                for ping in plan(&states, pings: pings, now: now, deadline: &deadline, starved: &starved, unsaved: &unsaved) {
                    group.addTask { await send(ping, pings: pings) }
                }
                await save(unsaved, &states, now: now)
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
}

/// How long keep-warm leaves an endpoint whose pings reached nothing before trying again.
enum KeepWarmBackoff {
    /// The pause before trying an endpoint again after `failures` rounds in a row reached nothing.
    static func pause(afterFailures failures: Int, first: TimeInterval) -> TimeInterval {
        RetrySchedule(first: first, cap: 300).pause(afterFailures: failures)
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
