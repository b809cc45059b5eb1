import Foundation
import GRDB
import Logging
import ModelDeckCore
import ModelDeckTargets

/// Drives deployments and rollbacks: reads the intents in the registry, steps the pure state machine,
/// persists each transition with its audit events *before* acting, then makes the target match.
///
/// Acting is idempotent and derived from state (`DeploymentMachine.weights(for:)`), so a daemon killed
/// with -9 at any point resumes: the transition it persisted is acted on at the next tick, and one it had
/// not persisted is taken then — never twice.
public actor Reconciler {
    private let registry: Registry
    private let drivers: Drivers
    private let gate: RollbackGate
    private let logger: Logger

    public init(registry: Registry, drivers: Drivers, gate: RollbackGate = RollbackGate(), logger: Logger) {
        self.registry = registry
        self.drivers = drivers
        self.gate = gate
        self.logger = logger
    }

    /// One pass over every active deployment and rollback; with `checkDrift`, the targets' live weights are
    /// compared with the registry too (a read per endpoint with a deployment, so not at every wake).
    public func tick(now: Date = Date(), checkDrift: Bool = true) async {
        do {
            try drivers.refresh() // targets applied since the daemon started (at most once a second)
            try supersedeDeploysByRollbacks(now: now)
            let active = try registry.read { db in
                try Deployment.fetchAll(db, sql: """
                    SELECT * FROM deployments WHERE state IN ('pending','provisioning','shifting','baking','rolling_back') ORDER BY id
                    """).map { deployment in (deployment, try Endpoint.fetchOne(db, key: deployment.endpoint)?.target) }
            }
            for (deployment, target) in active {
                guard let target, let driver = drivers[target] else { continue } // another daemon's target kind
                await work(on: deployment.endpoint, driver: driver) { await $0.advance(deployment, now: now) }
            }
            if checkDrift { try await enforceLatestWeights() }
        } catch {
            logger.error("reconcile failed", metadata: ["error": "\(error)"])
        }
    }

    /// A rollback asked for while a deploy is in flight ends that deploy: its traffic goes back with it.
    /// Looked for in a read first: a tick that finds nothing to do writes nothing.
    private func supersedeDeploysByRollbacks(now: Date) throws {
        guard try registry.read({ db in try Self.hasSupersededDeploys(db) }) else { return }
        let superseded = try registry.write { db -> Set<String> in
            var endpoints: Set<String> = []
            let rollbacks = try Deployment.fetchAll(db, sql: "SELECT * FROM deployments WHERE kind = 'rollback' AND state = 'pending' ORDER BY id")
            for rollback in rollbacks {
                for var deploy in try Deployment.activeDeploys(db, endpoint: rollback.endpoint) where (deploy.id ?? 0) < (rollback.id ?? 0) {
                    deploy.state = .rolledBack
                    deploy.alarm = "superseded by rollback #\(rollback.id ?? 0) (\(rollback.actor): \(rollback.reason ?? "no reason"))"
                    deploy.updatedAt = now
                    try deploy.update(db)
                    try db.record(AuditEvent(at: now, actor: "daemon", endpoint: deploy.endpoint, deploymentId: deploy.id,
                                             kind: "deploy.superseded", message: "deploy of \(deploy.toVersion) stopped: \(deploy.alarm ?? "")"))
                    endpoints.insert(deploy.endpoint)
                }
            }
            return endpoints
        }
        cancelSteps(of: superseded)
    }

    /// Whether a pending rollback has an older deploy of its endpoint still in flight.
    private static func hasSupersededDeploys(_ db: Database) throws -> Bool {
        let active = DeploymentState.activeStates.map { "'\($0.rawValue)'" }.joined(separator: ",")
        return try Bool.fetchOne(db, sql: """
            SELECT EXISTS (
                SELECT 1 FROM deployments r JOIN deployments d ON d.endpoint = r.endpoint AND d.id < r.id
                WHERE r.kind = 'rollback' AND r.state = 'pending' AND d.kind = 'deploy' AND d.state IN (\(active)))
            """) ?? false
    }

    /// Runs `step` for `endpoint`: at once on a local target (registry writes, milliseconds), in the background
    /// on a cloud one, where a call may wait minutes (a SageMaker endpoint going InService) and must not hold
    /// up other endpoints' deploys and rollbacks. One step per endpoint at a time; the next tick skips an
    /// endpoint whose step is still running, and each step is idempotent, so nothing is done twice.
    private func work(on endpoint: String, driver: any TargetDriver, _ step: @escaping @Sendable (isolated Reconciler) async -> Void) async {
        guard running[endpoint] == nil else { return }
        if !driver.target.descriptor.isRemote {
            await step(self)
            return
        }
        let token = UUID()
        running[endpoint] = (token, Task {
            await step(self)
            if self.running[endpoint]?.token == token { self.running[endpoint] = nil }
        })
    }

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

    private func advance(_ deployment: Deployment, now: Date) async {
        do {
            guard let (endpoint, version) = try registry.read({ db -> (Endpoint, ModelVersion)? in
                guard let endpoint = try Endpoint.fetchOne(db, key: deployment.endpoint),
                      let version = try ModelVersion.fetchOne(db, key: deployment.toVersion) else { return nil }
                return (endpoint, version)
            }) else { return }
            guard let driver = drivers[endpoint.target] else { return }

            // A step's traffic must have moved before its clock counts. When routing failed (a SageMaker
            // update that failed, a throttled alias update, a daemon killed in between), route again instead
            // of stepping on: a bake with no traffic must not end as "succeeded".
            if [.shifting, .baking, .rollingBack].contains(deployment.state), let expected = DeploymentMachine.weights(for: deployment),
               try registry.read({ db in try Self.routedWeights(db, endpoint: deployment.endpoint) }) != expected.filter({ $0.value > 0 }) {
                // A cloud platform is asked again at most every 15 s, not at every tick.
                if driver.target.descriptor.isRemote, let last = lastRouteRetry[deployment.endpoint], ContinuousClock.now - last < Self.routeRetryInterval {
                    return
                }
                lastRouteRetry[deployment.endpoint] = .now
                try await route(expected, endpoint: deployment.endpoint, driver: driver, for: deployment)
                return
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
                observation.health = try registry.read { db in
                    try VersionHealth.load(db, endpoint: deployment.endpoint, version: deployment.toVersion, since: deployment.stepStartedAt)
                }
            }
            let (next, events) = DeploymentMachine.step(deployment, slo: endpoint.slo, gate: gate, observation: observation)
            guard next != deployment else { return }
            let persisted = try registry.write { db -> Bool in
                // Only from the state we read: a concurrent writer (a rollback, another tick) wins.
                let current = try Deployment.fetchOne(db, key: deployment.id)
                guard current == deployment else { return false }
                try next.update(db)
                for event in events {
                    try db.record(AuditEvent(at: now, actor: "daemon", endpoint: next.endpoint, deploymentId: next.id,
                                             kind: event.kind, message: event.message))
                }
                return true
            }
            if persisted, let weights = DeploymentMachine.weights(for: next) {
                try await route(weights, endpoint: next.endpoint, driver: driver, for: next)
            }
        } catch {
            logger.error("deployment step failed", metadata: ["deployment": "\(deployment.id ?? 0)", "error": "\(error)"])
        }
    }

    /// Each endpoint's latest deployment decides its weights; the target is made to match when it does not
    /// (after a restart between persisting and acting, or a change made outside ModelDeck).
    private func enforceLatestWeights() async throws {
        let latest = try registry.read { db in
            try Deployment.fetchAll(db, sql: """
                SELECT d.* FROM deployments d
                JOIN (SELECT endpoint, MAX(id) AS id FROM deployments GROUP BY endpoint) last ON last.id = d.id
                JOIN endpoints e ON e.name = d.endpoint
                """).map { deployment in (deployment, try Endpoint.fetchOne(db, key: deployment.endpoint)?.target) }
        }
        let now = ContinuousClock.now
        for (deployment, target) in latest {
            guard let target, let driver = drivers[target], let weights = DeploymentMachine.weights(for: deployment) else { continue }
            // A local target answers from the registry; a cloud one is an API call, so it is asked once a minute.
            if driver.target.descriptor.isRemote, let last = lastDriftCheck[deployment.endpoint], now - last < Self.remoteDriftCheckInterval {
                continue
            }
            guard running[deployment.endpoint] == nil else { continue }
            lastDriftCheck[deployment.endpoint] = now
            await work(on: deployment.endpoint, driver: driver) { await $0.match(deployment, weights: weights, driver: driver) }
        }
    }

    private func match(_ deployment: Deployment, weights: [String: Int], driver: any TargetDriver) async {
        do {
            // The deployment may have moved on while this waited its turn: then its weights are stale.
            guard try registry.read({ db in try Deployment.fetchOne(db, key: deployment.id) }) == deployment else { return }
            let live = try await driver.liveWeights(endpoint: deployment.endpoint)
            if live != weights {
                logger.info("making target match the registry", metadata: ["endpoint": "\(deployment.endpoint)", "weights": "\(weights)"])
                try await route(weights, endpoint: deployment.endpoint, driver: driver, for: deployment)
            }
        } catch {
            logger.error("cannot make target match the registry",
                         metadata: ["endpoint": "\(deployment.endpoint)", "error": "\((error as? ModelDeckError)?.message ?? "\(error)")"])
        }
    }

    /// Makes the target route by `weights`, then records them as the endpoint's traffic (what the TUI, pings
    /// and the gateway read), whichever platform it is on — unless a newer deployment of the endpoint came
    /// meanwhile (a rollback during a slow cloud update): its weights are the ones to record.
    ///
    /// A failure is noted on the deployment (`alarm`, "cannot route …") so the dashboard says why it waits;
    /// the next tick tries again, and a success clears the note.
    private func route(_ weights: [String: Int], endpoint: String, driver: any TargetDriver, for deployment: Deployment) async throws {
        do {
            try await driver.setWeights(weights, endpoint: endpoint)
        } catch {
            let note = "cannot route \((try? TrafficSplit(weights, endpoint: endpoint).summary) ?? "\(weights)") yet, trying again: \((error as? ModelDeckError)?.message ?? "\(error)")"
            _ = try? registry.write { db in
                try db.execute(sql: "UPDATE deployments SET alarm = ? WHERE id = ? AND state = ? AND (alarm IS NULL OR alarm LIKE 'cannot route %')",
                               arguments: [note, deployment.id, deployment.state.rawValue])
            }
            throw error
        }
        let split = try TrafficSplit(weights, endpoint: endpoint)
        try registry.write { db in
            let latest = try Int64.fetchOne(db, sql: "SELECT MAX(id) FROM deployments WHERE endpoint = ?", arguments: [endpoint])
            let current = try Deployment.fetchOne(db, key: deployment.id)
            // Only for the deployment as it was routed: a newer one (a rollback) or a later step records its own.
            guard latest == deployment.id, current?.state == deployment.state, current?.currentWeight == deployment.currentWeight else { return }
            try split.save(db, endpoint: endpoint)
            try db.execute(sql: "UPDATE traffic SET live_weight = weight WHERE endpoint = ?", arguments: [endpoint])
            try db.execute(sql: "UPDATE deployments SET alarm = NULL WHERE id = ? AND alarm LIKE 'cannot route %'", arguments: [deployment.id])
            // A step's clock (canary interval, bake) starts when its traffic moved, not when it was decided:
            // a cloud update can take minutes, and they must not count as minutes of watching the new version.
            if deployment.state.isActive, Date().timeIntervalSince(deployment.stepStartedAt) >= 1 {
                try db.execute(sql: """
                    UPDATE deployments SET step_started_at = ? WHERE id = ? AND state = ? AND step = ? AND step_started_at = ?
                    """, arguments: [Date(), deployment.id, deployment.state.rawValue, deployment.step, deployment.stepStartedAt])
            }
        }
    }

    /// What the target was last made to route for `endpoint` (version → percent, shares above zero).
    static func routedWeights(_ db: Database, endpoint: String) throws -> [String: Int] {
        var weights: [String: Int] = [:]
        for row in try Row.fetchAll(db, sql: "SELECT version_id, live_weight FROM traffic WHERE endpoint = ? AND live_weight > 0",
                                    arguments: [endpoint]) {
            weights[row["version_id"]] = row["live_weight"]
        }
        return weights
    }

    static let remoteDriftCheckInterval: Duration = .seconds(60)
    static let routeRetryInterval: Duration = .seconds(15)
    private var lastRouteRetry: [String: ContinuousClock.Instant] = [:]
    private var lastDriftCheck: [String: ContinuousClock.Instant] = [:]
}
