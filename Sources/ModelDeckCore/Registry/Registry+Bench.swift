import Foundation
import GRDB

/// What a bench run measures: one version of one endpoint, on its target.
public struct BenchSubject: Sendable {
    public var endpoint: Endpoint
    public var version: ModelVersion
    public var target: Target
}

/// One stored `modeldeck bench` run.
public struct BenchRun: Codable, Equatable, Sendable {
    public enum State: String, Codable, Sendable {
        case running, finished, partial, failed
    }

    public var id: Int64
    public var endpoint: String
    public var version: String
    public var target: String
    public var targetKind: String
    public var memoryMB: Int
    public var state: State
    /// Stopped before every phase finished (Ctrl-C, or a phase that failed): what was measured is kept.
    public var partial: Bool
    public var plan: BenchPlan
    public var figures: BenchFigures?
    public var costMicros: Int64
    public var actor: String
    public var reason: String?
    public var startedAt: Date
    public var finishedAt: Date?

    public init(id: Int64, endpoint: String, version: String, target: String, targetKind: String, memoryMB: Int, state: State,
                partial: Bool, plan: BenchPlan, figures: BenchFigures?, costMicros: Int64, actor: String, reason: String? = nil,
                startedAt: Date, finishedAt: Date? = nil) {
        self.id = id
        self.endpoint = endpoint
        self.version = version
        self.target = target
        self.targetKind = targetKind
        self.memoryMB = memoryMB
        self.state = state
        self.partial = partial
        self.plan = plan
        self.figures = figures
        self.costMicros = costMicros
        self.actor = actor
        self.reason = reason
        self.startedAt = startedAt
        self.finishedAt = finishedAt
    }

    enum CodingKeys: String, CodingKey {
        case id, endpoint, version, target, targetKind = "target_kind", memoryMB = "memory_mb", state, partial, plan, figures
        case costMicros = "cost_micros", actor, reason, startedAt = "started_at", finishedAt = "finished_at"
    }
}

extension Registry {
    /// The endpoint, version (`versionText`, else the one taking most traffic) and target a bench would measure;
    /// refuses an unknown endpoint or version, and a production endpoint without `force` and a reason.
    public func benchSubject(endpoint name: String, version versionText: String?, force: Bool, reason: String?) throws -> BenchSubject {
        try read { db in
            let endpoint = try Intents.requireEndpoint(db, name)
            let version: ModelVersion
            if let versionText {
                version = try Intents.requireVersion(db, versionText, endpoint: endpoint)
            } else {
                guard let primary = try TrafficSplit.desired(db, endpoint: name)?.primary,
                      let found = try ModelVersion.fetchOne(db, key: primary) else {
                    throw ModelDeckError("endpoint '\(name)' takes no traffic yet; deploy a version or name one with --version")
                }
                version = found
            }
            guard let target = try Target.fetchOne(db, key: endpoint.target) else {
                throw ModelDeckError("endpoint '\(name)' uses target '\(endpoint.target)', which is not in the registry")
            }
            if endpoint.production, !force || (reason ?? "").trimmingCharacters(in: .whitespaces).isEmpty {
                throw ModelDeckError("endpoint '\(name)' is production: a bench sends it real load; pass --force --reason TEXT")
            }
            return BenchSubject(endpoint: endpoint, version: version, target: target)
        }
    }

    /// Stores a new running bench run and its audit event in one transaction; returns its id and its token.
    public func startBenchRun(_ subject: BenchSubject, plan: BenchPlan, reason: String?, actor: String = Actor.current,
                              now: Date = Date()) throws -> (id: Int64, token: String) {
        let token = Self.benchToken()
        let planJSON = String(decoding: try JSONEncoder().encode(plan), as: UTF8.self)
        return try write { db in
            try db.execute(sql: """
                INSERT INTO bench_runs (endpoint, version_id, target, target_kind, memory_mb, token, state, plan, actor, reason, started_at)
                VALUES (?, ?, ?, ?, ?, ?, 'running', ?, ?, ?, ?)
                """, arguments: [subject.endpoint.name, subject.version.id, subject.target.name, subject.target.kind.rawValue,
                                 subject.endpoint.memoryMB, token, planJSON, actor, reason, now])
            let id = db.lastInsertedRowID
            let phases = plan.phases.map(\.rawValue).joined(separator: ", ")
            let production = subject.endpoint.production ? " (production, forced)" : ""
            try db.record(AuditEvent(at: now, actor: actor, endpoint: subject.endpoint.name, kind: "bench.started",
                                     message: "bench #\(id) of \(subject.version.id) on \(subject.endpoint.name)\(production): \(phases)"
                                         + (reason.map { ": \($0)" } ?? "")))
            return (id, token)
        }
    }

