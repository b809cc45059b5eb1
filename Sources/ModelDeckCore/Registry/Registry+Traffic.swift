import Foundation
import GRDB

// The traffic table: desired weights per endpoint and version (apply, deploy, rollback), and the weights the
// daemon last made the target route (`live_weight`).

extension TrafficSplit {
    /// The desired weights of `endpoint`, or nil when no version takes traffic yet.
    public static func desired(_ db: Database, endpoint: String) throws -> TrafficSplit? {
        var weights: [String: Int] = [:]
        for row in try Row.fetchAll(db, sql: "SELECT version_id, weight FROM traffic WHERE endpoint = ? AND weight > 0",
                                    arguments: [endpoint]) {
            weights[row["version_id"]] = row["weight"]
        }
        return weights.isEmpty ? nil : try TrafficSplit(weights, endpoint: endpoint)
    }

    /// The desired weights of every endpoint that takes traffic (endpoint → version → percent), in one query:
    /// the gateway, keep-warm, the dashboard, the exports and `get` all read them this way.
    static func allDesired(_ db: Database) throws -> [String: [String: Int]] {
        var weights: [String: [String: Int]] = [:]
        for row in try Row.fetchAll(db, sql: "SELECT endpoint, version_id, weight FROM traffic WHERE weight > 0") {
            weights[row["endpoint"], default: [:]][row["version_id"]] = row["weight"]
        }
        return weights
    }

    /// Replaces the desired weights of `endpoint` (versions not named drop to 0).
    public func save(_ db: Database, endpoint: String) throws {
        try db.execute(sql: "UPDATE traffic SET weight = 0, updated_at = ? WHERE endpoint = ?", arguments: [Date(), endpoint])
        for (version, weight) in weights {
            try db.execute(sql: """
                INSERT INTO traffic (endpoint, version_id, weight, updated_at) VALUES (?, ?, ?, ?)
                ON CONFLICT (endpoint, version_id) DO UPDATE SET weight = excluded.weight, updated_at = excluded.updated_at
                """, arguments: [endpoint, version, weight, Date()])
        }
    }

    /// What the target was last made to route for `endpoint` (version → percent, shares above zero).
    static func routed(_ db: Database, endpoint: String) throws -> [String: Int] {
        var weights: [String: Int] = [:]
        for row in try Row.fetchAll(db, sql: "SELECT version_id, live_weight FROM traffic WHERE endpoint = ? AND live_weight > 0",
                                    arguments: [endpoint]) {
            weights[row["version_id"]] = row["live_weight"]
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
            try db.execute(sql: "UPDATE traffic SET live_weight = weight WHERE endpoint = ?", arguments: [endpoint])
        }
    }

    /// What the daemon last made the target route for `endpoint`.
    public func routedWeights(endpoint: String) throws -> [String: Int] {
        try read { db in try TrafficSplit.routed(db, endpoint: endpoint) }
    }
}
