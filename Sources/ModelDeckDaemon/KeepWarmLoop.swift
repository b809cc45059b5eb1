import Foundation
import Logging
import ModelDeckCore
import ModelDeckTargets
import ServiceLifecycle

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
    /// The registry watcher it waits on (the daemon's loops share one); nil: its own.
    var watcher: RegistryWatcher?
    /// How long an endpoint whose pings reached nothing (its gateway is still starting, say) waits before the next try.
    var retryDelay: TimeInterval = 1
    /// Where pings' records and changed plans wait to be written, in batches; one for the loop's life.
    let ledger = PingLedger()
    /// What pings the target does not record itself are priced with (`TargetPricing`).
    var prices: PriceTable = (try? PriceTable.load()) ?? .standard

    typealias EndpointState = KeepWarmEndpointState

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

    /// Plans the endpoints that are pending (inputs changed, a ping finished) and those whose wake time came,
    /// in wake order, gives the plans that changed in `unsaved` (for `save`), and returns the pings due now that
    /// may start, marked in flight; `deadline` comes down to the next wake, and `starved` says whether a due
    /// ping waits for a free slot. Every other endpoint is left as it is: its plan holds until its wake.
    func plan(_ agenda: inout KeepWarmAgenda, pings: PingBook, now: Date,
              deadline: inout C.Instant, starved: inout Bool, unsaved: inout [(String, KeepWarmPlan)]) -> [DuePing] {
        agenda.markPending(pings.takeFinished())
        agenda.follow(drivers)
        var free = maxConcurrentPings - pings.inFlightCount
        var changed: [(String, KeepWarmPlan)] = []
        var due: [DuePing] = []
        // `woken`: taken from the heap at its wake time, so a due ping may leave now.
        func visit(_ name: String, woken: Bool) {
            guard let state = agenda[name] else { return }
            // A target that cannot be driven (no credentials) is not pinged: its deploys already say why.
            guard let driver = agenda.driver(for: state.endpoint.target, in: drivers) else {
                agenda.noteUndriven(name)
                agenda.wake(name, at: nil)
                return
            }
            let (inFlight, outcome) = pings.status(of: name)
            // What a finished ping did is known here before the registry is re-read.
            let lastPing = Self.later(state.lastPing, outcome?.sentAt)
            // A fixed policy's concurrency by the clock; the endpoint is looked at again when the next entry fires.
            let timetable = KeepWarmPlanner.scheduled(state.endpoint.keepWarm, schedule: state.endpoint.keepWarmSchedule,
                                                      now: now, lastPing: lastPing)
            let decision = KeepWarmPlanner.decide(policy: timetable.policy, now: now, lastInvocation: state.lastInvocation,
                                                  lastPing: lastPing, idleTimeoutSeconds: state.learnedKeepAlive?.seconds ?? state.endpoint.idleTimeoutSeconds,
                                                  coldStartSeconds: state.coldStartSeconds, histogram: state.histogram,
                                                  recentConcurrency: state.recentConcurrency)
            // A plan that is due is the same plan whatever `now` says: it is not rewritten at every pass.
            let sameNext = decision.nextPing == state.storedNext
                || (decision.nextPing.map { $0 <= now } == true && state.storedNext.map { $0 <= now } == true)
            if decision.rule != state.plannedRule || !sameNext {
                let plan = decision.plan
                agenda.withState(name) { state in
                    if plan.reason != state.storedPlan || !sameNext {
                        changed.append((name, plan))
                        state.storedPlan = plan.reason
                        state.storedNext = plan.nextPing
                    }
                    state.plannedRule = decision.rule
                }
            }
            // Besides its next ping, the clock changes a plan when a schedule entry fires, and when an adaptive
            // endpoint goes dormant (no request for the histogram's span).
            var revisit = timetable.nextChange
            if state.endpoint.keepWarm == .adaptive, let last = state.lastInvocation {
                let dormant = last.addingTimeInterval(TimeInterval(IdleTimeWindow.spanSeconds))
                if dormant > now { revisit = Self.earlier(revisit, dormant) }
            }
            guard !inFlight else {
                // Its next ping is planned once it is back (its end marks it pending); looked at in a second anyway.
                agenda.wake(name, at: Self.earlier(revisit, now.addingTimeInterval(1)))
                return
            }
            if let retryAt = outcome?.retryAt, retryAt > now {
                agenda.wake(name, at: Self.earlier(revisit, retryAt))
                return
            }
            let requested = state.pingRequested.flatMap { $0 == outcome?.answeredRequest ? nil : $0 }
            let scheduled = timetable.policy != .off ? Self.earlier(decision.nextPing, timetable.firedSinceLastPing) : nil
            guard let dueAt = Self.earlier(requested, scheduled), !state.weights.isEmpty else {
                agenda.wake(name, at: revisit)
                return
            }
            guard dueAt <= now else {
                agenda.wake(name, at: Self.earlier(revisit, dueAt))
                return
            }
            guard woken, free > 0 else {
                // Leaves from the heap, in due order (the longest overdue first when the slots are short); with
                // no slot, it waits there for a finishing ping to wake the loop.
                agenda.wake(name, at: dueAt)
                return
            }
            free -= 1
            pings.start(name)
            agenda.wake(name, at: revisit)
            due.append(DuePing(endpoint: name, settings: state.endpoint, versions: state.versions, driver: driver,
                               pings: KeepWarmPlanner.pings(concurrency: max(1, decision.concurrency), weights: state.weights),
                               dueAt: dueAt, requested: requested))
        }
        for name in agenda.takePending() { visit(name, woken: false) }
        // Due wakes in time order, as long as there is a slot for a ping.
        while free > 0, let name = agenda.popDue(now: now) { visit(name, woken: true) }
        if let next = agenda.nextWake() {
            if next.at <= now {
                starved = true
            } else {
                deadline = min(deadline, clock.now.advanced(by: .seconds(next.at.timeIntervalSince(now))))
            }
        }
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
        let record = PingRecord(endpoint: ping.endpoint, sentAt: sentAt, dueAt: ping.dueAt, count: results.count,
                                summary: Self.summary(results), answering: ping.requested)
        let writes = ledger.add(record, invocations: unrecorded)
        logger.info("keep-warm", metadata: ["endpoint": "\(ping.endpoint)", "result": "\(record.summary)"])
        pings.finish(ping.endpoint) { outcome in
            outcome.sentAt = sentAt
            outcome.retryAt = nil
            outcome.failures = 0
            if let requested = ping.requested { outcome.answeredRequest = requested }
        }
        // The first since the last write waits for the others, and writes them all.
        if writes { await ledger.write(to: registry, logger: logger) }
    }

    /// What the last reload read, so the next one reads only what moved.
    struct Readings {
        /// The catalog and keep-warm generations the endpoints were read at; nil before the first read.
        var stamp: Registry.KeepWarmStamp?
        /// The adaptive endpoints as last read: their traffic figures are read again at each reload.
        var adaptive: [KeepWarmInput] = []
        /// When the platform keep-alives were learned, and what.
        var keepAlives: (at: Date, learned: [String: LearnedKeepAlive])?
    }

    /// Reads what changed since `readings`. Every endpoint with keep-warm on or a ping asked for is read (in a
    /// few set queries) only when the catalog (targets, endpoints, versions, weights) or a ping request moved;
    /// otherwise only the adaptive endpoints' traffic (their idle times, peaks, cold starts), the only inputs
    /// that move with traffic. The platform keep-alives (a day of buckets) are learned again only once
    /// `KeepAliveLearner.relearnSeconds` have passed. Only the endpoints whose inputs differ become pending.
    func reload(_ agenda: inout KeepWarmAgenda, _ readings: inout Readings, now: Date) async throws {
        let since = now.addingTimeInterval(-Double(IdleTimeHistogram.binCount) * 60)
        let relearn = readings.keepAlives.map { now.timeIntervalSince($0.at) >= KeepAliveLearner.relearnSeconds } ?? true
        let (known, adaptiveBefore) = (readings.stamp, readings.adaptive)
        let read = try await registry.perform { registry in
            let (stamp, inputs) = try registry.keepWarmInputs(unless: known)
            // Only the adaptive policy learns from traffic.
            let adaptive = inputs?.filter { $0.endpoint.keepWarm == .adaptive } ?? adaptiveBefore
            let names = adaptive.map(\.endpoint.name)
            guard !names.isEmpty else {
                return (stamp, inputs, adaptive, [String: [(start: Int64, width: Int64)]](), [String: Int](), [String: LearnedKeepAlive]?.none)
            }
            // The cold starts come with a full read; between two, the adaptive endpoints' are read again.
            let coldStarts = inputs == nil ? try registry.slowestColdStarts(endpoints: names) : nil
            return (stamp, inputs, adaptive.map { input in
                        var input = input
                        if let coldStarts { input.slowestColdStartMs = coldStarts[input.endpoint.name] }
                        return input
                    },
                    try registry.busyIntervals(endpoints: names, since: since),
                    try registry.recentPeakConcurrency(since: Int64(since.timeIntervalSince1970)),
                    relearn ? try registry.learnedKeepAlives(endpoints: names, since: now.addingTimeInterval(-KeepAliveLearner.lookbackSeconds)) : nil)
        }
        let (stamp, inputs, adaptive, busy, peaks, fresh) = read
        if let fresh { readings.keepAlives = (now, fresh) }
        readings.stamp = stamp
        readings.adaptive = adaptive
        func state(_ input: KeepWarmInput) -> EndpointState {
            // Buckets are 10 s wide, 1 min once rolled up after an hour, and 1 min from CloudWatch.
            let intervals = busy[input.endpoint.name] ?? []
            return EndpointState(
                endpoint: input.endpoint, weights: input.weights, versions: input.versions,
                // A bucket's end is the latest a request in it can have come.
                lastInvocation: intervals.map { $0.start + $0.width }.max().map { Date(timeIntervalSince1970: TimeInterval($0)) },
                lastPing: input.state?.lastPingAt, histogram: IdleTimeHistogram.from(busyBuckets: intervals),
                coldStartSeconds: max(1, ((input.slowestColdStartMs ?? 1_000) + 999) / 1_000),
                recentConcurrency: input.endpoint.keepWarm == .adaptive ? peaks[input.endpoint.name] ?? 1 : 1,
                learnedKeepAlive: readings.keepAlives?.learned[input.endpoint.name],
                storedPlan: input.state?.plan, storedNext: input.state?.nextPingAt, pingRequested: input.state?.pingRequestedAt)
        }
        if let inputs {
            agenda.replace(with: Dictionary(inputs.map { ($0.endpoint.name, state($0)) }, uniquingKeysWith: { a, _ in a }))
        } else {
            for input in adaptive { agenda.update(input.endpoint.name, state(input)) }
        }
    }

    private func noteFailure(_ endpoint: String, _ reason: String, now: Date) async throws {
        try await registry.perform { try $0.noteKeepWarmFailure(endpoint: endpoint, reason: reason, now: now) }
        logger.notice("keep-warm ping failed", metadata: ["endpoint": "\(endpoint)", "reason": "\(reason)"])
    }

    /// What pings did, in words: "2 pings: 1 cold (up to 840 ms), 1 warm".
    static func summary(_ results: [PingResult]) -> String {
        let cold = results.filter(\.coldStart)
        let failed = results.filter { !(200..<300).contains($0.status) }
        var summary = "\(results.count) ping\(results.count == 1 ? "" : "s"): \(cold.count) cold"
        if let slowest = cold.map(\.milliseconds).max() { summary += " (up to \(slowest) ms)" }
        summary += ", \(results.count - cold.count) warm"
        if !failed.isEmpty { summary += ", \(failed.count) failed" }
        return summary
    }
}

