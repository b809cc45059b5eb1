import Foundation
import GRDB

// The traffic table: desired weights per endpoint and version (apply, deploy, rollback), and the weights the
// daemon last made the target route (`live_weight`).

/// One row of `traffic`: an endpoint's desired share for a version, and what the target was last made to route.
public struct TrafficRecord: Codable, Equatable, Sendable, FetchableRecord, PersistableRecord, RegistryRecord {
    // Column names spelled out: cheaper than converting every key of every row from snake case.
    public enum CodingKeys: String, CodingKey {
        case endpoint
        case versionId = "version_id"
        case weight
        case liveWeight = "live_weight"
        case updatedAt = "updated_at"
    }

    public static let databaseTableName = "traffic"

    public var endpoint: String
    public var versionId: String
    public var weight: Int
    public var liveWeight: Int?
    public var updatedAt: Date

    public enum Columns {
        static let endpoint = Column("endpoint")
        static let weight = Column("weight")
        static let liveWeight = Column("live_weight")
        static let versionId = Column("version_id")
    }
}

extension TrafficRecord {
    /// By column, not through `Decodable`: the on-call commands read an endpoint's traffic rows once per run,
    /// and the decoder's generic machinery (its metadata found at the first use) was a twentieth of
    /// `modeldeck rollback`'s CPU in a profile (issue #20). Written through `Encodable` still.
    public init(row: Row) throws {
        self.init(endpoint: row["endpoint"], versionId: row["version_id"], weight: row["weight"], liveWeight: row["live_weight"],
                  updatedAt: row["updated_at"])
    }
}

extension TrafficSplit {
    /// The desired weights of `endpoint`, or nil when no version takes traffic yet.
    public static func desired(_ db: Database, endpoint: String) throws -> TrafficSplit? {
        var weights: [String: Int] = [:]
        for row in try TrafficRecord.filter(TrafficRecord.Columns.endpoint == endpoint && TrafficRecord.Columns.weight > 0).fetchAll(db) {
            weights[row.versionId] = row.weight
        }
        return weights.isEmpty ? nil : try TrafficSplit(weights, endpoint: endpoint)
    }

    /// The desired weights of every endpoint that takes traffic (endpoint → version → percent), in one query:
    /// the gateway, keep-warm, the dashboard, the exports and `get` all read them this way.
    static func allDesired(_ db: Database) throws -> [String: [String: Int]] {
        // Read by the gateway's catalog at every registry change and by keep-warm: three columns straight from
        // the rows, without decoding whole records (a fleet has thousands).
        var weights: [String: [String: Int]] = [:]
        let rows = try Row.fetchCursor(db, sql: "SELECT endpoint, version_id, weight FROM traffic WHERE weight > 0")
        while let row = try rows.next() {
            weights[row[0], default: [:]][row[1]] = row[2]
        }
        return weights
    }

    /// Replaces the desired weights of `endpoint` (versions not named drop to 0). Only the rows whose weight
    /// changes are written, so `updated_at` says when a weight last changed, not when it was last confirmed.
    public func save(_ db: Database, endpoint: String) throws {
        let now = Date()
        try TrafficRecord.filter(TrafficRecord.Columns.endpoint == endpoint
                                 && !weights.keys.contains(TrafficRecord.Columns.versionId)
                                 && TrafficRecord.Columns.weight != 0)
            .updateAll(db, TrafficRecord.Columns.weight.set(to: 0), Column("updated_at").set(to: now))
        for (version, weight) in weights {
            let stored = try TrafficRecord.fetchOne(db, key: ["endpoint": endpoint, "version_id": version])
            if stored?.weight == weight { continue }
            var row = stored ?? TrafficRecord(endpoint: endpoint, versionId: version, weight: weight, liveWeight: nil, updatedAt: now)
            row.weight = weight
            row.updatedAt = now
            try row.save(db)
        }
    }

    /// Records that the target now routes `endpoint` as desired.
    static func markRouted(_ db: Database, endpoint: String) throws {
        try TrafficRecord.filter(TrafficRecord.Columns.endpoint == endpoint).updateAll(db, TrafficRecord.Columns.liveWeight.set(to: TrafficRecord.Columns.weight))
    }

    /// What the target was last made to route for `endpoint` (version → percent, shares above zero).
    static func routed(_ db: Database, endpoint: String) throws -> [String: Int] {
        var weights: [String: Int] = [:]
        for row in try TrafficRecord.filter(TrafficRecord.Columns.endpoint == endpoint && TrafficRecord.Columns.liveWeight > 0).fetchAll(db) {
            weights[row.versionId] = row.liveWeight
        }
        return weights
    }
}

extension Registry {
    /// The desired weights of `endpoint` (version → percent); empty when it takes no traffic.
    public func desiredWeights(endpoint: String) throws -> [String: Int] {
        try read { db in try TrafficSplit.desired(db, endpoint: endpoint)?.weights ?? [:] }
    }

    /// The desired weights of every endpoint that takes traffic.
    public func desiredWeights() throws -> [String: [String: Int]] {
        try read { db in try TrafficSplit.allDesired(db) }
    }

    /// Routes `endpoint` by `split` where the registry is the routing (a local target's gateway follows the
    /// traffic table): desired and live weights at once.
    public func routeThroughRegistry(_ split: TrafficSplit, endpoint: String) throws {
        try write { db in
            try split.save(db, endpoint: endpoint)
            try TrafficSplit.markRouted(db, endpoint: endpoint)
        }
    }

    /// What the daemon last made the target route for `endpoint`.
    public func routedWeights(endpoint: String) throws -> [String: Int] {
        try read { db in try TrafficSplit.routed(db, endpoint: endpoint) }
    }
}
