import Foundation
import GRDB

/// One row of `keep_warm_state`: what the keep-warm scheduler planned and last did for an endpoint, and a
/// "ping now" someone asked for.
public struct KeepWarmState: Codable, Equatable, Sendable, FetchableRecord, PersistableRecord, RegistryRecord {
    // Column names spelled out: cheaper than converting every key of every row from snake case.
    public enum CodingKeys: String, CodingKey {
        case endpoint
        case nextPingAt = "next_ping_at"
        case lastPingAt = "last_ping_at"
        case lastPingDueAt = "last_ping_due_at"
        case plan
        case lastResult = "last_result"
        case pingsSent = "pings_sent"
        case pingRequestedAt = "ping_requested_at"
        case pingRequestedBy = "ping_requested_by"
        case updatedAt = "updated_at"
    }

    public static let databaseTableName = "keep_warm_state"

    public var endpoint: String
    public var nextPingAt: Date?
    public var lastPingAt: Date?
    /// When the last ping was due (its plan's next ping, or the request's time): how late the scheduler is.
    public var lastPingDueAt: Date?
    public var plan: String = ""
    public var lastResult: String?
    public var pingsSent: Int64 = 0
    public var pingRequestedAt: Date?
    public var pingRequestedBy: String?
    public var updatedAt: Date

    public init(endpoint: String, updatedAt: Date) {
        self.endpoint = endpoint
        self.updatedAt = updatedAt
    }
}

/// Pings sent to one endpoint, as the keep-warm scheduler records them (`Registry.recordPings`).
public struct PingRecord: Sendable, Equatable {
    public var endpoint: String
    public var sentAt: Date
    /// When they were due: the plan's next ping, or the request's time.
    public var dueAt: Date
    public var count: Int
    /// What they did, in words ("2 pings: 1 cold (up to 840 ms), 1 warm").
    public var summary: String
    /// The "ping now" request they answered.
    public var answering: Date?

    public init(endpoint: String, sentAt: Date, dueAt: Date, count: Int, summary: String, answering: Date?) {
        (self.endpoint, self.sentAt, self.dueAt, self.count, self.summary, self.answering) = (endpoint, sentAt, dueAt, count, summary, answering)
    }
}

/// What keep-warm plans one endpoint from.
public struct KeepWarmInput: Sendable {
    public var endpoint: Endpoint
    /// Version → percent, the versions that take traffic.
    public var weights: [String: Int]
    public var state: KeepWarmState?
    /// The slowest cold start among its instances now, in milliseconds.
    public var slowestColdStartMs: Int64?
    /// The versions that take traffic, by id.
    public var versions: [String: ModelVersion]
}

extension Registry {
    /// What keep-warm's inputs depend on, besides traffic: the catalog generation (targets, endpoints and their
    /// policies, versions, weights) and the keep-warm generation (pings asked for). Two equal stamps: the same
    /// `keepWarmInputs`, but for the cold starts of instances.
    public struct KeepWarmStamp: Equatable, Sendable {
        public var catalog: Int64
        public var keepWarm: Int64
    }

    /// Every endpoint with keep-warm on or a ping asked for, with what its plan needs, in a few set queries
    /// (a fleet has thousands) — or only the stamp when it is still `known`: the daemon asks at each change
    /// of the registry, and at 10,000 endpoints reading them all was a full second's work of its keep-warm loop.
    public func keepWarmInputs(unless known: KeepWarmStamp?) throws -> (stamp: KeepWarmStamp, inputs: [KeepWarmInput]?) {
        try read { db in
            let stamp = KeepWarmStamp(catalog: try CatalogStamp.generation(db),
                                      keepWarm: try Int64.fetchOne(db, sql: "SELECT value FROM keep_warm_generation WHERE id = 1") ?? 0)
            return (stamp, stamp == known ? nil : try Self.keepWarmInputs(db))
        }
    }

    /// The slowest cold start (milliseconds) among the instances of each of `endpoints` now; absent: none.
    public func slowestColdStarts(endpoints: [String]) throws -> [String: Int64] {
        guard !endpoints.isEmpty else { return [:] }
        return try read { db in try Self.slowestColdStarts(db, endpoints: endpoints) }
    }

    private static func slowestColdStarts(_ db: Database, endpoints: [String]?) throws -> [String: Int64] {
        var coldStartMs: [String: Int64] = [:]
        let filter = endpoints == nil ? "" : " WHERE endpoint IN (SELECT value FROM json_each(?))"
        for row in try Row.fetchAll(db, sql: "SELECT endpoint, MAX(cold_start_ms) AS ms FROM instances\(filter) GROUP BY endpoint",
                                    arguments: endpoints.map { [jsonArray($0)] } ?? []) {
            coldStartMs[row["endpoint"]] = row["ms"]
        }
        return coldStartMs
    }

