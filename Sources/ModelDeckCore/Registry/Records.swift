import Foundation
import GRDB

// Domain values are the records: plain structs, mapped to their rows here and nowhere else.

private func jsonText<T: Encodable>(_ value: T) -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    // Encoding [String: String] or [String] cannot fail.
    return String(decoding: try! encoder.encode(value), as: UTF8.self)
}

private func decodeJSON<T: Decodable>(_ type: T.Type, _ text: String?) -> T? {
    guard let text else { return nil }
    return try? JSONDecoder().decode(type, from: Data(text.utf8))
}

extension Target: FetchableRecord, PersistableRecord, RegistryRecord {
    public static var databaseTableName: String { "targets" }

    public init(row: Row) throws {
        let kindText: String = row["kind"]
        guard let kind = TargetKind(rawValue: kindText) else {
            throw ModelDeckError("registry has target '\(row["name"] as String)' of unknown kind '\(kindText)'")
        }
        self.init(name: row["name"], kind: kind, region: row["region"],
                  config: decodeJSON([String: String].self, row["config"]) ?? [:])
    }

    public func encode(to container: inout PersistenceContainer) throws {
        container["name"] = name
        container["kind"] = kind.rawValue
        container["region"] = region
        container["config"] = jsonText(config)
        container["updated_at"] = StoredDate.text(Date())
    }
}

extension Model: FetchableRecord, PersistableRecord, RegistryRecord {
    public static var databaseTableName: String { "models" }

    public init(row: Row) throws {
        self.init(name: row["name"], description: row["description"])
    }

    public func encode(to container: inout PersistenceContainer) throws {
        container["name"] = name
        container["description"] = description
    }
}

extension ModelVersion: FetchableRecord, PersistableRecord, RegistryRecord {
    public static var databaseTableName: String { "model_versions" }

    public init(row: Row) throws {
        self.init(model: row["model"], version: row["version"], artifact: row["artifact"], digest: row["digest"],
                  sizeBytes: row["size_bytes"], unzippedSizeBytes: row["unzipped_size_bytes"],
                  command: decodeJSON([String].self, row["command"]), workdir: row["workdir"], image: row["image"],
                  memoryMB: row["memory_mb"], gpus: row["gpus"], timeoutSeconds: row["timeout_s"], notes: row["notes"],
                  environment: decodeJSON([String: String].self, row["environment"]), createdBy: row["created_by"])
    }

    public func encode(to container: inout PersistenceContainer) throws {
        container["id"] = id
        container["model"] = model
        container["version"] = version
        container["artifact"] = artifact
        container["digest"] = digest
        container["size_bytes"] = sizeBytes
        container["unzipped_size_bytes"] = unzippedSizeBytes
        container["command"] = command.map(jsonText)
        container["workdir"] = workdir
        container["image"] = image
        container["memory_mb"] = memoryMB
        container["gpus"] = gpus
        container["timeout_s"] = timeoutSeconds
        container["notes"] = notes
        container["environment"] = environment.map(jsonText)
        container["created_by"] = createdBy ?? Actor.current
    }
}

extension Endpoint: FetchableRecord, PersistableRecord, RegistryRecord {
    public static var databaseTableName: String { "endpoints" }

    public init(row: Row) throws {
        let keepWarm: KeepWarmPolicy
        switch row["keep_warm_mode"] as String {
        case "fixed": keepWarm = .fixed(everySeconds: row["keep_warm_every_s"] ?? 300,
                                        concurrency: row["keep_warm_concurrency"] ?? 1)
        case "adaptive": keepWarm = .adaptive
        default: keepWarm = .off
        }
        self.init(name: row["name"], model: row["model"], target: row["target"], memoryMB: row["memory_mb"],
                  concurrency: row["concurrency"], minInstances: row["min_instances"],
                  maxInstances: row["max_instances"], idleTimeoutSeconds: row["idle_timeout_s"],
                  slo: SLO(p99Milliseconds: row["slo_p99_ms"], errorRatePPM: row["slo_error_ppm"]),
                  dailyBudgetMicros: row["daily_budget_micros"], keepWarm: keepWarm, production: row["production"],
                  rollout: row["rollout"], gate: decodeJSON(RollbackGate.self, row["gate"]))
        keepWarmSchedule = decodeJSON([ScheduledConcurrency].self, row["keep_warm_schedule"]) ?? []
    }

