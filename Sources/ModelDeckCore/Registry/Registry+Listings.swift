import Foundation
import GRDB

// What `modeldeck get`, the API and the dashboard list: the registry's rows as `Listings` rows.

extension Listings {
    static func targets(_ db: Database) throws -> [TargetRow] {
        try Target.fetchAll(db, sql: "SELECT * FROM targets ORDER BY name").map { target in
            let limits = target.limits
            return TargetRow(name: target.name, kind: target.kind.rawValue, region: target.region, config: target.config,
                             memoryMB: [limits.memoryMB.lowerBound, limits.memoryMB.upperBound], gpus: limits.gpus)
        }
    }

    static func models(_ db: Database) throws -> [ModelRow] {
        try Model.fetchAll(db, sql: "SELECT * FROM models ORDER BY name").map { model in
            ModelRow(name: model.name, description: model.description,
                     versions: try String.fetchAll(db, sql: "SELECT version FROM model_versions WHERE model = ? ORDER BY created_at, version",
                                                   arguments: [model.name]))
        }
    }

    static func versions(_ db: Database, model: String? = nil) throws -> [VersionRow] {
        let rows = try Row.fetchAll(db, sql: "SELECT * FROM model_versions WHERE ?1 IS NULL OR model = ?1 ORDER BY model, created_at, version",
                                    arguments: [model])
        return try rows.map { row in
            let version = try ModelVersion(row: row)
            return VersionRow(id: version.id, model: version.model, version: version.version, digest: version.digest,
                              sizeBytes: version.sizeBytes, memoryMB: version.memoryMB, gpus: version.gpus,
                              command: version.command, image: version.image, artifact: version.artifact,
                              createdBy: version.createdBy, createdAt: row["created_at"])
        }
    }

    static func endpoints(_ db: Database) throws -> [EndpointRow] {
        let active = Dictionary(try Deployment.activeDeploys(db).map { ($0.endpoint, $0) }, uniquingKeysWith: { a, _ in a })
        let drifts = try Registry.drifts(db)
        let weights = try TrafficSplit.allDesired(db)
        return try Endpoint.fetchAll(db, sql: "SELECT * FROM endpoints ORDER BY name").map { endpoint in
            let traffic = weights[endpoint.name] ?? [:]
            let deployment = active[endpoint.name].map { "#\($0.id ?? 0) \($0.toVersion) \($0.state.rawValue) \($0.currentWeight)%" }
            var keepWarm = KeepWarmRow(mode: endpoint.keepWarm.mode)
            if case .fixed(let every, let concurrency) = endpoint.keepWarm {
                keepWarm.everySeconds = every
                keepWarm.concurrency = concurrency
            }
            return EndpointRow(name: endpoint.name, model: endpoint.model, target: endpoint.target, traffic: traffic,
                               deployment: deployment, memoryMB: endpoint.memoryMB, concurrency: endpoint.concurrency,
                               minInstances: endpoint.minInstances, maxInstances: endpoint.maxInstances,
                               idleTimeoutSeconds: endpoint.idleTimeoutSeconds,
                               slo: SLORow(p99Ms: endpoint.slo.p99Milliseconds, errorRate: Format.percent(ppm: endpoint.slo.errorRatePPM)),
                               dailyBudget: endpoint.dailyBudgetMicros.map { Format.dollars(micros: $0) },
                               keepWarm: keepWarm, production: endpoint.production, drift: drifts[endpoint.name]?.summary)
        }
    }

    static func deployments(_ db: Database, endpoint: String? = nil, limit: Int = 100) throws -> [DeploymentRow] {
        let recent = try Deployment.fetchAll(db, sql: """
            SELECT * FROM deployments WHERE ?1 IS NULL OR endpoint = ?1 ORDER BY id DESC LIMIT ?2
            """, arguments: [endpoint, limit])
        let now = Date()
        return try recent.reversed().map { d in
            let waiting = try Endpoint.fetchOne(db, key: d.endpoint).flatMap { try Intents.gateWaitsFor(db, d, endpoint: $0, now: now) }
            return DeploymentRow(id: d.id ?? 0, endpoint: d.endpoint, kind: d.kind.rawValue, fromVersion: d.fromVersion,
                                 toVersion: d.toVersion, strategy: d.strategy, state: d.state.rawValue, weight: d.currentWeight,
                                 bakeSeconds: d.bakeSeconds, actor: d.actor, reason: d.reason, alarm: d.alarm,
                                 createdAt: d.createdAt, updatedAt: d.updatedAt, paused: d.pausedAt.map { _ in d.pauseNote ?? "paused" },
                                 waitingFor: waiting)
        }
    }

    static func events(_ db: Database, endpoint: String? = nil, limit: Int = 50) throws -> [EventRow] {
        let recent = try AuditEvent.fetchAll(db, sql: """
            SELECT * FROM events WHERE ?1 IS NULL OR endpoint = ?1 ORDER BY id DESC LIMIT ?2
            """, arguments: [endpoint, limit])
        return recent.reversed().map { e in
            EventRow(id: e.id ?? 0, at: e.at, actor: e.actor, endpoint: e.endpoint, deploymentId: e.deploymentId,
                     kind: e.kind, message: e.message)
        }
    }

}

extension Registry {
    public func listTargets() throws -> [Listings.TargetRow] { try read(Listings.targets) }
    public func listModels() throws -> [Listings.ModelRow] { try read(Listings.models) }
    public func listVersions(model: String? = nil) throws -> [Listings.VersionRow] { try read { try Listings.versions($0, model: model) } }
    public func listEndpoints() throws -> [Listings.EndpointRow] { try read(Listings.endpoints) }
    public func listDeployments(endpoint: String? = nil, limit: Int = 100) throws -> [Listings.DeploymentRow] {
        try read { try Listings.deployments($0, endpoint: endpoint, limit: limit) }
    }
    public func listEvents(endpoint: String? = nil, limit: Int = 50) throws -> [Listings.EventRow] {
        try read { try Listings.events($0, endpoint: endpoint, limit: limit) }
    }
}