extension KeepWarmLoop: Service where C == ContinuousClock {
    func run() async throws {
        // Woken by inotify at each commit (a ping asked for, a ping's own record).
        let watcher = try self.watcher ?? RegistryWatcher(path: registry.path, notified: true)
        let pings = PingBook()
        var agenda = KeepWarmAgenda()
        var readings = Readings()
        var seen = watcher.version()
        var reloadPending = true
        var lastLoad: ContinuousClock.Instant?
        await withDiscardingTaskGroup { group in
            while !Task.isCancelled && !Task.isShuttingDownGracefully {
                if reloadPending, lastLoad.map({ .now - $0 >= reloadInterval }) ?? true {
                    lastLoad = .now
                    do {
                        try await reload(&agenda, &readings, now: Date())
                        reloadPending = false
                    } catch { logger.error("keep-warm failed", metadata: ["error": "\(error)"]) }
                }
                var deadline = clock.now + maxSleep
                if reloadPending, let lastLoad { deadline = min(deadline, lastLoad + reloadInterval) }
                var starved = false
                var unsaved: [(String, KeepWarmPlan)] = []
                let now = Date()
                for ping in plan(&agenda, pings: pings, now: now, deadline: &deadline, starved: &starved, unsaved: &unsaved) {
                    group.addTask { await send(ping, pings: pings) }
                }
                // The plans that changed are stored for the dashboard with the next batch of ping records: the
                // loop never waits for the registry's write lock.
                if ledger.add(plans: unsaved) { group.addTask { await ledger.write(to: registry, logger: logger) } }
                // Pings leave on time (the sleep ends at the deadline); a finished ping wakes the loop (its end is
                // planned at once: looked for at each commit, and every `reloadInterval` while pings are out, or
                // every poll interval while due pings wait for a slot), and so does a commit (re-read at most every
                // `reloadInterval`). With no ping out, only a commit or the deadline wakes it.
                let polling: Duration? = starved ? RegistryWatcher.pollInterval : pings.inFlightCount > 0 ? reloadInterval : nil
                let (from, until) = (seen, deadline)
                let version = await cancelWhenGracefulShutdown {
                    await watcher.waitForChange(from: from, until: until, polling: polling, orWhen: { pings.hasFinished })
                }
                if version != seen {
                    seen = version
                    reloadPending = true
                }
            }
        }
    }
}
