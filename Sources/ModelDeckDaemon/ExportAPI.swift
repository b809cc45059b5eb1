import Foundation
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
        router.get("/metrics") { request, _ in
            let window = try Self.window(request, default: PrometheusExport.windowSeconds)
            let text = try await registry.perform { try PrometheusExport.render($0, window: window) }
            var headers = HTTPFields()
            headers[.contentType] = "text/plain; version=0.0.4; charset=utf-8"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: text)))
        }
        router.get("/api/v1/endpoints") { request, _ in
            let window = try Self.window(request, default: LiveWindow.defaultSeconds)
            return try json(await registry.perform { try $0.listEndpoints(window: window) })
        }
        router.get("/api/v1/targets") { _, _ in try json(await registry.perform { try $0.listTargets() }) }
        router.get("/api/v1/models") { _, _ in try json(await registry.perform { try $0.listModels() }) }
        router.get("/api/v1/versions") { _, _ in try json(await registry.perform { try $0.listVersions() }) }
        router.get("/api/v1/deployments") { request, _ in
            let endpoint = request.uri.queryParameters.get("endpoint")
            return try json(await registry.perform { try $0.listDeployments(endpoint: endpoint) })
        }
        router.get("/api/v1/events") { request, _ in
            let endpoint = request.uri.queryParameters.get("endpoint")
            let limit = request.uri.queryParameters.get("limit").flatMap(Int.init).map { min(max($0, 1), 1_000) } ?? 100
            return try json(await registry.perform { try $0.listEvents(endpoint: endpoint, limit: limit) })
        }
        // As the gateway: connections capped and idle ones closed, so scrapers or a flood cannot take every descriptor.
        return Application(router: router, server: .http1(configuration: .init(idleTimeout: .seconds(15))),
                           configuration: .init(address: .hostname(host, port: port), serverName: "modeldeck-api",
                                                availableConnectionsDelegate: MaximumAvailableConnections(128)),
                           onServerRunning: { await onListening($0.localAddress?.port ?? 0) }, logger: logger)
    }
}

extension ExportAPI {
    /// The window a request names (`?window=5m`, 1 s to a day) ending now, or the last `seconds`.
    static func window(_ request: Request, default seconds: Int64) throws -> LiveWindow {
        guard let text = request.uri.queryParameters.get("window") else { return LiveWindow(last: seconds, now: Date()) }
        let asked = (try? Quantity.milliseconds(text, what: "window")).map { $0 / 1_000 } ?? 0
        guard (1...LiveWindow.maxSeconds).contains(asked) else {
            throw HTTPError(.badRequest, message: "window '\(TerminalText.sanitize(text))' must be a duration between 1s and 1d")
        }
        return LiveWindow(last: asked, now: Date())
    }
}

private func json<T: Encodable>(_ value: T) throws -> Response {
    let encoder = APIJSON.encoder
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
    /// The window the gauges are read over, unless the scrape names one (`/metrics?window=5m`).
    public static let windowSeconds: Int64 = 60

    /// Live figures over `window`, per endpoint and version (`LiveFigures`, as every view reads them), plus
    /// instances, weights and the daemon.
    public static func render(_ registry: Registry, window: LiveWindow) throws -> String {
        let prometheus = PrometheusCollectorRegistry()
        func gauge(_ name: String, _ help: String, _ labels: [(String, String)] = []) -> Gauge {
            // The unit is part of each name already (`_seconds`, `_percent`); empty parts are left out.
            prometheus.makeGauge(descriptor: MetricNameDescriptor(metricName: name, unitName: "", helpText: help), labels: labels)
        }
        let span = Format.duration(seconds: window.seconds)
        for (endpoint, figures) in try registry.liveFigures(window: window) {
            for (version, live) in figures.versions {
                let labels = [("endpoint", endpoint), ("version", version)]
                gauge("modeldeck_requests_per_second", "User requests per second over the last \(span)", labels).set(live.requestsPerSecond)
                gauge("modeldeck_error_ratio", "Share of user requests that failed (5xx) over the last \(span)", labels).set(live.errorRate ?? 0)
                gauge("modeldeck_cold_starts", "User requests that started an instance in the last \(span)", labels).set(Double(live.coldStarts))
                gauge("modeldeck_warmup_pings", "Keep-warm pings in the last \(span)", labels).set(Double(live.pings))
                for (value, name) in [(live.p50Milliseconds, "p50"), (live.p95Milliseconds, "p95"), (live.p99Milliseconds, "p99")] {
                    if let ms = value {
                        gauge("modeldeck_latency_\(name)_seconds", "User request latency \(name), cold starts included, over the last \(span)", labels).set(ms / 1_000)
                    }
                }
                gauge("modeldeck_burn_dollars_per_hour", "Cost per hour at the rate of the last \(span), keep-warm pings included", labels)
                    .set(Double(live.burnMicrosPerHour) / 1_000_000)
                // Probes of an endpoint someone else runs (http): apart from user traffic and pings.
                if live.probes > 0 {
                    gauge("modeldeck_probes", "Synthetic probes in the last \(span)", labels).set(Double(live.probes))
                    gauge("modeldeck_probe_failures", "Probes not answered with 2xx or 3xx in time, in the last \(span)", labels).set(Double(live.probeErrors))
                    gauge("modeldeck_probe_cold_starts", "Probes that waited for a cold start in the last \(span)", labels).set(Double(live.probeColdStarts))
                    gauge("modeldeck_availability_ratio", "Share of probes answered with 2xx or 3xx in time over the last \(span)", labels)
                        .set(live.availability ?? 0)
                    for (value, name) in [(live.probeP50Milliseconds, "p50"), (live.probeP99Milliseconds, "p99")] {
                        if let ms = value {
                            gauge("modeldeck_probe_latency_\(name)_seconds", "Probe latency \(name), cold starts included, over the last \(span)", labels).set(ms / 1_000)
                        }
                    }
                }
            }
        }
        for (endpoint, instances) in try registry.instanceFigures() {
            for (version, figures) in instances.versions {
                let labels = [("endpoint", endpoint), ("version", version)]
                gauge("modeldeck_instances", "Instances running", labels).set(Double(figures.instances))
                gauge("modeldeck_in_flight", "Requests in flight", labels).set(Double(figures.inFlight))
            }
        }
        for (endpoint, weights) in try registry.desiredWeights() {
            for (version, weight) in weights {
                gauge("modeldeck_traffic_weight_percent", "Share of traffic the registry routes to a version", [("endpoint", endpoint), ("version", version)]).set(Double(weight))
            }
        }
        // Counters for Alertmanager rules (`increase(modeldeck_deployments_total{result="rolled_back"}[1h]) > 0`):
        // read from rows that are history, so they only grow.
        for outcome in try registry.deploymentOutcomes() {
            prometheus.makeCounter(name: "modeldeck_deployments_total", labels: [("endpoint", outcome.endpoint), ("result", outcome.result)],
                                   help: "Deploys that ended, by result (succeeded, rolled_back, failed, cancelled)")
                .increment(by: Int64(outcome.count))
        }
        for state in try registry.notificationStates() {
            prometheus.makeCounter(name: "modeldeck_notifications_failed_total", labels: [("name", state.channel.name)],
                                   help: "Tries to deliver an event to a notification entry that failed (each retry counts)")
                .increment(by: state.failedTotal)
        }
        if let beat = try registry.daemonStatus().heartbeatAt {
            gauge("modeldeck_daemon_heartbeat_timestamp_seconds", "When the daemon last wrote its heartbeat")
                .set(beat.timeIntervalSince1970)
        }
        return prometheus.emitToString()
    }
}
