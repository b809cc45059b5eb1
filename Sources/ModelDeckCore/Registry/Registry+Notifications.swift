import Foundation
import GRDB

/// A notification entry and how its deliveries stand: the outbox is the audit log itself, read after `cursor`.
public struct NotificationState: Equatable, Sendable {
    public var channel: NotificationChannel
    /// The id of the last audit event delivered or passed over (not wanted by the entry).
    public var cursor: Int64
    public var lastSuccessAt: Date?
    public var lastError: String?
    /// When the failures in a row began; nil while deliveries succeed.
    public var failingSince: Date?
    /// Failed tries in a row (each doubles the pause before the next, up to a cap).
    public var failures: Int
    /// Every failed try ever (`modeldeck_notifications_failed_total`).
    public var failedTotal: Int64
    /// Not tried again before this, after a failure.
    public var nextAttemptAt: Date?

    public init(channel: NotificationChannel, cursor: Int64, lastSuccessAt: Date? = nil, lastError: String? = nil,
                failingSince: Date? = nil, failures: Int = 0, failedTotal: Int64 = 0, nextAttemptAt: Date? = nil) {
        self.channel = channel
        self.cursor = cursor
        self.lastSuccessAt = lastSuccessAt
        self.lastError = lastError
        self.failingSince = failingSince
        self.failures = failures
        self.failedTotal = failedTotal
        self.nextAttemptAt = nextAttemptAt
    }
}

extension NotificationState: FetchableRecord, TableRecord {
    public static var databaseTableName: String { "notifications" }

    public init(row: Row) throws {
        let name: String = row["name"]
        guard let channel = try? JSONDecoder().decode(NotificationChannel.self, from: Data((row["config"] as String).utf8)) else {
            throw ModelDeckError("registry has notification '\(name)' with a configuration this modeldeck cannot read")
        }
        self.init(channel: channel, cursor: row["cursor"], lastSuccessAt: row["last_success_at"], lastError: row["last_error"],
                  failingSince: row["failing_since"], failures: row["failures"], failedTotal: row["failed_total"],
                  nextAttemptAt: row["next_attempt_at"])
    }
}

extension NotificationChannel {
    /// The entry as stored: templates only, never the value of a variable.
    var configJSON: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try! encoder.encode(self), as: UTF8.self)
    }

    /// A new entry starts after the newest audit event: it is told what happens from now on, not the history.
    func insert(_ db: Database, now: Date) throws {
        try db.execute(sql: """
            INSERT INTO notifications (name, config, cursor, created_at, updated_at)
            VALUES (?, ?, (SELECT COALESCE(MAX(id), 0) FROM events), ?, ?)
            """, arguments: [name, configJSON, now, now])
    }

    /// A changed entry keeps its place in the log.
    func update(_ db: Database, now: Date) throws {
        try db.execute(sql: "UPDATE notifications SET config = ?, updated_at = ? WHERE name = ?", arguments: [configJSON, now, name])
    }
}

/// An entry whose deliveries fail, and since when.
public struct FailingNotification: Equatable, Sendable {
    public var name: String
    public var since: Date

    public init(name: String, since: Date) {
        self.name = name
        self.since = since
    }

    static func load(_ db: Database) throws -> [FailingNotification] {
        try Row.fetchAll(db, sql: "SELECT name, failing_since FROM notifications WHERE failing_since IS NOT NULL ORDER BY failing_since, name")
            .map { FailingNotification(name: $0["name"], since: $0["failing_since"]) }
    }
}

/// What an entry's next pass over the outbox does, decided from the events after its cursor alone.
public struct OutboxStep: Equatable, Sendable {
    /// The event to send now, if one is wanted.
    public var send: Int64?
    /// Move the cursor here without sending (events before `send`, or the whole page, that the entry does not want).
    public var passOver: Int64?

    /// The first event of `events` (the page after the cursor, in id order) that `channel` wants, and the
    /// unwanted ones before it, which are passed over.
    public static func next(_ channel: NotificationChannel, events: [Listings.EventRow], production: Set<String>) -> OutboxStep {
        var passOver: Int64?
        for event in events {
            if channel.wants(kind: event.kind, endpoint: event.endpoint, production: production) {
                return OutboxStep(send: event.id, passOver: passOver)
            }
            passOver = event.id
        }
        return OutboxStep(send: nil, passOver: passOver)
    }
}

extension Registry {
    /// Every notification entry with its delivery state, by name.
    public func notificationStates() throws -> [NotificationState] {
        try read { db in try NotificationState.order(Column("name")).fetchAll(db) }
    }

    public func notificationState(named name: String) throws -> NotificationState? {
        try read { db in try NotificationState.filter(Column("name") == name).fetchOne(db) }
    }

