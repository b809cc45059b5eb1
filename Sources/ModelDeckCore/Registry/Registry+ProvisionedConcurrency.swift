import Foundation
import GRDB

/// One endpoint's provisioned-concurrency row: the intent and what the daemon last saw on the target.
public struct ProvisionedConcurrencyRecord: Equatable, Sendable {
    public var endpoint: String
    public var intent: ProvisionedConcurrency
    public var status: ProvisionedConcurrencyStatus

    public init(endpoint: String, intent: ProvisionedConcurrency, status: ProvisionedConcurrencyStatus) {
        self.endpoint = endpoint
        self.intent = intent
        self.status = status
    }
}

extension ProvisionedConcurrencyRecord: FetchableRecord, TableRecord {
    public static var databaseTableName: String { "provisioned_concurrency" }

    public init(row: Row) throws {
        let endpoint: String = row["endpoint"]
        guard let schedule = try? JSONDecoder().decode([ScheduledConcurrency].self, from: Data((row["schedule"] as String).utf8)) else {
            throw ModelDeckError("registry has a provisioned-concurrency schedule for '\(endpoint)' that this modeldeck cannot read")
        }
        self.init(endpoint: endpoint, intent: ProvisionedConcurrency(concurrency: row["concurrency"], schedule: schedule),
                  status: ProvisionedConcurrencyStatus(applied: row["applied"], platformStatus: row["platform_status"],
                                                       available: row["available"], failures: row["failures"], lastError: row["last_error"],
                                                       retryAt: row["retry_at"], checkedAt: row["checked_at"]))
    }
}

extension Intents {
    /// Asks for `count` provisioned environments on `endpoint`'s alias — from now on, or, with `cron`, each time
    /// it fires (an entry added to the schedule) — and records the audit event. The daemon applies it. Refused,
    /// before anything is written, on a target whose platform has no provisioned concurrency.
    @discardableResult
    public static func provision(_ registry: Registry, endpoint name: String, concurrency count: Int, cron: Cron?,
                                 actor: String = Actor.current, now: Date = Date()) throws -> (old: ProvisionedConcurrency?, new: ProvisionedConcurrency) {
        guard count == 0 || ProvisionedConcurrency.limit.contains(count) else {
            throw ModelDeckError("--provisioned \(count) is outside 0–\(Format.grouped(Int64(ProvisionedConcurrency.limit.upperBound)))")
        }
        return try registry.write { db in
            let endpoint = try requireEndpoint(db, name)
            guard let target = try Target.fetchOne(db, key: endpoint.target) else {
                throw ModelDeckError("endpoint '\(name)' uses target '\(endpoint.target)', which is not in the registry")
            }
            guard target.descriptor.provisionsConcurrency else {
                let kinds = TargetDescriptor.all.filter(\.provisionsConcurrency).map(\.kind.rawValue).joined(separator: ", ")
                throw ModelDeckError("endpoint '\(name)' runs on target \(target.label), which has no provisioned concurrency; only \(kinds) targets do (use --every or --adaptive pings instead)")
            }
            let old = try ProvisionedConcurrencyRecord.filter(Column("endpoint") == name).fetchOne(db)
            let new = (old?.intent ?? ProvisionedConcurrency(concurrency: 0)).setting(count, cron: cron)
            guard old?.intent != new else { return (old?.intent, new) }
            let schedule = String(decoding: try JSONEncoder().encode(new.schedule), as: UTF8.self)
            try db.execute(sql: """
                INSERT INTO provisioned_concurrency (endpoint, concurrency, schedule, updated_at) VALUES (?, ?, ?, ?)
                ON CONFLICT(endpoint) DO UPDATE SET concurrency = excluded.concurrency, schedule = excluded.schedule,
                    retry_at = NULL, failures = 0, updated_at = excluded.updated_at
                """, arguments: [name, new.concurrency, schedule, now])
            try db.record(AuditEvent(at: now, actor: actor, endpoint: name, kind: "provisioned.changed",
                                     message: "provisioned concurrency of \(name): \(old?.intent.summary ?? "0") → \(new.summary)"))
            return (old?.intent, new)
        }
    }
}

extension Registry {
    /// Every endpoint's provisioned-concurrency row, by endpoint.
    public func provisionedConcurrencies() throws -> [ProvisionedConcurrencyRecord] {
        try read { db in try ProvisionedConcurrencyRecord.order(Column("endpoint")).fetchAll(db) }
    }

    public func provisionedConcurrency(endpoint: String) throws -> ProvisionedConcurrencyRecord? {
        try read { db in try ProvisionedConcurrencyRecord.filter(Column("endpoint") == endpoint).fetchOne(db) }
    }

    /// Stores what the daemon saw after acting (`status`), with `event` in the audit log when it says something
    /// happened. A row whose intent is off and whose target has nothing left is removed.
    public func recordProvisioned(endpoint: String, status: ProvisionedConcurrencyStatus, event: (kind: String, message: String)?,
                                  now: Date) throws {
        try write { db in
            try db.execute(sql: """
                UPDATE provisioned_concurrency SET applied = ?, platform_status = ?, available = ?, failures = ?, last_error = ?,
                    retry_at = ?, checked_at = ?, updated_at = ? WHERE endpoint = ?
                """, arguments: [status.applied, status.platformStatus, status.available, status.failures,
                                 status.lastError.map(TerminalText.sanitize), status.retryAt, status.checkedAt, now, endpoint])
            try db.execute(sql: "DELETE FROM provisioned_concurrency WHERE endpoint = ? AND concurrency = 0 AND schedule = '[]' AND applied = 0",
                           arguments: [endpoint])
            if let event {
                try db.record(AuditEvent(at: now, actor: "daemon", endpoint: endpoint, kind: event.kind, message: event.message))
            }
        }
    }
}
