import Foundation
import GRDB

// Drift between what a target routes and what the registry says: kept per endpoint (`endpoint_drift`)
// until resolved, each change with its audit event.

/// A drift the registry keeps: both sides and since when.
public struct DriftRecord: Codable, Equatable, Sendable, FetchableRecord, PersistableRecord, RegistryRecord {
    public static var databaseTableName: String { "endpoint_drift" }
    public var endpoint: String
    /// JSON objects, version → percent.
    public var registryWeights: String
    public var targetWeights: String
    public var detectedAt: Date

    enum CodingKeys: String, CodingKey {
        case endpoint
        case registryWeights = "registry_weights"
        case targetWeights = "target_weights"
        case detectedAt = "detected_at"
    }

    /// `the target routes …; the registry says …`, for a mark in the dashboard and `get endpoints`.
    public var summary: String {
        let decode = { (text: String) in (try? JSONDecoder().decode([String: Int].self, from: Data(text.utf8))) ?? [:] }
        return "target routes \(Drift.describe(decode(targetWeights))), registry says \(Drift.describe(decode(registryWeights)))"
    }
}

extension Registry {
    /// The drift policy of `target` (its `drift:` setting, or its kind's default).
    public func driftPolicy(target name: String) throws -> DriftPolicy {
        try read { db in try Target.fetchOne(db, key: name).map(DriftPolicy.init(of:)) ?? .alert }
    }

    /// Records `drift` and its `drift.detected` event (both sides, and what `action` does about it), unless
    /// the same drift is already recorded. Returns whether it was new.
    @discardableResult
    public func recordDrift(_ drift: Drift, action: DriftPolicy, now: Date) throws -> Bool {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let record = DriftRecord(endpoint: drift.endpoint, registryWeights: String(decoding: try encoder.encode(drift.registry), as: UTF8.self),
                                 targetWeights: String(decoding: try encoder.encode(drift.target), as: UTF8.self), detectedAt: now)
        return try write { db in
            if let existing = try DriftRecord.fetchOne(db, key: drift.endpoint),
               existing.registryWeights == record.registryWeights, existing.targetWeights == record.targetWeights {
                return false
            }
            try record.save(db)
            try db.record(AuditEvent(at: now, actor: "daemon", endpoint: drift.endpoint, kind: "drift.detected",
                                     message: drift.detectedMessage(action)))
            return true
        }
    }

    /// Clears `endpoint`'s drift, if one is recorded, with a `drift.resolved` event saying how.
    public func resolveDrift(endpoint: String, how: String, now: Date) throws {
        let recorded = try read { db in try DriftRecord.fetchOne(db, key: endpoint) }
        guard recorded != nil else { return }
        try write { db in
            guard try DriftRecord.deleteOne(db, key: endpoint) else { return }
            try db.record(AuditEvent(at: now, actor: "daemon", endpoint: endpoint, kind: "drift.resolved", message: "\(endpoint): \(how)"))
        }
    }

    /// Takes the target's routing as the registry's (`drift: adopt`): a rollback row (done at once, as the
    /// person at the console did; strategy `adopted:…`) that decides
    /// the endpoint's weights from now on, the traffic table set to them, the drift resolved — unless a
    /// newer deployment came meanwhile. Returns whether it was adopted.
    @discardableResult
    public func adoptDrift(_ drift: Drift, after latest: Deployment, now: Date) throws -> Bool {
        try write { db in
            let newest = try Int64.fetchOne(db, sql: "SELECT MAX(id) FROM deployments WHERE endpoint = ?", arguments: [drift.endpoint])
            guard newest == latest.id else { return false }
            let split = try TrafficSplit(drift.target, endpoint: drift.endpoint)
            var adopt = Deployment(endpoint: drift.endpoint, kind: .rollback, fromVersion: latest.toVersion, toVersion: split.primary ?? latest.toVersion,
                                   strategy: DeploymentMachine.adoptedStrategy(drift.target), bakeSeconds: 0, state: .succeeded,
                                   currentWeight: drift.target[split.primary ?? ""] ?? 0,
                                   reason: "adopted the target's routing (drift: adopt)", actor: "daemon", createdAt: now, updatedAt: now)
            try adopt.insert(db)
            try split.save(db, endpoint: drift.endpoint)
            try TrafficSplit.markRouted(db, endpoint: drift.endpoint)
            try DriftRecord.deleteOne(db, key: drift.endpoint)
            try db.record(AuditEvent(at: now, actor: "daemon", endpoint: drift.endpoint, deploymentId: adopt.id, kind: "drift.adopted",
                                     message: "\(drift.endpoint): the registry now says \(Drift.describe(drift.target)), as the target routes (was \(Drift.describe(drift.registry)))"))
            return true
        }
    }

    /// Every endpoint's recorded drift.
    public func drifts() throws -> [String: DriftRecord] {
        try read { db in try Self.drifts(db) }
    }

    static func drifts(_ db: Database) throws -> [String: DriftRecord] {
        Dictionary(try DriftRecord.fetchAll(db).map { ($0.endpoint, $0) }, uniquingKeysWith: { a, _ in a })
    }
}