    public func encode(to container: inout PersistenceContainer) throws {
        container["name"] = name
        container["model"] = model
        container["target"] = target
        container["memory_mb"] = memoryMB
        container["concurrency"] = concurrency
        container["min_instances"] = minInstances
        container["max_instances"] = maxInstances
        container["idle_timeout_s"] = idleTimeoutSeconds
        container["slo_p99_ms"] = slo.p99Milliseconds
        container["slo_error_ppm"] = slo.errorRatePPM
        container["daily_budget_micros"] = dailyBudgetMicros
        container["keep_warm_mode"] = keepWarm.mode
        switch keepWarm {
        case .fixed(let every, let concurrency):
            container["keep_warm_every_s"] = every
            container["keep_warm_concurrency"] = concurrency
        case .off, .adaptive:
            container["keep_warm_every_s"] = nil
            container["keep_warm_concurrency"] = 1
        }
        container["production"] = production
        container["keep_warm_schedule"] = keepWarmSchedule.isEmpty ? nil : jsonText(keepWarmSchedule)
        container["rollout"] = rollout
        container["gate"] = gate.map(jsonText)
        container["updated_at"] = StoredDate.text(Date())
    }
}

extension Deployment: FetchableRecord, MutablePersistableRecord, RegistryRecord {
    public static var databaseTableName: String { "deployments" }

    public init(row: Row) throws {
        let stateText: String = row["state"]
        let kindText: String = row["kind"]
        self.init(id: row["id"], endpoint: row["endpoint"], kind: DeploymentKind(rawValue: kindText) ?? .deploy,
                  fromVersion: row["from_version"], toVersion: row["to_version"], strategy: row["strategy"],
                  bakeSeconds: row["bake_s"], state: DeploymentState(rawValue: stateText) ?? .failed,
                  step: row["step"], currentWeight: row["current_weight"], stepStartedAt: row["step_started_at"], alarm: row["alarm"],
                  reason: row["reason"], pausedAt: row["paused_at"], pauseNote: row["pause_note"],
                  actor: row["actor"], createdAt: row["created_at"], updatedAt: row["updated_at"])
    }

    public func encode(to container: inout PersistenceContainer) throws {
        container["id"] = id
        container["endpoint"] = endpoint
        container["kind"] = kind.rawValue
        container["from_version"] = fromVersion
        container["to_version"] = toVersion
        container["strategy"] = strategy
        container["bake_s"] = bakeSeconds
        container["state"] = state.rawValue
        container["step"] = step
        container["current_weight"] = currentWeight
        container["step_started_at"] = StoredDate.text(stepStartedAt)
        container["alarm"] = alarm
        container["reason"] = reason
        container["paused_at"] = pausedAt.map(StoredDate.text)
        container["pause_note"] = pauseNote
        container["actor"] = actor
        container["created_at"] = StoredDate.text(createdAt)
        container["updated_at"] = StoredDate.text(updatedAt)
    }

    public mutating func didInsert(_ inserted: InsertionSuccess) {
        id = inserted.rowID
    }
}

extension AuditEvent: FetchableRecord, MutablePersistableRecord, RegistryRecord {
    public static var databaseTableName: String { "events" }

    public init(row: Row) throws {
        self.init(id: row["id"], at: row["at"], actor: row["actor"], endpoint: row["endpoint"],
                  deploymentId: row["deployment_id"], kind: row["kind"], message: row["message"])
    }

    public func encode(to container: inout PersistenceContainer) throws {
        container["id"] = id
        container["at"] = StoredDate.text(at)
        container["actor"] = actor
        container["endpoint"] = endpoint
        container["deployment_id"] = deploymentId
        container["kind"] = kind
        container["message"] = message
    }

    public mutating func didInsert(_ inserted: InsertionSuccess) {
        id = inserted.rowID
    }
}

extension Database {
    /// Appends one audit event inside the current transaction.
    @discardableResult
    public func record(_ event: AuditEvent) throws -> AuditEvent {
        var event = event
        try event.insert(self)
        return event
    }
}
