import Foundation
import GRDB

/// An endpoint the daemon probes (on a target someone else runs: http), with the version running there.
public struct ProbedEndpoint: Sendable {
    public var endpoint: Endpoint
    public var target: Target
    /// The version its traffic names (the deck's `traffic: {v1: 100}`): probes are recorded against it.
    public var version: ModelVersion
    /// Seconds between probes (the target's `probe_interval`).
    public var intervalSeconds: Int64
}

extension Registry {
    /// Every endpoint on a probed target that names the version running there, in name order.
    public func probedEndpoints() throws -> [ProbedEndpoint] {
        try probedEndpoints(unless: nil).endpoints ?? []
    }

    /// The probed endpoints with the catalog generation they were read at (moved by triggers on targets,
    /// endpoints, versions and weights), or only the generation when it is still `known`: the probe loop asks
    /// every second, and re-reading 10,000 endpoints each time was most of an idle daemon's work.
    public func probedEndpoints(unless known: Int64?) throws -> (generation: Int64, endpoints: [ProbedEndpoint]?) {
        try read { db in
            let generation = try CatalogStamp.generation(db)
            if generation == known { return (generation, nil) }
            let targets = try Target.fetchAll(db).filter(\.descriptor.isProbed)
            guard !targets.isEmpty else { return (generation, []) }
            let byName = Dictionary(targets.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
            let weights = try TrafficSplit.allDesired(db)
            let endpoints = try Endpoint.filter(byName.keys.contains(Column("target"))).order(Column("name")).fetchAll(db)
            // Endpoint name → the version its traffic names, worked out once.
            var primaries: [String: String] = [:]
            for endpoint in endpoints { primaries[endpoint.name] = TrafficSplit.primary(of: weights[endpoint.name] ?? [:]) }
            var versions: [String: ModelVersion] = [:]
            for version in try ModelVersion.fetchAll(db, keys: Set(primaries.values)) { versions[version.id] = version }
            var result: [ProbedEndpoint] = []
            for endpoint in endpoints {
                guard let target = byName[endpoint.target], let id = primaries[endpoint.name],
                      let version = versions[id], let interval = target.descriptor.probeIntervalSeconds(of: target) else { continue }
                result.append(ProbedEndpoint(endpoint: endpoint, target: target, version: version, intervalSeconds: interval))
            }
            return (generation, result)
        }
    }
}
