import AsyncHTTPClient
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import Synchronization

/// moto (5.2) has no Lambda provisioned concurrency, so this stands in front of it at the HTTP boundary: it
/// answers `PutProvisionedConcurrencyConfig`, `GetProvisionedConcurrencyConfig` and
/// `DeleteProvisionedConcurrencyConfig` (`/2019-09-30/functions/{name}/provisioned-concurrency?Qualifier=…`)
/// itself, with Lambda's own answer shapes and errors
/// (https://docs.aws.amazon.com/lambda/latest/api/API_PutProvisionedConcurrencyConfig.html), and forwards every
/// other request to moto unchanged. A put answers `IN_PROGRESS`; the next get finds the environments `READY`,
/// as Lambda allocates them after answering. `conflicts` makes the next puts fail as Lambda does while the
/// function is being updated (409 `ResourceConflictException`), so retries can be seen.
public final class ProvisionedConcurrencyStandIn: Sendable {
    public struct Config: Equatable, Sendable {
        public var requested: Int
        public var status: String

        public init(requested: Int, status: String) {
            self.requested = requested
            self.status = status
        }
    }

    private let upstream: String
    private let state = Mutex((configs: [String: Config](), conflicts: 0, calls: [String]()))
    private let task = Mutex<Task<Void, any Error>?>(nil)

    public init(forwardingTo upstream: String) { self.upstream = upstream }

    /// The configuration of `function`'s `qualifier`, if any.
    public func config(function: String, qualifier: String) -> Config? { state.withLock { $0.configs["\(function):\(qualifier)"] } }

    /// The provisioned-concurrency calls answered so far, as `PUT my-fn:live 3`, `GET my-fn:live`, `DELETE my-fn:live`.
    public var calls: [String] { state.withLock { $0.calls } }

    /// The next `count` puts fail with a conflict.
    public func conflict(next count: Int) { state.withLock { $0.conflicts = count } }

    public func start() async throws -> String {
        let router = Router()
        let handle: @Sendable (Request, BasicRequestContext) async throws -> Response = { [self] request, _ in
            let body = try await request.body.collect(upTo: 64 << 20)
            if let function = Self.provisionedFunction(request.uri.path) {
                return try await provisioned(request, function: function, body: body)
            }
            return try await forward(request, body: body)
        }
        for method in [HTTPRequest.Method.get, .post, .put, .delete, .head] {
            router.on("/", method: method, use: handle)
            router.on("/**", method: method, use: handle)
        }
        return "http://127.0.0.1:\(try await serveOnLoopback(router, label: "provisioned-concurrency stand-in", task: task))"
    }

    public func stop() { task.withLock { $0?.cancel() } }

    /// The function named by a provisioned-concurrency path, percent-decoded.
    static func provisionedFunction(_ path: String) -> String? {
        let parts = path.split(separator: "/")
        guard parts.count == 4, parts[0] == "2019-09-30", parts[1] == "functions", parts[3] == "provisioned-concurrency" else { return nil }
        return String(parts[2]).removingPercentEncoding
    }