    /// Stores what run `id` measured and closes it (`partial` when it was cut short).
    public func finishBenchRun(_ id: Int64, figures: BenchFigures, partial: Bool, failed: Bool = false, now: Date = Date()) throws {
        let json = String(decoding: try JSONEncoder().encode(figures), as: UTF8.self)
        let state: BenchRun.State = failed ? .failed : partial ? .partial : .finished
        try write { db in
            try db.execute(sql: """
                UPDATE bench_runs SET state = ?, partial = ?, figures = ?, cost_micros = ?, finished_at = ? WHERE id = ?
                """, arguments: [state.rawValue, partial || failed, json, max(0, figures.costMicros), now, id])
            if let endpoint = try String.fetchOne(db, sql: "SELECT endpoint FROM bench_runs WHERE id = ?", arguments: [id]) {
                try db.record(AuditEvent(at: now, actor: Actor.current, endpoint: endpoint, kind: "bench.\(state.rawValue)",
                                         message: "bench #\(id) \(state.rawValue): \(figures.requests) requests, bench cost \(Format.dollars(micros: figures.costMicros))"))
            }
        }
    }

    /// Stored runs, newest first, optionally of one endpoint; at most `limit`.
    public func benchRuns(endpoint: String? = nil, limit: Int = 1_000) throws -> [BenchRun] {
        try read { db in
            try Row.fetchAll(db, sql: """
                SELECT * FROM bench_runs WHERE (?1 IS NULL OR endpoint = ?1) ORDER BY id DESC LIMIT ?2
                """, arguments: [endpoint, limit]).map(Self.benchRun)
        }
    }

    /// The newest run of each of `endpoints` that measured something (finished or partial), by endpoint.
    public func latestBenchRuns(endpoints: [String]) throws -> [String: BenchRun] {
        try read { db in
            var result: [String: BenchRun] = [:]
            for name in endpoints {
                if let row = try Row.fetchOne(db, sql: """
                    SELECT * FROM bench_runs WHERE endpoint = ? AND figures IS NOT NULL ORDER BY id DESC LIMIT 1
                    """, arguments: [name]) { result[name] = try Self.benchRun(row) }
            }
            return result
        }
    }

    /// Whether `token` is the pass of a running bench run of `endpoint` (what the local gateway asks).
    public func benchPassIsValid(_ token: String, endpoint: String) throws -> Bool {
        try read { db in
            try Bool.fetchOne(db, sql: "SELECT 1 FROM bench_runs WHERE token = ? AND endpoint = ? AND state = 'running'",
                              arguments: [token, endpoint]) ?? false
        }
    }

    private static func benchRun(_ row: Row) throws -> BenchRun {
        let decoder = JSONDecoder()
        let plan = try decoder.decode(BenchPlan.self, from: Data((row["plan"] as String).utf8))
        let figures = try (row["figures"] as String?).map { try decoder.decode(BenchFigures.self, from: Data($0.utf8)) }
        return BenchRun(id: row["id"], endpoint: row["endpoint"], version: row["version_id"], target: row["target"],
                        targetKind: row["target_kind"], memoryMB: row["memory_mb"],
                        state: BenchRun.State(rawValue: row["state"]) ?? .failed, partial: row["partial"], plan: plan,
                        figures: figures, costMicros: row["cost_micros"], actor: row["actor"], reason: row["reason"],
                        startedAt: row["started_at"], finishedAt: row["finished_at"])
    }

    /// 16 random bytes as hex, from the system's CSPRNG.
    private static func benchToken() -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<2).map { _ in
            let hex = String(generator.next() as UInt64, radix: 16)
            return String(repeating: "0", count: 16 - hex.count) + hex
        }.joined()
    }
}
