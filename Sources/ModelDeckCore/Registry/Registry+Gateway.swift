import Foundation
import GRDB

/// An endpoint of a local target as its gateway serves it: configuration, the versions that take traffic
/// and their weights.
public struct ServedEndpoint: Sendable {
    public var endpoint: Endpoint
    public var target: Target
    /// Version id → version, for every version with a weight.
    public var versions: [String: ModelVersion]
    /// Version id → weight in percent (the registry's traffic table).
    public var weights: [String: Int]
}

/// What a gateway's catalog knows of the registry: the data version it last looked at, and the catalog
/// generation (moved by triggers on targets, endpoints, versions and weights) of what it loaded.
public struct CatalogStamp: Sendable, Equatable {
    public var dataVersion: Int64
    public var generation: Int64
    /// Nothing loaded yet.
    public static let none = CatalogStamp(dataVersion: -1, generation: -1)

    /// The catalog generation now.
    static func generation(_ db: Database) throws -> Int64 {
        try Int64.fetchOne(db, sql: "SELECT value FROM catalog_generation WHERE id = 1") ?? 0
    }
}

extension RegistryWatcher {
    /// The endpoints of the local targets named in `targets`, read in one snapshot on the watcher's own
    /// connection, with that snapshot's stamp — or only the stamp when the caller's cache (`known`) is still
    /// current: the data version has not moved, or it has but the catalog generation has not (a request's
    /// instance state or a bucket was written). A handful of set queries, whatever the number of endpoints.
    public func servedEndpoints(targets: Set<String>, unless known: CatalogStamp) throws -> (stamp: CatalogStamp, endpoints: [String: ServedEndpoint]?) {
        try read { db, version in
            if version == known.dataVersion { return (known, nil) }
            let generation = try CatalogStamp.generation(db)
            let stamp = CatalogStamp(dataVersion: version, generation: generation)
            if generation == known.generation { return (stamp, nil) }
            let served = try Target.fetchAll(db).filter { targets.contains($0.name) && $0.descriptor.servedByGateway }
            guard !served.isEmpty else { return (stamp, [:]) }
            let weights = try TrafficSplit.allDesired(db)
            let taking = Set(weights.values.flatMap(\.keys))
            var versions: [String: ModelVersion] = [:]
            for version in try ModelVersion.fetchAll(db, keys: taking) { versions[version.id] = version }
            var result: [String: ServedEndpoint] = [:]
            for target in served {
                for endpoint in try Endpoint.filter(Column("target") == target.name).fetchAll(db) {
                    let split = weights[endpoint.name] ?? [:]
                    var own: [String: ModelVersion] = [:]
                    for id in split.keys { own[id] = versions[id] }
                    result[endpoint.name] = ServedEndpoint(endpoint: endpoint, target: target, versions: own, weights: split)
                }
            }
            return (stamp, result)
        }
    }
}
