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
            // Zero weights too: apply compares every row.
            snapshot.traffic[row["endpoint"], default: [:]][row["version_id"]] = row["weight"]
        }
        for deployment in try Deployment.activeDeploys(db) { snapshot.activeDeployments[deployment.endpoint] = deployment }
        for channel in try NotificationState.fetchAll(db).map(\.channel) { snapshot.notifications[channel.name] = channel }
        return snapshot
    }
}
