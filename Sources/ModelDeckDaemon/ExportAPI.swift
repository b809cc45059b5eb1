import Foundation
import GRDB
import HTTPTypes
import Hummingbird
import HummingbirdCore
import Logging
import ModelDeckCore
import ModelDeckTargets
import NIOCore
import Prometheus

/// The daemon's read-only exports: Prometheus `/metrics` and a JSON API (`/api/v1/…`), from the registry.
///
/// Loopback by default. Bound anywhere else it refuses to start without a bearer token, which comes from
/// the environment (`MODELDECK_API_TOKEN`) and is never written to the registry or the logs.
public struct ExportAPI: Sendable {
    public var host: String
    public var port: Int
    public var token: String?

    public init(host: String = "127.0.0.1", port: Int = 8766, token: String? = nil) {
        self.host = host
        self.port = port
        self.token = token
    }

    /// The gateway's rule: `127.0.0.1.example.com` is a name, not loopback, and gets no pass on the token.
    public static func isLoopback(_ host: String) -> Bool { GatewayAdmission.isLoopback(host) }

    /// Refuses an address off loopback without a token, in one line.
    public func validate() throws {
        if !Self.isLoopback(host), (token ?? "").isEmpty {
            throw ModelDeckError("the API would listen on \(host), off loopback, without a token; set MODELDECK_API_TOKEN or listen on 127.0.0.1")
        }
    }

    func application(registry: Registry, logger: Logger, onListening: @escaping @Sendable (Int) async -> Void) -> some ApplicationProtocol {
        let router = Router()
        if let token, !token.isEmpty { router.add(middleware: BearerToken(token: token)) }
        if Self.isLoopback(host) { router.add(middleware: LoopbackHost()) }
        router.get("/metrics") { _, _ in
            let text = try registry.read { db in try PrometheusExport.render(db, now: Date()) }
            var headers = HTTPFields()
            headers[.contentType] = "text/plain; version=0.0.4; charset=utf-8"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: text)))
        }
        router.get("/api/v1/endpoints") { _, _ in try json(registry.read(Listings.endpoints)) }
        router.get("/api/v1/targets") { _, _ in try json(registry.read(Listings.targets)) }
        router.get("/api/v1/models") { _, _ in try json(registry.read(Listings.models)) }
        router.get("/api/v1/versions") { _, _ in try json(registry.read { db in try Listings.versions(db) }) }
        router.get("/api/v1/deployments") { request, _ in
            let endpoint = request.uri.queryParameters.get("endpoint")
            return try json(registry.read { db in try Listings.deployments(db, endpoint: endpoint) })
        }
        router.get("/api/v1/events") { request, _ in
            let endpoint = request.uri.queryParameters.get("endpoint")
            let limit = request.uri.queryParameters.get("limit").flatMap(Int.init).map { min(max($0, 1), 1_000) } ?? 100
            return try json(registry.read { db in try Listings.events(db, endpoint: endpoint, limit: limit) })
        }
        // As the gateway: connections capped and idle ones closed, so scrapers or a flood cannot take every descriptor.
        return Application(router: router, server: .http1(configuration: .init(idleTimeout: .seconds(15))),
                           configuration: .init(address: .hostname(host, port: port), serverName: "modeldeck-api",
                                                availableConnectionsDelegate: MaximumAvailableConnections(128)),
                           onServerRunning: { await onListening($0.localAddress?.port ?? 0) }, logger: logger)
    }
}

private func json<T: Encodable>(_ value: T) throws -> Response {
    let encoder = JSONEncoder()
    encoder.keyEncodingStrategy = .convertToSnakeCase
    encoder.dateEncodingStrategy = .iso8601
    encoder.outputFormatting = [.sortedKeys]
    var headers = HTTPFields()
    headers[.contentType] = "application/json"
    return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: try encoder.encode(value))))
}

