import Foundation
import GRDB

extension Registry {
    /// Records each of `endpoints` as deployed at its traffic's main version: a succeeded all-at-once
    /// deployment, routed as the traffic table says, as if the daemon had stepped through it — a fleet's state
    /// after its deploys, set up in one transaction (`modeldeck-bench ping-jitter --deployed` builds 10,000
    /// such endpoints; deploying each through the daemon would take it minutes). Endpoints without traffic are
    /// left out. Returns how many were recorded.
    @discardableResult
    public func recordDeployed(endpoints: [String], actor: String, now: Date) throws -> Int {
        try write { db in
            let weights = try TrafficSplit.allDesired(db)
            var recorded = 0
            for endpoint in endpoints {
                guard let split = weights[endpoint], let version = TrafficSplit.primary(of: split) else { continue }
                var deployment = Deployment(endpoint: endpoint, kind: .deploy, fromVersion: nil, toVersion: version,
                                            strategy: DeploymentStrategy.allAtOnce.description, bakeSeconds: 0, state: .succeeded,
                                            currentWeight: split[version] ?? 100, reason: "recorded as deployed", actor: actor,
                                            createdAt: now, updatedAt: now)
                try deployment.insert(db)
                try TrafficSplit.markRouted(db, endpoint: endpoint)
                recorded += 1
            }
            return recorded
        }
    }
}