    private static func keepWarmInputs(_ db: Database) throws -> [KeepWarmInput] {
        let states = Dictionary(try KeepWarmState.fetchAll(db).map { ($0.endpoint, $0) }, uniquingKeysWith: { a, _ in a })
        let endpoints = try Endpoint.fetchAll(db).filter { $0.keepWarm != .off || states[$0.name]?.pingRequestedAt != nil }
        guard !endpoints.isEmpty else { return [] }
        let weights = try TrafficSplit.allDesired(db)
        let taking = try ModelVersion.fetchAll(db, keys: Set(endpoints.flatMap { weights[$0.name]?.keys ?? [:].keys }))
        let versions = Dictionary(taking.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        let coldStartMs = try slowestColdStarts(db, endpoints: nil)
        return endpoints.map { endpoint in
            KeepWarmInput(endpoint: endpoint, weights: weights[endpoint.name] ?? [:], state: states[endpoint.name],
                          slowestColdStartMs: coldStartMs[endpoint.name],
                          versions: versions.filter { weights[endpoint.name]?[$0.key] != nil })
        }
    }

    /// Every endpoint's keep-warm state, by endpoint.
    public func keepWarmStates() throws -> [String: KeepWarmState] {
        try read { db in try Self.keepWarmStates(db) }
    }

    static func keepWarmStates(_ db: Database) throws -> [String: KeepWarmState] {
        Dictionary(try KeepWarmState.fetchAll(db).map { ($0.endpoint, $0) }, uniquingKeysWith: { a, _ in a })
    }

    /// Stores the plans that changed (next ping and its reason), in one transaction.
    public func saveKeepWarmPlans(_ plans: [(endpoint: String, plan: KeepWarmPlan)], now: Date) throws {
        guard !plans.isEmpty else { return }
        try write { db in
            // One prepared upsert, not a record fetched, compared and saved: at a thousand endpoints the loop
            // stores a plan at each ping, and building and decoding the record's query was most of that write.
            let upsert = try db.cachedStatement(sql: """
                INSERT INTO keep_warm_state (endpoint, next_ping_at, plan, updated_at) VALUES (?, ?, ?, ?)
                ON CONFLICT (endpoint) DO UPDATE SET next_ping_at = excluded.next_ping_at, plan = excluded.plan,
                    updated_at = excluded.updated_at
                WHERE next_ping_at IS NOT excluded.next_ping_at OR plan IS NOT excluded.plan
                """)
            for (endpoint, plan) in plans {
                try upsert.execute(arguments: [endpoint, plan.nextPing, plan.reason, now])
            }
        }
    }

    /// Notes that the pings of `endpoint` reached nothing.
    public func noteKeepWarmFailure(endpoint: String, reason: String, now: Date) throws {
        try write { db in
            try Self.updateKeepWarmState(db, endpoint: endpoint, now: now) { $0.lastResult = "ping failed: \(reason)" }
        }
    }

    /// Records pings sent: for each endpoint, when they went and were due, what they did, and — when they
    /// answered a "ping now" request — that request cleared (only that one: a request made meanwhile gets pings
    /// of its own) with its audit event. All in one transaction: the daemon writes its pings in batches, so a
    /// fleet's pings make a few commits a second, not one per ping.
    public func recordPings(_ records: [PingRecord], now: Date) throws {
        guard !records.isEmpty else { return }
        try write { db in
            for record in records {
                try Self.updateKeepWarmState(db, endpoint: record.endpoint, now: now) { state in
                    state.lastPingAt = record.sentAt
                    state.lastPingDueAt = record.dueAt
                    state.lastResult = record.summary
                    state.pingsSent += Int64(record.count)
                    if let requested = record.answering, state.pingRequestedAt == requested {
                        state.pingRequestedAt = nil
                        state.pingRequestedBy = nil
                    }
                }
                if record.answering != nil {
                    try db.record(AuditEvent(at: now, actor: "daemon", endpoint: record.endpoint, kind: "ping.sent",
                                             message: "ping \(record.endpoint): \(record.summary)"))
                }
            }
        }
    }

    /// Asks for `endpoint` to be pinged now (the intent; the caller records its audit event).
    static func requestPing(_ db: Database, endpoint: String, by actor: String, now: Date) throws {
        try updateKeepWarmState(db, endpoint: endpoint, now: now) { state in
            state.pingRequestedAt = now
            state.pingRequestedBy = actor
        }
    }

    /// The one place a keep-warm row is written: read (or start) it, change it, save it.
    static func updateKeepWarmState(_ db: Database, endpoint: String, now: Date, _ change: (inout KeepWarmState) -> Void) throws {
        let stored = try KeepWarmState.fetchOne(db, key: endpoint)
        var state = stored ?? KeepWarmState(endpoint: endpoint, updatedAt: now)
        change(&state)
        guard state != stored else { return }
        state.updatedAt = now
        try state.save(db)
    }
}

extension Registry {
    /// Records when endpoints were last pinged, without a ping being sent (a benchmark spreading a fleet's
    /// pings over the interval, or a keep-warm history brought from another scheduler).
    public func noteLastPings(_ pings: [String: Date], now: Date) throws {
        try write { db in
            for (endpoint, at) in pings {
                try Self.updateKeepWarmState(db, endpoint: endpoint, now: now) { $0.lastPingAt = at }
            }
        }
    }
}

extension Registry {
    /// Per endpoint with user traffic since `since` (seconds since the epoch): the most user requests in
    /// flight at once (`max_in_flight`) over the `window` seconds before the end of its latest busy bucket —
    /// the keep-warm planner's `recentConcurrency`, which the simulator measures the same way.
    public func recentPeakConcurrency(since: Int64, window: Int64 = KeepWarmPlanner.concurrencyWindowSeconds) throws -> [String: Int] {
        try read { db in
            var peaks: [String: Int] = [:]
            for row in try Row.fetchAll(db, sql: """
                SELECT b.endpoint AS endpoint, MAX(b.max_in_flight) AS peak
                FROM metric_buckets b
                JOIN (SELECT endpoint, MAX(start + width_s) AS last FROM metric_buckets
                      WHERE requests > 0 AND start >= ? GROUP BY endpoint) l ON l.endpoint = b.endpoint
                WHERE b.requests > 0 AND b.start >= l.last - b.width_s - ?
                GROUP BY b.endpoint
                """, arguments: [since, window]) {
                peaks[row["endpoint"]] = max(1, row["peak"] as Int? ?? 1)
            }
            return peaks
        }
    }
}

extension Registry {
    /// How long each of `endpoints` has learned its platform keeps an idle instance (`KeepAliveLearner`), from
    /// the gaps between its buckets with activity (requests or pings) since `since`, version by version, and
    /// from the luke-warm curve of its newest bench run that has one (whatever its age: a deliberate
    /// measurement, run rarely); the endpoints with too little evidence are absent. The daemon's planner and
    /// the endpoint detail both ask here.
    public func learnedKeepAlives(endpoints: [String], since: Date) throws -> [String: LearnedKeepAlive] {
        guard !endpoints.isEmpty else { return [:] }
        return try read { db in
            var activity: [String: [String: [(start: Int64, width: Int64, cold: Bool)]]] = [:]
            for row in try Row.fetchAll(db, sql: """
                SELECT endpoint, version_id, start, width_s, cold_starts + warmup_cold_starts > 0 AS cold FROM metric_buckets
                WHERE requests + warmups > 0 AND start >= ? AND endpoint IN (SELECT value FROM json_each(?))
                ORDER BY start
                """, arguments: [Int64(since.timeIntervalSince1970), jsonArray(endpoints)]) {
                activity[row["endpoint"], default: [:]][row["version_id"], default: []].append((row["start"], row["width_s"], row["cold"]))
            }
            var curves: [String: (run: Int64, curve: [BenchFigures.LukeWarm])] = [:]
            for row in try Row.fetchAll(db, sql: """
                SELECT endpoint, id, json_extract(figures, '$.lukeWarm') AS curve FROM bench_runs
                WHERE id IN (SELECT MAX(id) FROM bench_runs WHERE endpoint IN (SELECT value FROM json_each(?))
                             AND json_array_length(figures, '$.lukeWarm') > 0 GROUP BY endpoint)
                """, arguments: [jsonArray(endpoints)]) {
                guard let text: String = row["curve"],
                      let curve = try? JSONDecoder().decode([BenchFigures.LukeWarm].self, from: Data(text.utf8)) else { continue }
                curves[row["endpoint"]] = (row["id"], curve)
            }
            var result: [String: LearnedKeepAlive] = [:]
            for endpoint in Set(activity.keys).union(curves.keys) {
                let bench = curves[endpoint].map { KeepAliveLearner.observations(lukeWarm: $0.curve) } ?? []
                let observations = (activity[endpoint] ?? [:]).values.flatMap { KeepAliveLearner.observations(activity: $0) } + bench
                guard var learned = KeepAliveLearner.learn(observations) else { continue }
                if learned.benchObservations > 0 { learned.benchRun = curves[endpoint]?.run }
                result[endpoint] = learned
            }
            return result
        }
    }
}
