import Foundation
import GRDB

extension Intents {
    /// Steers the deploy in flight on `endpoint` (`modeldeck pause|resume|abort|promote|set-weight`): the
    /// deployment's new state and the audit events, written by `actor` in one transaction. The daemon makes
    /// the target match at its next wake (it wakes on the registry's change), and the state is all a daemon
    /// killed with -9 needs to carry on. Refusals change nothing.
    @discardableResult
    public static func control(_ registry: Registry, endpoint name: String, _ command: RolloutCommand, reason: String,
                               actor: String = Actor.current, now: Date = Date()) throws -> Deployment {
        let reason = reason.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !reason.isEmpty else { throw ModelDeckError("\(command.verb) needs a reason (--reason TEXT); it goes in the audit log") }
        return try registry.write { db in
            let endpoint = try requireEndpoint(db, name)
            var command = command
            if case .setWeight(let versionText, let percent) = command {
                guard let target = try Target.fetchOne(db, key: endpoint.target) else {
                    throw ModelDeckError("endpoint '\(name)' uses target '\(endpoint.target)', which is not in the registry")
                }
                guard target.descriptor.splitsTraffic else {
                    throw ModelDeckError("target \(target.label) serves one version of an endpoint at a time, so set-weight cannot split traffic there; use promote or abort")
                }
                command = .setWeight(version: try requireVersion(db, versionText, endpoint: endpoint).id, percent: percent)
            }
            guard let deployment = try Deployment.activeDeploys(db, endpoint: name).first else {
                throw ModelDeckError("endpoint '\(name)' has no deploy in flight; there is nothing to \(command.verb)")
            }
            let waiting = try gateWaitsFor(db, deployment, endpoint: endpoint, now: now)
            let (next, events) = try DeploymentMachine.control(deployment, command, actor: actor, reason: reason,
                                                               gateWaitsFor: waiting, now: now)
            try next.update(db)
            for event in events {
                try db.record(AuditEvent(at: now, actor: actor, endpoint: name, deploymentId: next.id, kind: event.kind, message: event.message))
            }
            return next
        }
    }

    /// What the current step's gate still waits for before the step may pass ("12 of 50 requests"), or nil.
    static func gateWaitsFor(_ db: Database, _ deployment: Deployment, endpoint: Endpoint, now: Date) throws -> String? {
        // A pause step waits for a person, not for evidence.
        guard deployment.state == .shifting,
              let plan = try? DeploymentStrategy(parsing: deployment.strategy).plan,
              plan[min(deployment.step, plan.count - 1)] != .pause else { return nil }
        return endpoint.gate().waitingFor(try gateHealth(db, deployment, now: now).new)
    }

    static func gateHealth(_ db: Database, _ deployment: Deployment, now: Date) throws -> (new: VersionHealth, baseline: VersionHealth?) {
        let new = try VersionHealth.load(db, endpoint: deployment.endpoint, version: deployment.toVersion, since: deployment.stepStartedAt, now: now)
        let old = try deployment.fromVersion.map {
            try VersionHealth.load(db, endpoint: deployment.endpoint, version: $0, since: deployment.stepStartedAt, now: now)
        }
        return (new, old)
    }
}

extension Endpoint {
    /// The gate its deploys are judged by: its deck's `gate:` or `fallback`, with at least the cold starts
    /// its instances need to start (one per instance it may run) expected of a new version.
    public func gate(default fallback: RollbackGate = RollbackGate()) -> RollbackGate {
        var gate = self.gate ?? fallback
        gate.expectedColdStarts = max(gate.expectedColdStarts, Int64(maxInstances))
        return gate
    }
}

extension Registry {
    /// The user traffic of `deployment`'s new version and of the version it replaces, over the same window
    /// (since the current step began), as the gate compares them.
    public func gateHealth(of deployment: Deployment, now: Date) throws -> (new: VersionHealth, baseline: VersionHealth?) {
        try read { db in try Intents.gateHealth(db, deployment, now: now) }
    }
}
