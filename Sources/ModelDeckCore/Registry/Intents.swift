import Foundation
import GRDB

/// The intents people write — deploy, rollback, keep-warm — each validated and recorded with its audit
/// event in one transaction. The daemon acts on them; nothing here touches a target.
public enum Intents {
    /// The bake when neither the deploy nor its plan names one.
    public static let defaultBakeSeconds: Int64 = 60

    /// Asks for `version` (`v2` or `model@v2`) to be deployed to `endpoint` with `strategy` — or, when it
    /// names none, the endpoint's own plan (a deck's `rollout:`), else all at once. The bake is
    /// `bakeSeconds`, else the plan's `100%:DURATION`, else a minute.
    public static func deploy(_ registry: Registry, endpoint name: String, version versionText: String,
                              strategy chosen: DeploymentStrategy?, bakeSeconds chosenBake: Int64?, reason: String?,
                              actor: String = Actor.current, now: Date = Date()) throws -> Deployment {
        try registry.write { db in
            let endpoint = try requireEndpoint(db, name)
            let controlled = try controlledTarget(db, endpoint)
            let rollout = try endpoint.rollout.map { try DeploymentStrategy.rollout(parsing: $0) }
            let strategy = chosen ?? rollout?.strategy ?? .allAtOnce
            let bakeSeconds = chosenBake ?? (chosen == nil ? rollout?.bakeSeconds : nil) ?? defaultBakeSeconds
            let version = try requireVersion(db, versionText, endpoint: endpoint)
            guard let target = controlled else {
                throw ModelDeckError("endpoint '\(name)' uses target '\(endpoint.target)', which is not in the registry")
            }
            try FitCheck.require(version: version, endpoint: endpoint, target: target)
            if strategy.plan.contains(where: { ($0.percent ?? 100) < 100 }), !target.descriptor.splitsTraffic {
                throw ModelDeckError("target \(target.label) serves one version of an endpoint at a time, so \(strategy) cannot split traffic there; deploy with strategy all-at-once (a bake still watches the SLO and rolls back)")
            }
            if let active = try Deployment.activeDeploys(db, endpoint: name).first {
                throw ModelDeckError("endpoint '\(name)' already has deployment #\(active.id ?? 0) (\(active.toVersion), \(active.state.rawValue)); wait for it or roll back first")
            }
            let current = try TrafficSplit.desired(db, endpoint: name)
            if current?.weights == [version.id: 100] {
                throw ModelDeckError("endpoint '\(name)' already sends 100% of its traffic to \(version.id)")
            }
            var deployment = Deployment(endpoint: name, kind: .deploy, fromVersion: current?.primary, toVersion: version.id,
                                        strategy: strategy.description, bakeSeconds: bakeSeconds, reason: reason,
                                        actor: actor, createdAt: now, updatedAt: now)
            try deployment.insert(db)
            let from = current.map { " (now \($0.summary))" } ?? ""
            try db.record(AuditEvent(at: now, actor: actor, endpoint: name, deploymentId: deployment.id, kind: "deploy.requested",
                                     message: "deploy \(version.id) to \(name)\(from) with \(strategy), bake \(Format.duration(seconds: bakeSeconds))\(reason.map { ": \($0)" } ?? "")"))
            return deployment
        }
    }

    /// What a rollback of `endpoint` would do: from the version(s) taking traffic now to `to` (or the last
    /// good version). Used by the CLI and by the TUI's confirm dialog before anything is written.
    public static func planRollback(_ db: Database, endpoint name: String, to versionText: String?) throws -> (from: String, to: String) {
        let plan = try rollbackPlan(db, endpoint: name, to: versionText)
        return (plan.from, plan.to)
    }

    /// A rollback's plan with what was read to make it, so that writing it reads nothing twice.
    struct RollbackPlan {
        var from: String
        var to: String
        var endpoint: Endpoint
        var target: Target?
        /// The version named with `--to`; nil when the plan found it in the endpoint's history.
        var version: ModelVersion?
    }

