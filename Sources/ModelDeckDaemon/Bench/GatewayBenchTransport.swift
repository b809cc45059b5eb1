import AsyncHTTPClient
import Foundation
import ModelDeckCore
import NIOCore

/// Bench requests through the local target's gateway (`POST /endpoints/{name}/invoke`), tagged with the run's
/// token (`X-ModelDeck-Bench`) so the gateway pins them to the version and keeps them out of user figures.
public struct GatewayBenchTransport: BenchTransport {
    public var url: String
    public var token: String
    public var version: String
    public var payload: ByteBuffer
    public var timeout: TimeAmount
    public var gatewayToken: String?
    private let http: HTTPClient

    /// `gateway`: `http://host:port`. `gatewayToken`: the gateway's bearer token, when it has one.
    public init(gateway: String, endpoint: String, token: String, version: String, payload: Data, timeoutSeconds: Int,
                gatewayToken: String? = nil, http: HTTPClient = .shared) {
        url = gateway + "/endpoints/\(endpoint)/invoke"
        self.token = token
        self.version = version
        self.payload = ByteBuffer(bytes: payload)
        timeout = .seconds(Int64(timeoutSeconds))
        self.gatewayToken = gatewayToken
        self.http = http
    }

    /// Whether a gateway answers `GET /healthz` at `base` within two seconds.
    public static func answers(_ base: String, http: HTTPClient = .shared) async -> Bool {
        var request = HTTPClientRequest(url: base + "/healthz")
        request.method = .GET
        guard let response = try? await http.execute(request, timeout: .seconds(2)) else { return false }
        _ = try? await response.body.collect(upTo: 1 << 16)
        return response.status.code == 200
    }

    public var canForceCold: Bool { true }
    public var notes: [String] { [] }

    public func send(cold: Bool) async -> BenchAnswer {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "X-ModelDeck-Bench", value: token)
        request.headers.add(name: "X-ModelDeck-Version", value: version)
        if cold { request.headers.add(name: "X-ModelDeck-Bench-Cold", value: "1") }
        if let gatewayToken { request.headers.add(name: "Authorization", value: "Bearer \(gatewayToken)") }
        request.body = .bytes(payload)
        do {
            let response = try await http.execute(request, timeout: timeout)
            _ = try await response.body.collect(upTo: 64 << 20)
            return BenchAnswer(status: Int(response.status.code),
                               coldStart: response.headers.first(name: "X-ModelDeck-Cold-Start") == "true",
                               instance: response.headers.first(name: "X-ModelDeck-Instance"),
                               processStartMs: response.headers.first(name: "X-ModelDeck-Process-Start-Ms").flatMap { Int($0) },
                               modelLoadMs: response.headers.first(name: "X-ModelDeck-Model-Load-Ms").flatMap { Int($0) })
        } catch {
            return BenchAnswer(status: 0)
        }
    }
}