/// `Authorization: Bearer TOKEN` on every route, compared in constant time.
private struct BearerToken<Context: RequestContext>: RouterMiddleware {
    let token: String

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let given = request.headers[.authorization].flatMap { $0.hasPrefix("Bearer ") ? String($0.dropFirst(7)) : nil } ?? ""
        let expected = Array(token.utf8), offered = Array(given.utf8)
        var difference = UInt8(expected.count == offered.count ? 0 : 1)
        for (index, byte) in expected.enumerated() { difference |= byte ^ (index < offered.count ? offered[index] : 0) }
        guard difference == 0 else {
            var headers = HTTPFields()
            headers[.contentType] = "application/json"
            headers[.wwwAuthenticate] = "Bearer"
            return Response(status: .unauthorized, headers: headers,
                            body: .init(byteBuffer: ByteBuffer(string: "{\"error\":\"a bearer token is required\"}")))
        }
        return try await next(request, context)
    }
}

/// The Prometheus exposition, built fresh from the registry at each scrape (so an endpoint or version
/// that is gone leaves no stale series).
public enum PrometheusExport {
    /// Live figures over the last minute, per endpoint and version, plus instances, weights and the daemon.
    public static func render(_ db: Database, now: Date) throws -> String {
        let prometheus = PrometheusCollectorRegistry()
        func gauge(_ name: String, _ help: String, _ labels: [(String, String)] = []) -> Gauge {
            // The unit is part of each name already (`_seconds`, `_percent`); empty parts are left out.
            prometheus.makeGauge(descriptor: MetricNameDescriptor(metricName: name, unitName: "", helpText: help), labels: labels)
        }
        let since = Int64(now.timeIntervalSince1970) - 60
        var windows: [MetricBucket.Key: MetricBucket] = [:]
        for row in try Row.fetchAll(db, sql: "SELECT * FROM metric_buckets WHERE start + width_s > ?", arguments: [since]) {
            let key = MetricBucket.Key(endpoint: row["endpoint"], version: row["version_id"], start: since, width: 60)
            windows[key, default: MetricBucket()].add(try MetricBucket(row: row))
        }
        for (key, bucket) in windows {
            let labels = [("endpoint", key.endpoint), ("version", key.version)]
            gauge("modeldeck_requests_per_second", "User requests per second over the last minute", labels).set(Double(bucket.requests) / 60)
            gauge("modeldeck_error_ratio", "Share of user requests that failed (5xx) over the last minute", labels)
                .set(bucket.requests == 0 ? 0 : Double(bucket.errors) / Double(bucket.requests))
            gauge("modeldeck_cold_starts", "User requests that started an instance in the last minute", labels).set(Double(bucket.coldStarts))
            gauge("modeldeck_warmup_pings", "Keep-warm pings in the last minute", labels).set(Double(bucket.warmups))
            for (quantile, name) in [(50.0, "p50"), (95.0, "p95"), (99.0, "p99")] {
                if let ms = bucket.latency.milliseconds(atPercentile: quantile) {
                    gauge("modeldeck_latency_\(name)_seconds", "User request latency \(name), cold starts included, over the last minute", labels).set(ms / 1_000)
                }
            }
        }
        for row in try Row.fetchAll(db, sql: """
            SELECT endpoint, version_id, COUNT(*) AS instances, SUM(in_flight) AS in_flight FROM instances GROUP BY endpoint, version_id
            """) {
            let labels = [("endpoint", row["endpoint"] as String), ("version", row["version_id"] as String)]
            gauge("modeldeck_instances", "Instances running", labels).set(Double(row["instances"] as Int))
            gauge("modeldeck_in_flight", "Requests in flight", labels).set(Double(row["in_flight"] as Int))
        }
        for row in try Row.fetchAll(db, sql: "SELECT endpoint, version_id, weight FROM traffic WHERE weight > 0") {
            gauge("modeldeck_traffic_weight_percent", "Share of traffic the registry routes to a version", [("endpoint", row["endpoint"] as String), ("version", row["version_id"] as String)]).set(Double(row["weight"] as Int))
        }
        if let beat = try Date.fetchOne(db, sql: "SELECT heartbeat_at FROM daemon WHERE id = 1") {
            gauge("modeldeck_daemon_heartbeat_timestamp_seconds", "When the daemon last wrote its heartbeat")
                .set(beat.timeIntervalSince1970)
        }
        return prometheus.emitToString()
    }
}