    private func provisioned(_ request: Request, function: String, body: ByteBuffer) async throws -> Response {
        guard let qualifier = request.uri.queryParameters["Qualifier"].map(String.init), !qualifier.isEmpty else {
            return Self.error(400, "InvalidParameterValueException", "Qualifier is required")
        }
        // The function must exist: asked of moto, as Lambda would know it.
        var exists = HTTPClientRequest(url: upstream + "/2015-03-31/functions/\(function.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed) ?? function)")
        exists.method = .GET
        for field in request.headers where field.name == .authorization || field.name.rawName.lowercased().hasPrefix("x-amz-") {
            exists.headers.add(name: field.name.rawName, value: field.value)
        }
        guard try await HTTPClient.shared.execute(exists, timeout: .seconds(10)).status == .ok else {
            return Self.error(404, "ResourceNotFoundException", "Function not found: arn:aws:lambda:us-east-1:123456789012:function:\(function)")
        }
        let key = "\(function):\(qualifier)"
        switch request.method {
        case .put:
            let asked = (try? JSONSerialization.jsonObject(with: Data(body.readableBytesView)) as? [String: Any])?["ProvisionedConcurrentExecutions"] as? Int
            guard let asked, asked >= 1 else {
                return Self.error(400, "InvalidParameterValueException", "ProvisionedConcurrentExecutions must be at least 1")
            }
            let conflict = state.withLock { state -> Bool in
                state.calls.append("PUT \(key) \(asked)")
                guard state.conflicts == 0 else { state.conflicts -= 1; return true }
                state.configs[key] = Config(requested: asked, status: "IN_PROGRESS")
                return false
            }
            if conflict {
                return Self.error(409, "ResourceConflictException", "The operation cannot be performed at this time. An update is in progress for resource: \(function)")
            }
            return Self.json(202, Self.answer(Config(requested: asked, status: "IN_PROGRESS"), available: 0))
        case .get:
            let found = state.withLock { state -> Config? in
                state.calls.append("GET \(key)")
                // Allocated by the time anyone asks again.
                if state.configs[key]?.status == "IN_PROGRESS" { state.configs[key]?.status = "READY" }
                return state.configs[key]
            }
            guard let found else {
                return Self.error(404, "ProvisionedConcurrencyConfigNotFoundException", "No Provisioned Concurrency Config found for this function")
            }
            return Self.json(200, Self.answer(found, available: found.status == "READY" ? found.requested : 0))
        case .delete:
            let removed = state.withLock { state -> Config? in
                state.calls.append("DELETE \(key)")
                return state.configs.removeValue(forKey: key)
            }
            guard removed != nil else {
                return Self.error(404, "ProvisionedConcurrencyConfigNotFoundException", "No Provisioned Concurrency Config found for this function")
            }
            return Response(status: .noContent)
        default:
            return Self.error(405, "MethodNotAllowed", "\(request.method) is not a provisioned-concurrency call")
        }
    }

    private func forward(_ request: Request, body: ByteBuffer) async throws -> Response {
        var outgoing = HTTPClientRequest(url: upstream + request.uri.description)
        outgoing.method = .init(rawValue: request.method.rawValue)
        for field in request.headers where field.name != .contentLength {
            outgoing.headers.add(name: field.name.rawName, value: field.value)
        }
        if body.readableBytes > 0 { outgoing.body = .bytes(body) }
        let answer = try await HTTPClient.shared.execute(outgoing, timeout: .seconds(60))
        let bytes = try await answer.body.collect(upTo: 64 << 20)
        var headers = HTTPFields()
        for (name, value) in answer.headers where !["content-length", "transfer-encoding", "connection"].contains(name.lowercased()) {
            if let field = HTTPField.Name(name) { headers.append(HTTPField(name: field, value: value)) }
        }
        return Response(status: .init(code: Int(answer.status.code)), headers: headers, body: .init(byteBuffer: bytes))
    }

    private static func answer(_ config: Config, available: Int) -> String {
        #"{"RequestedProvisionedConcurrentExecutions": \#(config.requested), "AvailableProvisionedConcurrentExecutions": \#(available), "#
            + #""AllocatedProvisionedConcurrentExecutions": \#(available), "Status": "\#(config.status)", "LastModified": "2026-11-30T00:00:00.000+0000"}"#
    }

    private static func json(_ status: Int, _ text: String) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        return Response(status: .init(code: status), headers: headers, body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    private static func error(_ status: Int, _ type: String, _ message: String) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        headers[HTTPField.Name("x-amzn-ErrorType")!] = type
        return Response(status: .init(code: status), headers: headers,
                        body: .init(byteBuffer: ByteBuffer(string: #"{"Type": "User", "message": "\#(message)"}"#)))
    }
}
