import Foundation
import GRDB

// Deployments and rollbacks as the daemon drives them: each transition with its audit events in one
// transaction, written only from the state that was read (a concurrent writer wins).

extension Deployment {
    /// Deploys in flight (at most one per endpoint, enforced by a unique index).
    public static func activeDeploys(_ db: Database, endpoint: String? = nil) throws -> [Deployment] {
        var request = Deployment.filter(Column("kind") == DeploymentKind.deploy.rawValue)
            .filter(DeploymentState.activeStates.map(\.rawValue).contains(Column("state")))
        if let endpoint { request = request.filter(Column("endpoint") == endpoint) }
        return try request.order(Column("id")).fetchAll(db)
    }
}

/// A deployment with what acting on it needs: its endpoint, the version it brings, and every version of
/// the endpoint's model by id (what a driver maps a platform's names back to).
public struct DeploymentContext: Sendable {
    public var deployment: Deployment
    public var endpoint: Endpoint
    public var version: ModelVersion
    public var versions: [String: ModelVersion]
}

extension Registry {
    public func deployment(id: Int64?) throws -> Deployment? {
        try read { db in try Deployment.fetchOne(db, key: id) }
    }

    /// Deploys in flight, of one endpoint or of all.
    public func activeDeploys(endpoint: String? = nil) throws -> [Deployment] {
        try read { db in try Deployment.activeDeploys(db, endpoint: endpoint) }
    }

    /// Every deployment and rollback the daemon still has to act on, oldest first, each with what acting on it
    /// needs (nil when its endpoint or version is gone), read in one transaction.
    public func deploymentsInFlight() throws -> [(deployment: Deployment, context: DeploymentContext?)] {
        try read { db in
            let deployments = try Deployment.filter(DeploymentState.activeStates.map(\.rawValue).contains(Column("state")))
                .order(Column("id")).fetchAll(db)
            return try deployments.map { ($0, try Self.context(db, of: $0)) }
        }
    }

    /// What the routing of targets that route by the registry depends on: the catalog generation (targets, with
    /// their drift policy, endpoints, versions and weights) and the deployment generation. Two equal stamps
    /// mean nothing a local drift check compares has changed in between.
    public struct RoutingStamp: Equatable, Sendable {
        public var catalog: Int64
        public var deployments: Int64

        /// The stamp in the caller's transaction: two one-row reads.
        static func load(_ db: Database) throws -> RoutingStamp {
            RoutingStamp(catalog: try CatalogStamp.generation(db),
                         deployments: try Int64.fetchOne(db, sql: "SELECT value FROM deployment_generation WHERE id = 1") ?? 0)
        }
    }

    /// The routing stamp now: two one-row reads.
    public func routingStamp() throws -> RoutingStamp {
        try read { db in try RoutingStamp.load(db) }
    }

    /// Each endpoint's latest deployment (the one whose weights the target should route), with its target.
    public func latestDeployments() throws -> [(deployment: Deployment, target: String)] {
        try read { db in
            let rows = try Row.fetchAll(db, sql: """
                SELECT d.*, e.target AS endpoint_target FROM deployments d
                JOIN (SELECT endpoint, MAX(id) AS id FROM deployments GROUP BY endpoint) last ON last.id = d.id
                JOIN endpoints e ON e.name = d.endpoint
                """)
            return try rows.map { (try Deployment(row: $0), $0["endpoint_target"]) }
        }
    }

    /// `deployment` with its endpoint and version; nil when either is gone.
    public func context(of deployment: Deployment) throws -> DeploymentContext? {
        try read { db in try Self.context(db, of: deployment) }
    }

