import Foundation
import Logging
import ModelDeckCore
import ModelDeckTargets
import ServiceLifecycle
import Synchronization

/// Which probes are due: pure, so the loop's timing is tested without waiting.
enum ProbeSchedule {
    /// The endpoints (name → seconds between probes) whose probe is due at `now` — never probed, or probed at
    /// least an interval ago — leaving out those being probed; and when the next one falls due (nil: none).
    static func plan(intervals: [String: Int64], lastProbe: [String: Date], inFlight: Set<String>, now: Date)
        -> (due: [String], next: Date?) {
        var due: [String] = []
        var next: Date?
        for (name, seconds) in intervals.sorted(by: { $0.key < $1.key }) where !inFlight.contains(name) {
            let at = lastProbe[name].map { $0.addingTimeInterval(TimeInterval(seconds)) } ?? now
            if at <= now { due.append(name) } else { next = min(next ?? at, at) }
        }
        return (due, next)
    }
}

/// Probes every endpoint someone else runs (an http target's) on its target's `probe_interval`: one synthetic
/// request to the version its traffic names, recorded in the metric buckets as a probe — apart from user
/// traffic and keep-warm pings — so the endpoint has latency, errors, cold starts and availability in every view.
/// Probes run concurrently, at most `maxConcurrentProbes` at a time and never two at once for one endpoint.
struct ProbeLoop: Service {
    let registry: Registry
    let drivers: any DriverSource
    let logger: Logger
    var maxConcurrentProbes = 32
    /// How often the catalog generation is looked at; the probed endpoints are re-read when it moved (a target
    /// applied while the daemon runs is probed within it).
    var reloadInterval: Duration = .seconds(1)
    /// Records the probes, carrying fractions of a micro-dollar from one flush to the next.
    let recorder = InvocationRecorder()
    var prices: PriceTable = (try? PriceTable.load()) ?? .standard

    final class Book: Sendable {
        private let state = Mutex((lastProbe: [String: Date](), inFlight: Set<String>(), finished: [(String, Date)]()))
        func snapshot() -> (lastProbe: [String: Date], inFlight: Set<String>) { state.withLock { ($0.lastProbe, $0.inFlight) } }
        func start(_ name: String, at: Date) { state.withLock { $0.inFlight.insert(name); $0.lastProbe[name] = at } }
        func finish(_ name: String) {
            state.withLock { state in
                state.inFlight.remove(name)
                if let at = state.lastProbe[name] { state.finished.append((name, at)) }
            }
        }
        var inFlightCount: Int { state.withLock { $0.inFlight.count } }
        /// The probes that finished since the last call, with when each was sent.
        func takeFinished() -> [(String, Date)] { state.withLock { state in defer { state.finished = [] }; return state.finished } }
    }

    func run() async throws {
        let book = Book()
        var probed: [String: ProbedEndpoint] = [:]
        var generation: Int64?
        var lastLoad: ContinuousClock.Instant?
        // The probes are planned again (every endpoint sorted and looked at) only when the endpoints or the drivers
        // changed or a probe falls due: at 10,000 endpoints probed hourly, planning them every second was a large
        // share of an idle daemon's work.
        var (replan, nextDue, driversSeen): (Bool, Date?, Int?) = (true, nil, nil)
        // Due probes waiting for a slot, most overdue first: started as slots free up, without planning again (a
        // daemon starting at 10,000 endpoints probes them all, and at 32 a wake that took minutes).
        var backlog: ArraySlice<String> = []
        await withDiscardingTaskGroup { group in
            while !Task.isCancelled && !Task.isShuttingDownGracefully {
                if lastLoad.map({ .now - $0 >= reloadInterval }) ?? true {
                    lastLoad = .now
                    do {
                        let known = generation
                        let read = try await registry.perform { try $0.probedEndpoints(unless: known) }
                        generation = read.generation
                        if let endpoints = read.endpoints {
                            probed = Dictionary(endpoints.map { ($0.endpoint.name, $0) }, uniquingKeysWith: { first, _ in first })
                            replan = true
                        }
                        try await drivers.refresh()
                    } catch { logger.error("probes failed", metadata: ["error": "\(error)"]) }
                }
                let now = Date()
                if drivers.generation != driversSeen { (driversSeen, replan) = (drivers.generation, true) }
                // A finished probe's next one is an interval after it was sent.
                for (name, sentAt) in book.takeFinished() {
                    guard let seconds = probed[name]?.intervalSeconds else { continue }
                    let at = sentAt.addingTimeInterval(TimeInterval(seconds))
                    nextDue = min(nextDue ?? at, at)
                }
                if backlog.isEmpty, replan || nextDue.map({ $0 <= now }) == true {
                    let ready = probed.filter { drivers[$0.value.target.name]?.unavailableReason == nil && drivers[$0.value.target.name] != nil }
                    let (snapshotLast, inFlight) = book.snapshot()
                    let (due, next) = ProbeSchedule.plan(intervals: ready.mapValues(\.intervalSeconds), lastProbe: snapshotLast,
                                                         inFlight: inFlight, now: now)
                    (replan, nextDue, backlog) = (false, next, due[...])
                }
                let slots = max(0, maxConcurrentProbes - book.inFlightCount)
                for name in backlog.prefix(slots) {
                    guard let input = probed[name], let driver = drivers[input.target.name], driver.unavailableReason == nil else { continue }
                    book.start(name, at: now)
                    group.addTask { await probe(input, driver: driver, sentAt: now, book: book) }
                }
                backlog = backlog.dropFirst(slots)
                // While probes wait for a slot, the loop looks again soon: a slot frees as a probe ends.
                let wake = backlog.isEmpty ? min(nextDue.map { max(0, $0.timeIntervalSince(Date())) } ?? 1, 1) : 0.05
                try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .milliseconds(Int(wake * 1_000) + 1)) }
            }
        }
    }

    private func probe(_ input: ProbedEndpoint, driver: any TargetDriver, sentAt: Date, book: Book) async {
        defer { book.finish(input.endpoint.name) }
        do {
            let result = try await driver.probe(input.version, of: input.endpoint)
            let rates = try? TargetPricing.rates(for: input.target, table: prices)
            recorder.record(result.invocation(endpoint: input.endpoint, version: input.version.id, at: sentAt, concurrent: 1,
                                              rates: rates, probe: true))
            let recorder = self.recorder
            try await registry.perform { try recorder.flush(to: $0, instances: [], endpoints: []) }
        } catch {
            logger.warning("probe failed", metadata: ["endpoint": "\(input.endpoint.name)",
                                                      "error": "\((error as? ModelDeckError)?.message ?? "\(error)")"])
        }
    }
}