    /// Records the `notify.test` event that `modeldeck notify test NAME` sends (no entry asks for that kind, so
    /// the daemon never sends it again), and returns it with the entry; an unknown name is refused.
    public func recordNotificationTest(_ name: String, actor: String, now: Date) throws -> (NotificationChannel, Listings.EventRow) {
        try write { db in
            guard let state = try NotificationState.filter(Column("name") == name).fetchOne(db) else {
                let names = try String.fetchAll(db, sql: "SELECT name FROM notifications ORDER BY name")
                throw ModelDeckError("unknown notification '\(TerminalText.sanitize(String(name.prefix(64))))'"
                    + (names.isEmpty ? "; the deck declares none (notifications: in the deck)" : " (known: \(names.joined(separator: ", ")))"))
            }
            let event = try db.record(AuditEvent(at: now, actor: actor, kind: "notify.test",
                                                 message: "test of notification \(name) from modeldeck notify test"))
            return (state.channel, Listings.EventRow(id: event.id ?? 0, at: event.at, actor: event.actor, endpoint: nil, deploymentId: nil,
                                                     kind: event.kind, message: event.message))
        }
    }

    /// The entries whose deliveries fail now, with since when (the dashboard's header).
    public func failingNotifications() throws -> [FailingNotification] {
        try read { db in try FailingNotification.load(db) }
    }

    /// Up to `limit` audit events after `cursor`, oldest first, and the production endpoints (for the filters).
    public func outbox(after cursor: Int64, limit: Int = 200) throws -> (events: [Listings.EventRow], production: Set<String>) {
        try read { db in
            let events = try AuditEvent.fetchAll(db, sql: "SELECT * FROM events WHERE id > ? ORDER BY id LIMIT ?", arguments: [cursor, limit])
                .map { Listings.EventRow(id: $0.id ?? 0, at: $0.at, actor: $0.actor, endpoint: $0.endpoint, deploymentId: $0.deploymentId,
                                         kind: $0.kind, message: $0.message) }
            let production = Set(try String.fetchAll(db, sql: "SELECT name FROM endpoints WHERE production"))
            return (events, production)
        }
    }

    /// Moves an entry's cursor past events it does not want (never backwards).
    public func passOver(notification name: String, to id: Int64, now: Date) throws {
        try write { db in
            try db.execute(sql: "UPDATE notifications SET cursor = ?, updated_at = ? WHERE name = ? AND cursor < ?", arguments: [id, now, name, id])
        }
    }

    /// Event `id` reached the entry: the cursor moves past it, and the entry is healthy again.
    public func recordDelivered(notification name: String, event id: Int64, now: Date) throws {
        try write { db in
            try db.execute(sql: """
                UPDATE notifications SET cursor = MAX(cursor, ?), last_success_at = ?, failures = 0, failing_since = NULL,
                    next_attempt_at = NULL, updated_at = ? WHERE name = ?
                """, arguments: [id, now, now, name])
        }
    }

    /// A try failed: the cursor stays, so the same event is tried again at `retryAt`.
    public func recordDeliveryFailure(notification name: String, error: String, now: Date, retryAt: Date) throws {
        try write { db in
            try db.execute(sql: """
                UPDATE notifications SET failures = failures + 1, failed_total = failed_total + 1, last_error = ?,
                    failing_since = COALESCE(failing_since, ?), next_attempt_at = ?, updated_at = ? WHERE name = ?
                """, arguments: [String(error.prefix(500)), now, retryAt, now, name])
        }
    }

    /// Writes `budget.exceeded` for every endpoint whose cost today passed its daily budget and that has none
    /// yet today (UTC). Decided in a read (the usual answer is "none", and the write lock is not taken for it),
    /// then again inside the write transaction, so two checks never write it twice. Returns those endpoints.
    @discardableResult
    public func recordBudgetAlarms(now: Date) throws -> [String] {
        func due(_ db: Database) throws -> [(endpoint: String, message: String)] {
            let alarmed = Set(try String.fetchAll(db, sql: "SELECT DISTINCT endpoint FROM events WHERE kind = ? AND at >= ? AND endpoint IS NOT NULL",
                                                  arguments: [BudgetAlarm.kind, BudgetAlarm.dayStart(now)]))
            return BudgetAlarm.due(try CostBurn.load(db, now: now).endpoints, alarmedToday: alarmed)
        }
        // Most fleets set no budget: then the whole fleet's cost is not loaded every 10 s (at 10,000 endpoints it
        // was the largest share of an idle daemon's work).
        let budgeted = try read { db in
            try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM endpoints WHERE daily_budget_micros IS NOT NULL)") ?? false
        }
        guard budgeted, try !read(due).isEmpty else { return [] }
        return try write { db in
            let alarms = try due(db)
            for alarm in alarms {
                try db.record(AuditEvent(at: now, actor: "daemon", endpoint: alarm.endpoint, kind: BudgetAlarm.kind, message: alarm.message))
            }
            return alarms.map(\.endpoint)
        }
    }

    /// Deploys that ended, per endpoint and outcome (`succeeded`, `rolled_back`, `failed`, `cancelled`):
    /// counts that only grow, since deployments are history and never deleted.
    public func deploymentOutcomes() throws -> [(endpoint: String, result: String, count: Int)] {
        try read { db in
            try Row.fetchAll(db, sql: """
                SELECT endpoint, state, COUNT(*) AS n FROM deployments
                WHERE kind = 'deploy' AND state IN ('succeeded', 'rolled_back', 'failed', 'cancelled')
                GROUP BY endpoint, state ORDER BY endpoint, state
                """).map { ($0["endpoint"], $0["state"], $0["n"]) }
        }
    }
}
