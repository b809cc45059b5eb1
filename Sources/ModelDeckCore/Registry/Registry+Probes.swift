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
        try read { db in
            let targets = try Target.fetchAll(db).filter(\.descriptor.isProbed)
            guard !targets.isEmpty else { return [] }
            let byName = Dictionary(targets.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
            let weights = try TrafficSplit.allDesired(db)
            let endpoints = try Endpoint.filter(byName.keys.contains(Column("target"))).order(Column("name")).fetchAll(db)
            var result: [ProbedEndpoint] = []
            for endpoint in endpoints {
                guard let target = byName[endpoint.target], let id = TrafficSplit.primary(of: weights[endpoint.name] ?? [:]),
                      let version = try ModelVersion.fetchOne(db, key: id), let interval = target.descriptor.probeIntervalSeconds(of: target) else { continue }
                result.append(ProbedEndpoint(endpoint: endpoint, target: target, version: version, intervalSeconds: interval))
            }
            return result
        }
    }
}
