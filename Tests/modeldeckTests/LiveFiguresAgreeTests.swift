import AsyncHTTPClient
import Foundation
import ModelDeckCore
import ModelDeckTUI
import Testing

/// The live figures of one window are computed once (`LiveFigures`), so every view shows the same numbers.
@Suite(.serialized)
struct LiveFiguresAgreeTests {
    /// The figures every view gives for the endpoint, by name.
    struct Seen: Equatable, CustomStringConvertible {
        var requests: Double
        var errors: Double
        var coldStarts: Double
        var requestsPerSecond: Double
        var p50: Double?
        var p95: Double?
        var p99: Double?

        var description: String {
            "requests \(requests), errors \(errors), cold \(coldStarts), rps \(requestsPerSecond), p50 \(p50 ?? -1), p95 \(p95 ?? -1), p99 \(p99 ?? -1)"
        }

        /// Equal up to the last digit a text format may round.
        func agrees(with other: Seen) -> Bool {
            func close(_ a: Double?, _ b: Double?) -> Bool {
                guard let a, let b else { return a == nil && b == nil }
                return abs(a - b) <= max(abs(a), abs(b)) * 1e-9
            }
            return requests == other.requests && errors == other.errors && coldStarts == other.coldStarts
                && close(requestsPerSecond, other.requestsPerSecond) && close(p50, other.p50) && close(p95, other.p95) && close(p99, other.p99)
        }

        init(_ figures: LiveFigures) {
            requests = Double(figures.requests)
            errors = Double(figures.errors)
            coldStarts = Double(figures.coldStarts)
            requestsPerSecond = figures.requestsPerSecond
            p50 = figures.p50Milliseconds
            p95 = figures.p95Milliseconds
            p99 = figures.p99Milliseconds
        }

        init(json figures: [String: Any]) {
            requests = figures["requests"] as? Double ?? -1
            errors = figures["errors"] as? Double ?? -1
            coldStarts = figures["cold_starts"] as? Double ?? -1
            requestsPerSecond = figures["requests_per_second"] as? Double ?? -1
            p50 = figures["p50_milliseconds"] as? Double
            p95 = figures["p95_milliseconds"] as? Double
            p99 = figures["p99_milliseconds"] as? Double
        }
    }

    static func endpointFigures(inJSON text: String, endpoint: String) -> Seen? {
        guard let rows = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [[String: Any]],
              let row = rows.first(where: { $0["name"] as? String == endpoint }),
              let live = row["live"] as? [String: Any], let figures = live["figures"] as? [String: Any] else { return nil }
        return Seen(json: figures)
    }

    /// One series' value from a Prometheus exposition.
    static func gauge(_ name: String, in exposition: String, labels: String) -> Double? {
        let prefix = "\(name){\(labels)} "
        return exposition.split(separator: "\n").first { $0.hasPrefix(prefix) }.flatMap { Double($0.dropFirst(prefix.count)) }
    }

