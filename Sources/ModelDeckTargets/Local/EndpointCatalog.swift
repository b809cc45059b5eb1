import Foundation
import GRDB
import ModelDeckCore
import Synchronization

/// What the gateway needs to know about one endpoint it serves.
public struct LocalEndpoint: Sendable {
    public var endpoint: Endpoint
    public var target: Target
    /// Version id → version, for every version with a weight.
    public var versions: [String: ModelVersion]
    /// Version id → weight in percent (the registry's traffic table).
    public var weights: [String: Int]
    /// What one invocation costs, when the target is priced (`TargetPricing`); nil when free.
    public var rates: InvocationRates? = nil
}

/// The endpoints of the local target(s) a gateway serves, re-read from the registry whenever another
/// connection has committed (`PRAGMA data_version`), so a weight changed in the registry routes the very
/// next request without a restart.
public final class EndpointCatalog: Sendable {
    private let watcher: RegistryWatcher
    private let targetNames: Set<String>
    private let cache = Mutex<(version: Int64, endpoints: [String: LocalEndpoint])>((-1, [:]))

    /// Serves the endpoints of the local targets named in `targets`.
    public init(registryPath: String, targets: Set<String>) throws {
        watcher = try RegistryWatcher(path: registryPath)
        targetNames = targets
    }

    /// The current endpoints, reloaded only if the registry changed since the last call.
    public func endpoints() throws -> [String: LocalEndpoint] {
        try watcher.read { db, version in
            if let cached = cache.withLock({ $0.version == version ? $0.endpoints : nil }) { return cached }
            let loaded = try load(db)
            cache.withLock { $0 = (version, loaded) }
            return loaded
        }
    }

    public func endpoint(named name: String) throws -> LocalEndpoint? { try endpoints()[name] }

    /// A handful of set queries, whatever the number of endpoints: the gateway reloads at every registry
    /// change, and a fleet has thousands of endpoints.
    private func load(_ db: Database) throws -> [String: LocalEndpoint] {
        let targets = try Target.fetchAll(db).filter { targetNames.contains($0.name) && $0.descriptor.servedByGateway }
        guard !targets.isEmpty else { return [:] }
        var weights: [String: [String: Int]] = [:]
        for row in try Row.fetchAll(db, sql: "SELECT endpoint, version_id, weight FROM traffic WHERE weight > 0") {
            weights[row["endpoint"], default: [:]][row["version_id"]] = row["weight"]
        }
        let taking = Set(weights.values.flatMap(\.keys))
        var versions: [String: ModelVersion] = [:]
        for version in try ModelVersion.fetchAll(db, keys: taking) { versions[version.id] = version }
        // A broken $MODELDECK_PRICES file is refused by the CLI; the gateway keeps serving on the built-in table.
        let prices = (try? PriceTable.load()) ?? .standard
        var result: [String: LocalEndpoint] = [:]
        for target in targets {
            let rates = try? TargetPricing.rates(for: target, table: prices)
            for endpoint in try Endpoint.filter(Column("target") == target.name).fetchAll(db) {
                let split = weights[endpoint.name] ?? [:]
                var own: [String: ModelVersion] = [:]
                for id in split.keys { own[id] = versions[id] }
                result[endpoint.name] = LocalEndpoint(endpoint: endpoint, target: target, versions: own, weights: split, rates: rates)
            }
        }
        return result
    }
}
