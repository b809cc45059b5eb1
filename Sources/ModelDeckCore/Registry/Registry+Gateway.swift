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

extension RegistryWatcher {
    /// The endpoints of the local targets named in `targets`, read in one snapshot on the watcher's own
    /// connection, with that snapshot's data version — or only the version when it is still `known` (the
    /// caller's cache is current). A handful of set queries, whatever the number of endpoints.
    public func servedEndpoints(targets: Set<String>, unlessVersion known: Int64?) throws -> (version: Int64, endpoints: [String: ServedEndpoint]?) {
        try read { db, version in
            if version == known { return (version, nil) }
            let served = try Target.fetchAll(db).filter { targets.contains($0.name) && $0.descriptor.servedByGateway }
            guard !served.isEmpty else { return (version, [:]) }
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
            return (version, result)
        }
    }
}