    static func rollbackPlan(_ db: Database, endpoint name: String, to versionText: String?) throws -> RollbackPlan {
        let endpoint = try requireEndpoint(db, name)
        let target = try controlledTarget(db, endpoint)
        let active = try Deployment.activeDeploys(db, endpoint: name).first
        let current = try TrafficSplit.desired(db, endpoint: name)
        let from = active?.toVersion ?? current?.primary
        guard let from else { throw ModelDeckError("endpoint '\(name)' takes no traffic yet; there is nothing to roll back") }
        let to: String
        var version: ModelVersion?
        if let versionText {
            let named = try requireVersion(db, versionText, endpoint: endpoint)
            version = named
            to = named.id
        } else if let active, let previous = active.fromVersion {
            to = previous
        } else if let good = try lastGoodVersion(db, endpoint: name, live: Set(current?.weights.keys ?? [:].keys)) {
            to = good
        } else {
            throw ModelDeckError("endpoint '\(name)' has no earlier good version to roll back to; name one with --to VERSION")
        }
        if active == nil, current?.weights == [to: 100] {
            throw ModelDeckError("endpoint '\(name)' already sends 100% of its traffic to \(to)")
        }
        return RollbackPlan(from: from, to: to, endpoint: endpoint, target: target, version: version)
    }

    /// Asks for all traffic of `endpoint` to go back to `to` (or the last good version) at once.
    public static func rollback(_ registry: Registry, endpoint name: String, to versionText: String?, reason: String,
                                actor: String = Actor.current, now: Date = Date()) throws -> Deployment {
        let reason = reason.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !reason.isEmpty else { throw ModelDeckError("a rollback needs a reason (--reason TEXT); it goes in the audit log") }
        return try registry.write { db in
            let plan = try rollbackPlan(db, endpoint: name, to: versionText)
            let (from, to) = (plan.from, plan.to)
            if let target = plan.target, let version = try plan.version ?? ModelVersion.fetchOne(db, key: to) {
                try FitCheck.require(version: version, endpoint: plan.endpoint, target: target)
            }
            var deployment = Deployment(endpoint: name, kind: .rollback, fromVersion: from, toVersion: to,
                                        strategy: DeploymentStrategy.allAtOnce.description, bakeSeconds: 0,
                                        reason: reason, actor: actor, createdAt: now, updatedAt: now)
            try deployment.insert(db)
            try db.record(AuditEvent(at: now, actor: actor, endpoint: name, deploymentId: deployment.id, kind: "rollback.requested",
                                     message: "roll back \(name) from \(from) to \(to), all traffic at once: \(reason)"))
            return deployment
        }
    }

    /// Sets the keep-warm policy of `endpoint`.
    @discardableResult
    public static func keepWarm(_ registry: Registry, endpoint name: String, policy: KeepWarmPolicy,
                                actor: String = Actor.current, now: Date = Date()) throws -> (old: KeepWarmPolicy, new: KeepWarmPolicy) {
        try registry.write { db in
            var endpoint = try requireEndpoint(db, name)
            let old = endpoint.keepWarm
            guard old != policy else { return (old, policy) }
            endpoint.keepWarm = policy
            try endpoint.update(db)
            try db.record(AuditEvent(at: now, actor: actor, endpoint: name, kind: "keepwarm.changed",
                                     message: "keep-warm of \(name): \(old.summary) → \(policy.summary)"))
            return (old, policy)
        }
    }

    /// Asks the daemon to ping every version of `endpoint` that takes traffic now, whatever its keep-warm
    /// policy; the daemon clears the request once the pings are sent.
    public static func pingNow(_ registry: Registry, endpoint name: String, actor: String = Actor.current, now: Date = Date()) throws {
        try registry.write { db in
            let endpoint = try requireEndpoint(db, name)
            guard let split = try TrafficSplit.desired(db, endpoint: name), !split.weights.isEmpty else {
                throw ModelDeckError("endpoint '\(name)' takes no traffic yet; there is no version to ping")
            }
            try Registry.requestPing(db, endpoint: endpoint.name, by: actor, now: now)
            try db.record(AuditEvent(at: now, actor: actor, endpoint: name, kind: "ping.requested",
                                     message: "ping \(name) now (\(split.summary))"))
        }
    }

