import Foundation
import GRDB

extension RegistrySnapshot {
    /// Reads everything `apply` compares a deck against, inside the caller's transaction.
    public static func load(_ db: Database) throws -> RegistrySnapshot {
        var snapshot = RegistrySnapshot()
        for target in try Target.fetchAll(db) { snapshot.targets[target.name] = target }
        for model in try Model.fetchAll(db) { snapshot.models[model.name] = model }
        for version in try ModelVersion.fetchAll(db) { snapshot.versions[version.id] = version }
        for endpoint in try Endpoint.fetchAll(db) { snapshot.endpoints[endpoint.name] = endpoint }
        for row in try Row.fetchAll(db, sql: "SELECT endpoint, version_id, weight FROM traffic") {
            snapshot.traffic[row["endpoint"], default: [:]][row["version_id"]] = row["weight"]
        }
        for deployment in try Deployment.activeDeploys(db) { snapshot.activeDeployments[deployment.endpoint] = deployment }
        return snapshot
    }
}

extension Deployment {
    /// Deploys in flight (at most one per endpoint, enforced by a unique index).
    public static func activeDeploys(_ db: Database, endpoint: String? = nil) throws -> [Deployment] {
        let states = DeploymentState.activeStates.map { "'\($0.rawValue)'" }.joined(separator: ",")
        var sql = "SELECT * FROM deployments WHERE kind = 'deploy' AND state IN (\(states))"
        var arguments: StatementArguments = []
        if let endpoint {
            sql += " AND endpoint = ?"
            arguments = [endpoint]
        }
        return try Deployment.fetchAll(db, sql: sql + " ORDER BY id", arguments: arguments)
    }
}

extension TrafficSplit {
    /// The desired weights of `endpoint`, or nil when no version takes traffic yet.
    public static func desired(_ db: Database, endpoint: String) throws -> TrafficSplit? {
        var weights: [String: Int] = [:]
        for row in try Row.fetchAll(db, sql: "SELECT version_id, weight FROM traffic WHERE endpoint = ? AND weight > 0",
                                    arguments: [endpoint]) {
            weights[row["version_id"]] = row["weight"]
        }
        return weights.isEmpty ? nil : try TrafficSplit(weights, endpoint: endpoint)
    }

    /// Replaces the desired weights of `endpoint` (versions not named drop to 0).
    public func save(_ db: Database, endpoint: String) throws {
        try db.execute(sql: "UPDATE traffic SET weight = 0, updated_at = ? WHERE endpoint = ?", arguments: [Date(), endpoint])
        for (version, weight) in weights {
            try db.execute(sql: """
                INSERT INTO traffic (endpoint, version_id, weight, updated_at) VALUES (?, ?, ?, ?)
                ON CONFLICT (endpoint, version_id) DO UPDATE SET weight = excluded.weight, updated_at = excluded.updated_at
                """, arguments: [endpoint, version, weight, Date()])
        }
    }
}
