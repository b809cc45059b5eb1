import Foundation
import GRDB

/// What an instance is doing. Warm instances (idle or busy) answer without a cold start.
///
/// `crash-looping` is a version's place in the pool while its starts keep failing and the runtime waits
/// before the next one (`StartBackoff`): a row without a process, gone once an instance of that version
/// comes up healthy. It is not warm, and not counted as a running instance.
public enum InstanceState: String, Codable, Sendable, CaseIterable {
    case starting, idle, busy, draining
    case crashLooping = "crash-looping"

    public var isWarm: Bool { self == .idle || self == .busy }
}

/// One row of `instances`: the live view of an endpoint's concurrency, written by the gateway that runs it.
public struct InstanceRecord: Codable, Equatable, Sendable, FetchableRecord, PersistableRecord, RegistryRecord {
    // Column names spelled out: cheaper than converting every key of every row from snake case.
    public enum CodingKeys: String, CodingKey {
        case id
        case endpoint
        case versionId = "version_id"
        case state
        case inFlight = "in_flight"
        case maxConcurrency = "max_concurrency"
        case pid
        case address
        case coldStartMs = "cold_start_ms"
        case startedAt = "started_at"
        case lastUsedAt = "last_used_at"
        case updatedAt = "updated_at"
    }

    public static let databaseTableName = "instances"

    public var id: String
    public var endpoint: String
    public var versionId: String
    public var state: InstanceState
    public var inFlight: Int
    public var maxConcurrency: Int
    public var pid: Int32?
    public var address: String?
    public var coldStartMs: Int?
    public var startedAt: Date
    public var lastUsedAt: Date?
    public var updatedAt: Date


    public init(id: String, endpoint: String, versionId: String, state: InstanceState, inFlight: Int, maxConcurrency: Int,
                pid: Int32?, address: String?, coldStartMs: Int?, startedAt: Date, lastUsedAt: Date?, updatedAt: Date) {
        self.id = id
        self.endpoint = endpoint
        self.versionId = versionId
        self.state = state
        self.inFlight = inFlight
        self.maxConcurrency = maxConcurrency
        self.pid = pid
        self.address = address
        self.coldStartMs = coldStartMs
        self.startedAt = startedAt
        self.lastUsedAt = lastUsedAt
        self.updatedAt = updatedAt
    }
}

/// An endpoint's (or version's) instances now: how many are warm and how many requests they hold, and
/// which of its versions are crash-looping.
public struct InstanceFigures: Equatable, Sendable, Codable {
    public var instances = 0
    public var warm = 0
    public var inFlight = 0
    /// Versions whose starts keep failing, in id order (their `crash-looping` rows are not instances).
    public var crashLooping: [String] = []

    public init() {}

    mutating func add(_ instance: InstanceRecord) {
        guard instance.state != .crashLooping else {
            crashLooping.insert(instance.versionId, at: crashLooping.firstIndex { $0 > instance.versionId } ?? crashLooping.endIndex)
            return
        }
        instances += 1
        if instance.state.isWarm { warm += 1 }
        inFlight += instance.inFlight
    }
}

extension Registry {
    /// Writes what a gateway measured since its last flush, in one transaction: the metric buckets (added to
    /// the stored ones), the instance rows that changed, and those that are gone. With `replacing`, every
    /// instance row of those endpoints is dropped first (rows a previous gateway left, killed with -9 say).
    public func recordGatewayFlush(buckets: [MetricBucket.Key: MetricBucket], changed: [InstanceRecord], gone: [String],
                                   replacing endpoints: Set<String> = []) throws {
        try write { db in
            for (key, delta) in buckets { try delta.merge(into: key, db) }
            if !endpoints.isEmpty {
                try InstanceRecord.filter(endpoints.contains(Column("endpoint"))).deleteAll(db)
            }
            if !gone.isEmpty { try InstanceRecord.deleteAll(db, keys: gone) }
            for instance in changed { try instance.upsert(db) }
        }
    }

    /// Instances now, per endpoint, in total and per version.
    public func instanceFigures() throws -> [String: (total: InstanceFigures, versions: [String: InstanceFigures])] {
        try read { db in try Self.instanceFigures(db) }
    }

    static func instanceFigures(_ db: Database) throws -> [String: (total: InstanceFigures, versions: [String: InstanceFigures])] {
        var result: [String: (total: InstanceFigures, versions: [String: InstanceFigures])] = [:]
        for instance in try InstanceRecord.fetchAll(db) {
            result[instance.endpoint, default: (InstanceFigures(), [:])].total.add(instance)
            result[instance.endpoint]?.versions[instance.versionId, default: InstanceFigures()].add(instance)
        }
        return result
    }

    /// The slowest cold start measured per endpoint among its instances now, in milliseconds.
    public func slowestColdStarts() throws -> [String: Int64] {
        try read { db in
            var result: [String: Int64] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT endpoint, MAX(cold_start_ms) AS ms FROM instances GROUP BY endpoint") {
                if let ms: Int64 = row["ms"] { result[row["endpoint"]] = ms }
            }
            return result
        }
    }

    /// How many instances `endpoint` has now (a crash-looping version's row is not one).
    public func instanceCount(endpoint: String) throws -> Int {
        try read { db in
            try InstanceRecord.filter(Column("endpoint") == endpoint && Column("state") != InstanceState.crashLooping.rawValue).fetchCount(db)
        }
    }
}

/// An instance row as a gateway left it: enough to find its process group again.
public struct RecordedInstance: Equatable, Sendable {
    public var id: String
    public var pid: Int32

    public init(id: String, pid: Int32) {
        self.id = id
        self.pid = pid
    }
}

extension Registry {
    /// The instances the registry lists, with a pid, for endpoints on `targets`: what a gateway that
    /// stopped without cleaning up (killed with -9) may have left running.
    public func recordedInstances(onTargets targets: Set<String>) throws -> [RecordedInstance] {
        try read { db in
            try InstanceRecord.filter(Column("pid") != nil)
                .filter(sql: "endpoint IN (SELECT name FROM endpoints WHERE target IN (SELECT value FROM json_each(?)))",
                        arguments: [jsonArray(targets.sorted())])
                .fetchAll(db)
                .compactMap { record in record.pid.map { RecordedInstance(id: record.id, pid: $0) } }
        }
    }
}
