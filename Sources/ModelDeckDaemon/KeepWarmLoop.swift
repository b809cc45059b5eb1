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
        /// A "ping now" someone asked for (TUI `p`, `modeldeck ping`), whatever the policy.
        var pingRequested: Date?
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
            let scheduled = state.endpoint.keepWarm != .off && plan.nextPing.map { $0 <= now } == true
            guard scheduled || state.pingRequested != nil, !state.weights.isEmpty else { continue }
            var results: [PingResult] = []
            var failures: [String] = []
            for (version, count) in KeepWarmPlanner.pings(concurrency: max(1, plan.concurrency), weights: state.weights).sorted(by: { $0.key < $1.key }) {
                do {
                    results += try await driver.ping(endpoint: state.endpoint.name, version: version, count: count)
                } catch {
                    failures.append("\(version): \((error as? ModelDeckError)?.message ?? "\(error)")")
                }
            }
            guard !results.isEmpty else {
                // Nothing reached the target (e.g. its gateway is still starting): not a ping, so it stays due.
                try noteFailure(state.endpoint.name, failures.joined(separator: "; "), now: now)
                continue
            }
            try record(state.endpoint.name, results: results, now: now, requested: state.pingRequested)
        }
    }

    private func load(_ db: Database, now: Date) throws -> [EndpointState] {
        let since = Int64(now.timeIntervalSince1970) - Int64(IdleTimeHistogram.binCount) * 60
        let requested = try String.fetchSet(db, sql: "SELECT endpoint FROM keep_warm_state WHERE ping_requested_at IS NOT NULL")
        return try Endpoint.fetchAll(db).filter { $0.keepWarm != .off || requested.contains($0.name) }.map { endpoint in
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
                coldStartSeconds: max(1, (coldStartMs + 999) / 1_000), storedPlan: state?["plan"], storedNext: state?["next_ping_at"],
                pingRequested: state?["ping_requested_at"])
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

    private func noteFailure(_ endpoint: String, _ reason: String, now: Date) throws {
        try registry.write { db in
            try db.execute(sql: """
                INSERT INTO keep_warm_state (endpoint, last_result, updated_at) VALUES (?, ?, ?)
                ON CONFLICT (endpoint) DO UPDATE SET last_result = excluded.last_result, updated_at = excluded.updated_at
                """, arguments: [endpoint, "ping failed: \(reason)", now])
        }
        logger.notice("keep-warm ping failed", metadata: ["endpoint": "\(endpoint)", "reason": "\(reason)"])
    }

    private func record(_ endpoint: String, results: [PingResult], now: Date, requested: Date?) throws {
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
            guard let requested else { return }
            // Only the request this tick answered: one made meanwhile waits for the next tick.
            try db.execute(sql: """
                UPDATE keep_warm_state SET ping_requested_at = NULL, ping_requested_by = NULL
                WHERE endpoint = ? AND ping_requested_at = ?
                """, arguments: [endpoint, requested])
            try db.record(AuditEvent(at: now, actor: "daemon", endpoint: endpoint, kind: "ping.sent", message: "ping \(endpoint): \(summary)"))
        }
        logger.info("keep-warm", metadata: ["endpoint": "\(endpoint)", "result": "\(summary)"])
    }
}
