import Foundation
import Logging
import ModelDeckCore
import ModelDeckTargets

/// Drives deployments and rollbacks: reads the intents in the registry, steps the pure state machine,
/// persists each transition with its audit events *before* acting, then makes the target match.
///
/// Acting is idempotent and derived from state (`DeploymentMachine.weights(for:)`), so a daemon killed
/// with -9 at any point resumes: the transition it persisted is acted on at the next tick, and one it had
/// not persisted is taken then — never twice.
///
/// Its pacing (a cloud platform asked again at most every 15 s, drift checked once a minute) runs on `clock`,
/// and its dates come from `date`, so tests drive it with a test clock and fake drivers.
public actor Reconciler<C: Clock> where C.Duration == Duration {
    private let registry: Registry
    private let drivers: any DriverSource
    private let gate: RollbackGate
    private let logger: Logger
    private let clock: C
    private let date: @Sendable () -> Date

    public init(registry: Registry, drivers: any DriverSource, gate: RollbackGate = RollbackGate(), logger: Logger,
                clock: C, date: @escaping @Sendable () -> Date = { Date() }, remoteDriftCheckInterval: Duration = .seconds(60)) {
        self.remoteDriftCheckInterval = remoteDriftCheckInterval
        self.registry = registry
        self.drivers = drivers
        self.gate = gate
        self.logger = logger
        self.clock = clock
        self.date = date
    }

    /// One pass over every active deployment and rollback; with `checkDrift`, the targets' live weights are
    /// compared with the registry too (a read per endpoint with a deployment, so not at every wake).
    public func tick(now: Date? = nil, checkDrift: Bool = true) async {
        let now = now ?? date()
        do {
            try await drivers.refresh() // targets applied since the daemon started (at most once a second)
            // One hop to the registry's threads for both: a rollback's traffic moves after this tick's few hops.
            let (superseded, active) = try await registry.perform {
                (try $0.supersedeDeploysByRollbacks(now: now), try $0.deploymentsInFlight())
            }
            cancelSteps(of: superseded)
            inFlight = !active.isEmpty
            for (deployment, context) in active {
                // Gone endpoint or version; or another daemon's target kind.
                guard let context, let driver = drivers[context.endpoint.target] else { continue }
                await work(on: deployment.endpoint, driver: driver) { await $0.advance(deployment, context: context, now: now) }
            }
            if checkDrift { try await enforceLatestWeights() }
        } catch {
            inFlight = true // tried again a tick interval on
            logger.error("reconcile failed", metadata: ["error": "\(error)"])
        }
    }

    /// When the reconciler must tick again if the registry does not change (a change wakes it anyway): a tick
    /// interval on while a deployment is in flight, a background step runs, a target is checked at every tick
    /// or a check failed; else when a cloud target's drift check falls due; nil when only a change in the
    /// registry can give it something to do (local targets route by the registry, so they drift only with it).
    public func nextDue(tickInterval: Duration) -> C.Instant? {
        Self.nextDue(now: clock.now, tickInterval: tickInterval,
                     busy: inFlight || !running.isEmpty || checksEveryTick || checkedStamp == nil, nextRemoteCheck: nextRemoteCheck)
    }

    static func nextDue(now: C.Instant, tickInterval: Duration, busy: Bool, nextRemoteCheck: C.Instant?) -> C.Instant? {
        busy ? now.advanced(by: tickInterval) : nextRemoteCheck
    }

    /// Runs `step` for `endpoint`: at once on a local target (registry writes, milliseconds), in the background
    /// on a cloud one, where a call may wait minutes (a SageMaker endpoint going InService) and must not hold
    /// up other endpoints' deploys and rollbacks. One step per endpoint at a time; the next tick skips an
    /// endpoint whose step is still running, and each step is idempotent, so nothing is done twice.
    private func work(on endpoint: String, driver: any TargetDriver, _ step: @escaping @Sendable (isolated Reconciler) async -> Void) async {
        guard running[endpoint] == nil else { return }
        if !driver.isRemote {
            await step(self)
            return
        }
        let token = UUID()
        running[endpoint] = (token, Task {
            await step(self)
            if self.running[endpoint]?.token == token { self.running[endpoint] = nil }
        })
    }

    /// An endpoint and its model's versions: what a driver routes by.
    struct Routing: Sendable {
        var endpoint: Endpoint
        var versions: [String: ModelVersion]
    }

    /// Cancels the background steps and waits for them to end (the daemon is stopping). Each step is
    /// idempotent and persisted before it acts, so the next daemon takes up what a cancelled one left.
    public func shutdown() async {
        let steps = running.values.map(\.task)
        running = [:]
        for task in steps { task.cancel() }
        for task in steps { await task.value }
    }

    /// Whether no background step runs (tests wait for it).
    var isIdle: Bool { running.isEmpty }

    /// The background step of each cloud endpoint, if one runs.
    private var running: [String: (token: UUID, task: Task<Void, Never>)] = [:]

    /// A rollback does not wait behind a deploy step it supersedes (a SageMaker update can take minutes):
    /// that step is cancelled, and the rollback's own step runs at once.
    private func cancelSteps(of endpoints: Set<String>) {
        for endpoint in endpoints {
            running[endpoint]?.task.cancel()
            running[endpoint] = nil
        }
    }

    private func advance(_ deployment: Deployment, context: DeploymentContext, now: Date) async {
        do {
            let (endpoint, version) = (context.endpoint, context.version)
            let routing = Routing(endpoint: endpoint, versions: context.versions)
            guard let driver = drivers[endpoint.target] else { return }

            // A step's traffic must have moved before its clock counts. When routing failed (a SageMaker
            // update that failed, a throttled alias update, a daemon killed in between), route again instead
            // of stepping on: a bake with no traffic must not end as "succeeded".
            var routedNow: [String: Int]?
            if [.shifting, .baking, .rollingBack].contains(deployment.state), let expected = DeploymentMachine.weights(for: deployment) {
                let routed = try await registry.perform { try $0.routedWeights(endpoint: deployment.endpoint) }
                if routed != expected.filter({ $0.value > 0 }) {
                    // A cloud platform is asked again at most every 15 s, not at every tick.
                    if driver.isRemote, let last = lastRouteRetry[deployment.endpoint], last.duration(to: clock.now) < routeRetryInterval {
                        return
                    }
                    lastRouteRetry[deployment.endpoint] = clock.now
                    try await route(expected, on: routing, driver: driver, for: deployment)
                    return
                }
                routedNow = routed
            }

            var observation = DeploymentObservation(now: now, provisioned: false)
            if deployment.state == .provisioning {
                do {
                    try await driver.provision(version, on: endpoint)
                    observation.provisioned = true
                } catch {
                    observation.provisionError = (error as? ModelDeckError)?.message ?? "\(error)"
                }
            }
            if deployment.state == .shifting || deployment.state == .baking {
                (observation.health, observation.baseline) = try await registry.perform { try $0.gateHealth(of: deployment, now: now) }
            }
            let gate = endpoint.gate(default: gate)
            var (stepped, events) = DeploymentMachine.step(deployment, slo: endpoint.slo, gate: gate, observation: observation)
            guard stepped != deployment else { return }
            // Only from the state we read: a concurrent writer (a rollback, another tick) wins.
            let steps = events.map { (kind: $0.kind, message: $0.message) }
            // A step that keeps the weights the target was just seen routing (a bake ending) routes nothing: a
            // second alias or endpoint update would undo a change made by hand meanwhile, unseen as drift. The
            // routing was seen right, so a note that it failed (a drift enforce's) goes.
            let weights = DeploymentMachine.weights(for: stepped).flatMap { $0.filter({ $0.value > 0 }) == routedNow ? nil : $0 }
            if weights == nil, routedNow != nil, stepped.alarm?.hasPrefix(Registry.routingFailurePrefix) == true { stepped.alarm = nil }
            let next = stepped
            // Where recording the weights is the routing, they go in with the step: one commit.
            let routed = try driver.routesByRegistry ? weights.map { try TrafficSplit($0, endpoint: endpoint.name) } : nil
            let persisted = try await registry.perform { try $0.advance(deployment, to: next, events: steps, routed: routed, now: now) }
            if persisted, let weights {
                try await route(weights, on: routing, driver: driver, for: next, recorded: routed != nil)
            }
        } catch {
            logger.error("deployment step failed", metadata: ["deployment": "\(deployment.id ?? 0)", "error": "\(error)"])
        }
    }

    /// Each endpoint's latest deployment decides its weights; the target is made to match when it does not
    /// (after a restart between persisting and acting, or a change made outside ModelDeck).
    ///
    /// A target that routes by the registry's own traffic table (the local kind) can only drift when the
    /// registry moves, so its endpoints are checked when the routing stamp (catalog and deployment generations)
    /// moved since the last pass; a cloud one is asked once a minute. A pass with neither reads nothing more
    /// than the stamp: at 10,000 endpoints the tick no longer matches each of them four times a second.
    private func enforceLatestWeights() async throws {
        let now = clock.now
        let stamp = try await registry.perform { try $0.routingStamp() }
        let registryUnchanged = stamp == checkedStamp
        if registryUnchanged, !checksEveryTick, nextRemoteCheck.map({ now < $0 }) ?? true { return }
        checkedStamp = stamp
        let latest = try await registry.perform { try $0.latestDeployments() }
        var (nextRemote, everyTick): (C.Instant?, Bool) = (nil, false)
        for (deployment, target) in latest {
            guard let driver = drivers[target], let weights = DeploymentMachine.weights(for: deployment) else { continue }
            let endpoint = deployment.endpoint
            if driver.isRemote {
                // A cloud target answers an API call, so it is asked once a minute.
                if let last = lastDriftCheck[endpoint], last.duration(to: now) < remoteDriftCheckInterval {
                    nextRemote = Self.earliest(nextRemote, last.advanced(by: remoteDriftCheckInterval))
                    continue
                }
            } else if driver.routesByRegistry {
                if registryUnchanged { continue }
            } else {
                everyTick = true
            }
            guard running[endpoint] == nil else {
                if driver.isRemote { nextRemote = Self.earliest(nextRemote, now) }
                continue
            }
            lastDriftCheck[endpoint] = now
            if driver.isRemote { nextRemote = Self.earliest(nextRemote, now.advanced(by: remoteDriftCheckInterval)) }
            await work(on: endpoint, driver: driver) { await $0.match(deployment, weights: weights, driver: driver) }
        }
        (nextRemoteCheck, checksEveryTick) = (nextRemote, everyTick)
    }

    private static func earliest(_ a: C.Instant?, _ b: C.Instant) -> C.Instant { a.map { min($0, b) } ?? b }

    private func match(_ deployment: Deployment, weights: [String: Int], driver: any TargetDriver) async {
        do {
            // The deployment may have moved on while this waited its turn: then its weights are stale.
            guard try await registry.perform({ try $0.deployment(id: deployment.id) }) == deployment,
                  let context = try await registry.perform({ try $0.context(of: deployment) }) else { return }
            let routing = Routing(endpoint: context.endpoint, versions: context.versions)
            let live = try await driver.liveWeights(of: routing.endpoint, versions: routing.versions)
            try await handleDrift(Drift.between(endpoint: deployment.endpoint, registry: weights, target: live),
                                  of: deployment, weights: weights, routing: routing, driver: driver)
        } catch {
            checkedStamp = nil // checked again at the next pass, even if the registry does not move
            logger.error("cannot make target match the registry",
                         metadata: ["endpoint": "\(deployment.endpoint)", "error": "\((error as? ModelDeckError)?.message ?? "\(error)")"])
        }
    }

    /// Drift between the target and the registry is recorded and shown (`drift.detected`, with both sides)
    /// until resolved, and acted on by the target's `drift:` policy: enforce restores the registry's routing,
    /// adopt takes the target's, alert leaves it.
    private func handleDrift(_ drift: Drift?, of deployment: Deployment, weights: [String: Int], routing: Routing,
                             driver: any TargetDriver) async throws {
        let (endpoint, now) = (deployment.endpoint, date())
        guard let drift else {
            try await registry.perform { try $0.resolveDrift(endpoint: endpoint, how: "the target routes as the registry says again (\(Drift.describe(weights)))", now: now) }
            return
        }
        let policy = try await registry.perform { try $0.driftPolicy(target: routing.endpoint.target) }
        let action = drift.action(under: policy, deployInFlight: deployment.state.isActive)
        try await registry.perform { try $0.recordDrift(drift, action: action, now: now) }
        switch action {
        case .enforce:
            logger.info("making target match the registry", metadata: ["endpoint": "\(endpoint)", "weights": "\(weights)"])
            try await route(weights, on: routing, driver: driver, for: deployment)
            try await registry.perform { try $0.resolveDrift(endpoint: endpoint, how: "restored the registry's routing, \(Drift.describe(weights)) (drift: enforce)", now: now) }
        case .adopt:
            try await registry.perform { try $0.adoptDrift(drift, after: deployment, now: now) }
        case .alert:
            break
        }
    }

    /// Routes `weights` and records them as the endpoint's traffic (what the TUI, pings and the gateway read),
    /// unless a newer deployment of the endpoint came meanwhile (a rollback during a slow cloud update): its
    /// weights are the ones to record.
    ///
    /// - A target with routing of its own (a cloud platform) is asked first, and the weights are recorded once
    ///   it has them. A failure is noted on the deployment (`alarm`, "cannot route …") so the dashboard says
    ///   why it waits; the next tick tries again, and a success clears the note.
    /// - A target that routes by the registry's traffic table (the local gateway) has them recorded first
    ///   (`recorded`: already, with the step), then is told, and takes them up at once instead of at its next
    ///   look; there is nothing it can fail to route.
    private func route(_ weights: [String: Int], on routing: Routing, driver: any TargetDriver, for deployment: Deployment,
                       recorded: Bool = false) async throws {
        let endpoint = routing.endpoint.name
        let split = try TrafficSplit(weights, endpoint: endpoint)
        let now = date()
        let record = { @Sendable (registry: Registry) in try registry.recordRouted(split, endpoint: endpoint, for: deployment, now: now) }
        if driver.routesByRegistry {
            if !recorded { guard try await registry.perform(record) else { return } }
            try await driver.setWeights(weights, on: routing.endpoint, versions: routing.versions)
            return
        }
        do {
            try await driver.setWeights(weights, on: routing.endpoint, versions: routing.versions)
        } catch {
            let note = "\(Registry.routingFailurePrefix)\(split.summary) yet, trying again: \((error as? ModelDeckError)?.message ?? "\(error)")"
            _ = try? await registry.perform { try $0.noteRoutingFailure(deployment, note: note) }
            throw error
        }
        _ = try await registry.perform(record)
    }

    /// How often a cloud target is asked what it routes, and asked again to route after a failure.
    public var remoteDriftCheckInterval: Duration
    public var routeRetryInterval: Duration = .seconds(15)
    private var lastRouteRetry: [String: C.Instant] = [:]
    private var lastDriftCheck: [String: C.Instant] = [:]
    /// The routing stamp of the last drift pass, nil before the first one or after a check failed.
    private var checkedStamp: Registry.RoutingStamp?
    /// When the next cloud endpoint is due its drift check, nil when none is deployed.
    private var nextRemoteCheck: C.Instant?
    /// Whether the last tick found a deployment or rollback in flight (or failed).
    private var inFlight = true
    /// Whether a deployed endpoint's target is checked at every tick (neither a cloud one nor routed by the registry).
    private var checksEveryTick = false
}