    private static func context(_ db: Database, of deployment: Deployment) throws -> DeploymentContext? {
        guard let endpoint = try Endpoint.fetchOne(db, key: deployment.endpoint),
              let version = try ModelVersion.fetchOne(db, key: deployment.toVersion) else { return nil }
        let versions = try ModelVersion.filter(Column("model") == endpoint.model).fetchAll(db)
        return DeploymentContext(deployment: deployment, endpoint: endpoint, version: version,
                                 versions: Dictionary(versions.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a }))
    }

    /// A rollback asked for while a deploy of its endpoint is in flight ends that deploy (its traffic goes
    /// back with the rollback). Returns the endpoints whose deploys were stopped. Looked for in a read first:
    /// a pass that finds nothing to do writes nothing.
    public func supersedeDeploysByRollbacks(now: Date) throws -> Set<String> {
        let active = DeploymentState.activeStates.map { "'\($0.rawValue)'" }.joined(separator: ",")
        let any = try read { db in
            try Bool.fetchOne(db, sql: """
                SELECT EXISTS (
                    SELECT 1 FROM deployments r JOIN deployments d ON d.endpoint = r.endpoint AND d.id < r.id
                    WHERE r.kind = 'rollback' AND r.state = 'pending' AND d.kind = 'deploy' AND d.state IN (\(active)))
                """) ?? false
        }
        guard any else { return [] }
        return try write { db in
            var endpoints: Set<String> = []
            let rollbacks = try Deployment.filter(Column("kind") == DeploymentKind.rollback.rawValue && Column("state") == DeploymentState.pending.rawValue)
                .order(Column("id")).fetchAll(db)
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
    }

    /// Stores the step from `current` to `next` with its audit events, only if the deployment is still as
    /// `current` says (a concurrent writer — a rollback, another pass — wins). Returns whether it was stored.
    ///
    /// `routed`: the step's weights, recorded as routed in the same transaction (`recordRouted`), for a target
    /// that routes by the registry's traffic table (the local gateway), where recording them is the routing:
    /// one commit instead of two before a rollback's traffic moves.
    public func advance(_ current: Deployment, to next: Deployment, events: [(kind: String, message: String)],
                        routed: TrafficSplit? = nil, now: Date) throws -> Bool {
        try write { db in
            guard try Deployment.fetchOne(db, key: current.id) == current else { return false }
            try next.update(db)
            for event in events {
                try db.record(AuditEvent(at: now, actor: "daemon", endpoint: next.endpoint, deploymentId: next.id,
                                         kind: event.kind, message: event.message))
            }
            if let routed { try Self.recordRouted(db, routed, endpoint: next.endpoint, for: next, now: now) }
            return true
        }
    }

    /// How a deployment's note that its routing failed begins: `noteRoutingFailure` replaces only such a note
    /// (or none), and `recordRouted` clears it.
    public static let routingFailurePrefix = "cannot route "

    /// Notes on `deployment` why its traffic cannot move yet (the dashboard shows it), unless another alarm is there.
    public func noteRoutingFailure(_ deployment: Deployment, note: String) throws {
        try write { db in
            try db.execute(sql: "UPDATE deployments SET alarm = ? WHERE id = ? AND state = ? AND (alarm IS NULL OR alarm LIKE ?)",
                           arguments: [note, deployment.id, deployment.state.rawValue, Self.routingFailurePrefix + "%"])
        }
    }

    /// Records that the target now routes `split` for `deployment`'s endpoint: the desired and live weights,
    /// the routing note cleared, and the step's clock started now (a cloud update can take minutes, which
    /// must not count as minutes of watching the new version). Only for the deployment as it was routed: a
    /// newer one (a rollback) or a later step records its own. Returns whether it was recorded.
    @discardableResult
    public func recordRouted(_ split: TrafficSplit, endpoint: String, for deployment: Deployment, now: Date = Date()) throws -> Bool {
        try write { db in try Self.recordRouted(db, split, endpoint: endpoint, for: deployment, now: now) }
    }

    @discardableResult
    private static func recordRouted(_ db: Database, _ split: TrafficSplit, endpoint: String, for deployment: Deployment, now: Date) throws -> Bool {
        let latest = try Int64.fetchOne(db, sql: "SELECT MAX(id) FROM deployments WHERE endpoint = ?", arguments: [endpoint])
        let current = try Deployment.fetchOne(db, key: deployment.id)
        guard latest == deployment.id, current?.state == deployment.state, current?.currentWeight == deployment.currentWeight else {
            return false
        }
        try split.save(db, endpoint: endpoint)
        try TrafficSplit.markRouted(db, endpoint: endpoint)
        try db.execute(sql: "UPDATE deployments SET alarm = NULL WHERE id = ? AND alarm LIKE ?",
                       arguments: [deployment.id, routingFailurePrefix + "%"])
        if deployment.state.isActive, now.timeIntervalSince(deployment.stepStartedAt) >= 1 {
            try db.execute(sql: """
                UPDATE deployments SET step_started_at = ? WHERE id = ? AND state = ? AND step = ? AND step_started_at = ?
                """, arguments: [now, deployment.id, deployment.state.rawValue, deployment.step, deployment.stepStartedAt])
        }
        return true
    }
}