    @Test func theDashboardMetricsAPIAndGetShowTheSameFiguresForOneWindow() async throws {
        let scratch = Scratch()
        defer { scratch.cleanUp() }
        #expect(try CLI.run(["apply", "-f", "fixtures/decks/example.yaml", "--registry", scratch.registry]).status == 0)
        // No keep-warm ping may land between two reads.
        #expect(try CLI.run(["warm", "sentiment", "--off", "--registry", scratch.registry]).status == 0)
        let daemon = try BackgroundCommand("daemon", registry: scratch.registry)
        defer { daemon.stop() }
        let port = daemon.port
        func viaGet() throws -> Seen? {
            let listed = try CLI.run(["get", "endpoints", "-o", "json", "--window", "5m", "--registry", scratch.registry])
            return Self.endpointFigures(inJSON: listed.stdout, endpoint: "sentiment")
        }
        // Traffic until more than 40 requests are recorded (a loaded machine answers the first ones slowly).
        let traffic = generateTraffic(port: { port }, perSecond: 20)
        #expect(try await waitUntil(60) { (try viaGet()?.requests ?? 0) > 40 })
        traffic.cancel()

        // Until the gateway has flushed every request (it does twice a second).
        var settled: Seen?
        #expect(try await waitUntil(20) {
            let before = try viaGet()
            Thread.sleep(forTimeInterval: 1.5)
            let after = try viaGet()
            settled = after
            return (after?.requests ?? 0) > 0 && before == after
        })

        let registry = try Registry(path: scratch.registry, create: false)
        let dashboard = try DashboardData.load(registry, now: Date()).endpoints.first { $0.name == "sentiment" }
        let fromDashboard = Seen(try #require(dashboard?.live?.recent.total))

        let client = HTTPClient.shared
        let metricsResponse = try await client.execute(HTTPClientRequest(url: "http://127.0.0.1:\(daemon.apiPort)/metrics?window=5m"), timeout: .seconds(10))
        let metrics = String(buffer: try await metricsResponse.body.collect(upTo: 1 << 22))
        let labels = "endpoint=\"sentiment\",version=\"sentiment@v1\""
        let rps = try #require(Self.gauge("modeldeck_requests_per_second", in: metrics, labels: labels), "\(metrics)")
        let p99 = Self.gauge("modeldeck_latency_p99_seconds", in: metrics, labels: labels).map { $0 * 1_000 }
        let p50 = Self.gauge("modeldeck_latency_p50_seconds", in: metrics, labels: labels).map { $0 * 1_000 }
        let cold = Self.gauge("modeldeck_cold_starts", in: metrics, labels: labels)

        let apiResponse = try await client.execute(HTTPClientRequest(url: "http://127.0.0.1:\(daemon.apiPort)/api/v1/endpoints?window=5m"), timeout: .seconds(10))
        let fromAPI = try #require(Self.endpointFigures(inJSON: String(buffer: try await apiResponse.body.collect(upTo: 1 << 22)), endpoint: "sentiment"))
        let fromGet = try #require(try viaGet())

        let settledFigures = try #require(settled)
        #expect(fromDashboard.requests > 40, "\(fromDashboard)")
        #expect(fromDashboard.agrees(with: settledFigures), "dashboard \(fromDashboard) / get \(settledFigures)")
        #expect(fromAPI.agrees(with: fromDashboard), "api \(fromAPI) / dashboard \(fromDashboard)")
        #expect(fromGet.agrees(with: fromDashboard), "get \(fromGet) / dashboard \(fromDashboard)")
        // /metrics carries one version's series; the endpoint has one version taking traffic.
        #expect(abs(rps - fromDashboard.requestsPerSecond) <= fromDashboard.requestsPerSecond * 1e-9, "metrics \(rps) / dashboard \(fromDashboard)")
        #expect(p99.map { abs($0 - (fromDashboard.p99 ?? -1)) < 1e-6 } == true, "metrics p99 \(p99 ?? -1) / dashboard \(fromDashboard)")
        #expect(p50.map { abs($0 - (fromDashboard.p50 ?? -1)) < 1e-6 } == true, "metrics p50 \(p50 ?? -1) / dashboard \(fromDashboard)")
        #expect(cold == fromDashboard.coldStarts)
        // The rate is pro-rated over the whole window, so it is the requests over five minutes.
        #expect(abs(fromDashboard.requestsPerSecond - fromDashboard.requests / 300) < 1e-9)

        // -o wide lays the same figures out for a person.
        let wide = try CLI.run(["get", "endpoints", "-o", "wide", "--window", "5m", "--registry", scratch.registry])
        #expect(wide.status == 0, "\(wide.stderr)")
        #expect(wide.stdout.contains("REQ/S") || wide.stdout.contains("req/s"), "\(wide.stdout)")
        #expect(wide.stdout.contains(Format.rate(fromDashboard.requestsPerSecond)), "\(wide.stdout)")
    }
}

