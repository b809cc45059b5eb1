import Foundation
import GRDB
import Logging
import ModelDeckCore
import ModelDeckTargets
import ServiceLifecycle

/// Plans each endpoint's next keep-warm ping (stored for the TUI) and sends it when due, to every version
/// that takes traffic. Pings are marked, so they never count as user traffic.
struct KeepWarmLoop: Service {
    let registry: Registry
    let drivers: [String: any TargetDriver]
    let logger: Logger
    var interval: Duration = .seconds(1)

    func run() async throws {
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do { try await tick(now: Date()) } catch { logger.error("keep-warm failed", metadata: ["error": "\(error)"]) }
            try? await Task.sleep(for: interval)
        }
    }

    struct EndpointState {
        var endpoint: Endpoint
        var weights: [String: Int]
        var lastInvocation: Date?
        var lastPing: Date?
        var histogram: IdleTimeHistogram
        var coldStartSeconds: Int64
        var storedPlan: String?
        var storedNext: Date?
    }

    func tick(now: Date) async throws {
        let states = try registry.read { db in try load(db, now: now) }
        for state in states {
            guard let driver = drivers[state.endpoint.target] else { continue }
            let plan = KeepWarmPlanner.plan(policy: state.endpoint.keepWarm, now: now, lastInvocation: state.lastInvocation,
                                            lastPing: state.lastPing, idleTimeoutSeconds: state.endpoint.idleTimeoutSeconds,
                                            coldStartSeconds: state.coldStartSeconds, histogram: state.histogram)
            if plan.reason != state.storedPlan || plan.nextPing != state.storedNext {
                try save(state.endpoint.name, plan: plan, now: now)
            }
            guard let due = plan.nextPing, due <= now, !state.weights.isEmpty else { continue }
            var results: [PingResult] = []
            for (version, count) in KeepWarmPlanner.pings(concurrency: plan.concurrency, weights: state.weights).sorted(by: { $0.key < $1.key }) {
                results += (try? await driver.ping(endpoint: state.endpoint.name, version: version, count: count)) ?? []
            }
            try record(state.endpoint.name, results: results, now: now)
        }
    }

    private func load(_ db: Database, now: Date) throws -> [EndpointState] {
        let since = Int64(now.timeIntervalSince1970) - Int64(IdleTimeHistogram.binCount) * 60
        return try Endpoint.fetchAll(db).filter { $0.keepWarm != .off }.map { endpoint in
            let starts = try Int64.fetchAll(db, sql: """
                SELECT DISTINCT start FROM metric_buckets WHERE endpoint = ? AND requests > 0 AND start >= ? ORDER BY start
                """, arguments: [endpoint.name, since])
            let state = try Row.fetchOne(db, sql: "SELECT * FROM keep_warm_state WHERE endpoint = ?", arguments: [endpoint.name])
            let coldStartMs = try Int64.fetchOne(db, sql: "SELECT MAX(cold_start_ms) FROM instances WHERE endpoint = ?",
                                                 arguments: [endpoint.name]) ?? 1_000
            return EndpointState(
                endpoint: endpoint,
                weights: try TrafficSplit.desired(db, endpoint: endpoint.name)?.weights ?? [:],
                // A bucket's end is the latest a request in it can have come.
                lastInvocation: starts.last.map { Date(timeIntervalSince1970: TimeInterval($0 + 10)) },
                lastPing: state?["last_ping_at"], histogram: IdleTimeHistogram.from(busyBucketStarts: starts, bucketSeconds: 10),
                coldStartSeconds: max(1, (coldStartMs + 999) / 1_000), storedPlan: state?["plan"], storedNext: state?["next_ping_at"])
        }
    }

    private func save(_ endpoint: String, plan: KeepWarmPlan, now: Date) throws {
        try registry.write { db in
            try db.execute(sql: """
                INSERT INTO keep_warm_state (endpoint, next_ping_at, plan, updated_at) VALUES (?, ?, ?, ?)
                ON CONFLICT (endpoint) DO UPDATE SET next_ping_at = excluded.next_ping_at, plan = excluded.plan, updated_at = excluded.updated_at
                """, arguments: [endpoint, plan.nextPing, plan.reason, now])
        }
    }

    private func record(_ endpoint: String, results: [PingResult], now: Date) throws {
        let cold = results.filter(\.coldStart)
        let failed = results.filter { !(200..<300).contains($0.status) }
        var summary = "\(results.count) ping\(results.count == 1 ? "" : "s"): \(cold.count) cold"
        if let slowest = cold.map(\.milliseconds).max() { summary += " (up to \(slowest) ms)" }
        summary += ", \(results.count - cold.count) warm"
        if !failed.isEmpty { summary += ", \(failed.count) failed" }
        try registry.write { db in
            try db.execute(sql: """
                INSERT INTO keep_warm_state (endpoint, last_ping_at, last_result, pings_sent, updated_at) VALUES (?, ?, ?, ?, ?)
                ON CONFLICT (endpoint) DO UPDATE SET last_ping_at = excluded.last_ping_at, last_result = excluded.last_result,
                    pings_sent = pings_sent + excluded.pings_sent, updated_at = excluded.updated_at
                """, arguments: [endpoint, now, summary, results.count, now])
        }
        logger.info("keep-warm", metadata: ["endpoint": "\(endpoint)", "result": "\(summary)"])
    }
}
