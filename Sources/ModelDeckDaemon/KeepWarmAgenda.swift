import Foundation
import HeapModule
import ModelDeckCore
import ModelDeckTargets

/// What keep-warm plans one endpoint from, and what it last planned for it.
struct KeepWarmEndpointState: Equatable {
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

    /// Whether `other` plans the same: the same inputs, whatever was stored or planned from them.
    func samePlanInputs(as other: Self) -> Bool {
        var mine = self, theirs = other
        (mine.storedPlan, mine.storedNext, mine.plannedRule) = (nil, nil, nil)
        (theirs.storedPlan, theirs.storedNext, theirs.plannedRule) = (nil, nil, nil)
        return mine == theirs
    }
}

/// The keep-warm loop's memory between passes: each endpoint's state, when it must be looked at next, and
/// which endpoints must be planned again whatever their time.
///
/// At 10,000 endpoints a pass came with every due or finished ping (hundreds a second), and re-planning every
/// endpoint at each one was most of the daemon's work (`perf`: the planner, hashing, a dictionary of drivers
/// rebuilt per pass). Now a pass plans only the endpoints that are *pending* (inputs changed, a ping
/// finished) and those whose wake time came, taken from a min-heap of wake times in order; every other
/// endpoint's plan still holds, because a plan changes only with its inputs or with the clock reaching a
/// time the planner names (the next ping, a schedule entry firing, the adaptive policy going dormant, a
/// retry). Pure: no I/O, so it is tested with fake clocks.
struct KeepWarmAgenda {
    /// One endpoint's next look. Ordered by time, then name (so equal times come out in a stable order).
    struct Wake: Comparable {
        var at: Date
        var endpoint: String
        static func < (a: Wake, b: Wake) -> Bool { (a.at, a.endpoint) < (b.at, b.endpoint) }
    }

    private(set) var states: [String: KeepWarmEndpointState] = [:]
    /// The endpoints to plan at the next pass, whatever their wake time.
    private(set) var pending: Set<String> = []
    /// Each endpoint's current wake; a heap entry that differs is stale and skipped (a heap cannot move an entry).
    private var wakeAt: [String: Date] = [:]
    private var wakes = Heap<Wake>()
    /// Each target's driver (nil: none, or it cannot be driven), kept across passes; `forgetDrivers` clears it
    /// when the targets may have changed.
    private var driverOf: [String: (any TargetDriver)?] = [:]
    /// Endpoints left unplanned because their target had no driver: planned again when the drivers change.
    private var undriven: Set<String> = []

    init() {}

    /// Starts from `states`, every one of them pending.
    init(_ states: [String: KeepWarmEndpointState]) {
        replace(with: states)
    }

    subscript(endpoint: String) -> KeepWarmEndpointState? { states[endpoint] }

    /// Takes a freshly read set of states: those whose inputs changed (or that are new) become pending and keep
    /// what was planned for them; those gone are dropped with their wake. Returns how many became pending.
    @discardableResult
    mutating func replace(with fresh: [String: KeepWarmEndpointState]) -> Int {
        var changed = 0
        for name in states.keys where fresh[name] == nil { remove(name) }
        for (name, state) in fresh { if update(name, state) { changed += 1 } }
        return changed
    }

    /// Sets one endpoint's inputs; pending (true) when they differ from what it was planned from.
    @discardableResult
    mutating func update(_ name: String, _ fresh: KeepWarmEndpointState) -> Bool {
        guard let old = states[name] else {
            states[name] = fresh
            pending.insert(name)
            return true
        }
        guard !fresh.samePlanInputs(as: old) else { return false }
        var next = fresh
        // What this loop planned is newer than what the registry had when it was read.
        (next.storedPlan, next.storedNext, next.plannedRule) = (old.storedPlan, old.storedNext, old.plannedRule)
        states[name] = next
        pending.insert(name)
        return true
    }

    /// Changes one endpoint's inputs in place (a light reload of traffic figures); pending when they changed.
    mutating func modify(_ name: String, _ change: (inout KeepWarmEndpointState) -> Void) {
        guard var state = states[name] else { return }
        change(&state)
        update(name, state)
    }

    mutating func remove(_ name: String) {
        states[name] = nil
        wakeAt[name] = nil
        pending.remove(name)
        undriven.remove(name)
    }

    /// Plans these again at the next pass (their pings finished, or they asked for it).
    mutating func markPending<S: Sequence>(_ names: S) where S.Element == String {
        for name in names where states[name] != nil { pending.insert(name) }
    }

    /// The `DriverSource.generation` the drivers were looked up at.
    private var driversGeneration: Int?

    /// Looks the drivers up again when they changed (targets applied), and plans the endpoints that had none.
    mutating func follow(_ drivers: any DriverSource) {
        let generation = drivers.generation
        guard generation != driversGeneration else { return }
        driversGeneration = generation
        forgetDrivers()
    }

    /// Looks the drivers up again, and plans the endpoints that had none.
    mutating func forgetDrivers() {
        driverOf = [:]
        pending.formUnion(undriven)
        undriven = []
    }

    /// The driver of `target` that can be driven, looked up in `drivers` once until `forgetDrivers`.
    mutating func driver(for target: String, in drivers: any DriverSource) -> (any TargetDriver)? {
        if let known = driverOf[target] { return known }
        let found = drivers[target].flatMap { $0.unavailableReason == nil ? $0 : nil }
        driverOf[target] = .some(found)
        return found
    }

    mutating func noteUndriven(_ name: String) { undriven.insert(name) }

    /// Looks at `name` again at `date` (replacing its earlier wake); nil: only when its inputs change.
    mutating func wake(_ name: String, at date: Date?) {
        guard let date else {
            wakeAt[name] = nil
            return
        }
        guard wakeAt[name] != date else { return }
        wakeAt[name] = date
        wakes.insert(Wake(at: date, endpoint: name))
        // Stale entries are dropped as they come to the top; a heap far larger than the fleet is rebuilt.
        if wakes.count > 4 * states.count + 64 { wakes = Heap(wakeAt.map { Wake(at: $0.value, endpoint: $0.key) }) }
    }

    /// The earliest current wake, stale entries dropped on the way.
    mutating func nextWake() -> Wake? {
        while let top = wakes.min {
            if wakeAt[top.endpoint] == top.at, states[top.endpoint] != nil { return top }
            wakes.removeMin()
        }
        return nil
    }

    /// Takes the earliest wake if it is at or before `now`; its endpoint has no wake until it is planned again.
    mutating func popDue(now: Date) -> String? {
        guard let top = nextWake(), top.at <= now else { return nil }
        wakes.removeMin()
        wakeAt[top.endpoint] = nil
        return top.endpoint
    }

    /// Empties the pending set, in a stable order (by name).
    mutating func takePending() -> [String] {
        defer { pending = [] }
        return pending.sorted()
    }

    /// Changes the stored plan of `name` in place (after a visit).
    mutating func withState<T>(_ name: String, _ body: (inout KeepWarmEndpointState) -> T) -> T? {
        guard states[name] != nil else { return nil }
        return body(&states[name]!)
    }
}