    /// The most recent version that finished a deploy (or was its starting point), is not taking traffic now,
    /// and was never rolled back from.
    static func lastGoodVersion(_ db: Database, endpoint: String, live: Set<String>) throws -> String? {
        let history = try Deployment.filter(Column("endpoint") == endpoint).order(Column("id").desc).fetchAll(db)
        var bad = Set<String>()
        for deployment in history {
            if deployment.kind == .rollback, let from = deployment.fromVersion { bad.insert(from) }
            if deployment.kind == .deploy, deployment.state == .rolledBack { bad.insert(deployment.toVersion) }
        }
        for deployment in history where deployment.state == .succeeded {
            for candidate in [deployment.toVersion, deployment.fromVersion].compactMap({ $0 })
                where !live.contains(candidate) && !bad.contains(candidate) {
                return candidate
            }
        }
        return nil
    }

    /// The endpoint's target (nil when it is not in the registry); refuses a deploy or rollback on a target
    /// ModelDeck only observes (http), before anything is written.
    static func controlledTarget(_ db: Database, _ endpoint: Endpoint) throws -> Target? {
        let target = try Target.fetchOne(db, key: endpoint.target)
        if let target, let refusal = target.descriptor.deploymentRefusal(target, endpoint: endpoint.name) {
            throw ModelDeckError(refusal)
        }
        return target
    }

    static func requireEndpoint(_ db: Database, _ name: String) throws -> Endpoint {
        guard let endpoint = try Endpoint.fetchOne(db, key: name) else {
            let names = try Endpoint.select(Column("name"), as: String.self).order(Column("name")).limit(20).fetchAll(db)
            throw ModelDeckError("unknown endpoint '\(name)'\(names.isEmpty ? "; the registry has none (apply a deck first)" : " (known: \(names.joined(separator: ", ")))")")
        }
        return endpoint
    }

    static func requireVersion(_ db: Database, _ text: String, endpoint: Endpoint) throws -> ModelVersion {
        let (model, label) = ModelVersion.parse(text, defaultModel: endpoint.model)
        guard model == endpoint.model else {
            throw ModelDeckError("endpoint '\(endpoint.name)' serves model '\(endpoint.model)'; '\(text)' is a version of '\(model)'")
        }
        guard let version = try ModelVersion.fetchOne(db, key: ModelVersion.id(model: model, version: label)) else {
            let labels = try ModelVersion.filter(Column("model") == model).order(Column("created_at"))
                .select(Column("version"), as: String.self).fetchAll(db)
            throw ModelDeckError("unknown version '\(model)@\(label)'\(labels.isEmpty ? "" : " (known: \(labels.joined(separator: ", ")))")")
        }
        return version
    }
}

extension Registry {
    /// What a rollback of `endpoint` would do (`Intents.planRollback`), for a confirm dialog.
    public func planRollback(endpoint: String, to version: String?) throws -> (from: String, to: String) {
        try read { db in try Intents.planRollback(db, endpoint: endpoint, to: version) }
    }

    /// The endpoints' names, in order (for completions and "known:" lists).
    public func endpointNames() throws -> [String] {
        try read { db in try Endpoint.select(Column("name"), as: String.self).order(Column("name")).fetchAll(db) }
    }

    public func targets() throws -> [Target] { try read { db in try Target.fetchAll(db) } }

    /// Every target with the catalog generation it was read at, or only the generation when it is still
    /// `known` (no target, endpoint, version or weight changed since).
    public func targets(unless known: Int64?) throws -> (generation: Int64, targets: [Target]?) {
        try read { db in
            let generation = try CatalogStamp.generation(db)
            return (generation, generation == known ? nil : try Target.fetchAll(db))
        }
    }
    public func endpoints() throws -> [Endpoint] { try read { db in try Endpoint.order(Column("name")).fetchAll(db) } }
    public func endpoint(named name: String) throws -> Endpoint? { try read { db in try Endpoint.fetchOne(db, key: name) } }
    public func version(id: String) throws -> ModelVersion? { try read { db in try ModelVersion.fetchOne(db, key: id) } }
    public func versions(ids: [String]) throws -> [ModelVersion] { try read { db in try ModelVersion.fetchAll(db, keys: ids) } }
    public func versions(model: String) throws -> [ModelVersion] {
        try read { db in try ModelVersion.filter(Column("model") == model).fetchAll(db) }
    }
}
