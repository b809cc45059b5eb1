import AsyncHTTPClient
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import Synchronization

/// moto, with SageMaker's `UpdateEndpoint` stood in for at the HTTP boundary: moto 5.2 answers it "not
/// implemented", while `CreateEndpoint`, `DescribeEndpoint`, `DescribeEndpointConfig` and
/// `UpdateEndpointWeightsAndCapacities` work there. Every request goes through to moto as it came (moto checks
/// no signature); an `UpdateEndpoint` is carried out on moto as `DeleteEndpoint` and `CreateEndpoint` of the same
/// name on the new config, answered like AWS (`EndpointArn`). So what the tests read back — variants, weights,
/// configs — is moto's own answer, and only the one missing call is ours.
public final class MotoWithUpdateEndpoint: Sendable {
    private let task = Mutex<Task<Void, any Error>?>(nil)
    private let seen = Mutex<[String]>([])

    public init() {}

    /// The SageMaker operations asked for so far (`UpdateEndpoint`, `UpdateEndpointWeightsAndCapacities`, …), in order.
    public var operations: [String] { seen.withLock { $0 } }

    /// Starts listening in front of moto; returns the base URL to give as the AWS endpoint.
    public func start() async throws -> String {
        let moto = try await Moto.shared.baseURL()
        let router = Router()
        let forward: @Sendable (Request, BasicRequestContext) async throws -> Response = { [self] request, _ in
            let body = Data((try await request.body.collect(upTo: 8 << 20)).readableBytesView)
            let target = request.headers[HTTPField.Name("X-Amz-Target")!] ?? ""
            if target.hasPrefix("SageMaker.") { seen.withLock { $0.append(String(target.dropFirst("SageMaker.".count))) } }
            if target == "SageMaker.UpdateEndpoint" {
                return try await updateEndpoint(moto: moto, request: request, body: body)
            }
            return try await Self.send(moto: moto, request.head, body: body)
        }
        for method in [HTTPRequest.Method.get, .post, .put, .delete] {
            router.on("/", method: method, use: forward)
            router.on("/**", method: method, use: forward)
        }
        return "http://127.0.0.1:\(try await serveOnLoopback(router, label: "moto with UpdateEndpoint", task: task))"
    }

    public func stop() { task.withLock { $0?.cancel() } }

    private func updateEndpoint(moto: String, request: Request, body: Data) async throws -> Response {
        let fields = (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] ?? [:]
        guard let name = fields["EndpointName"] as? String, let config = fields["EndpointConfigName"] as? String else {
            return Self.json(400, #"{"__type": "ValidationException", "message": "EndpointName and EndpointConfigName are required"}"#)
        }
        func call(_ operation: String, _ payload: [String: Any]) async throws -> Response {
            var head = request.head
            head.headerFields[HTTPField.Name("X-Amz-Target")!] = "SageMaker.\(operation)"
            return try await Self.send(moto: moto, head, body: try JSONSerialization.data(withJSONObject: payload))
        }
        // AWS refuses an update to a config that does not exist; so does moto's CreateEndpoint, before anything is deleted.
        let described = try await call("DescribeEndpointConfig", ["EndpointConfigName": config])
        guard described.status == .ok else { return described }
        let deleted = try await call("DeleteEndpoint", ["EndpointName": name])
        guard deleted.status == .ok else { return deleted }
        return try await call("CreateEndpoint", ["EndpointName": name, "EndpointConfigName": config])
    }

    private static func send(moto: String, _ head: HTTPRequest, body: Data) async throws -> Response {
        var outgoing = HTTPClientRequest(url: moto + (head.path ?? "/"))
        outgoing.method = .init(rawValue: head.method.rawValue)
        for field in head.headerFields where !["host", "content-length"].contains(field.name.canonicalName) {
            outgoing.headers.add(name: field.name.rawName, value: field.value)
        }
        outgoing.body = .bytes(ByteBuffer(bytes: body))
        let answer = try await HTTPClient.shared.execute(outgoing, timeout: .seconds(30))
        let bytes = try await answer.body.collect(upTo: 8 << 20)
        var headers = HTTPFields()
        for (name, value) in answer.headers where name.lowercased() != "content-length" && name.lowercased() != "transfer-encoding" {
            if let field = HTTPField.Name(name) { headers.append(HTTPField(name: field, value: value)) }
        }
        return Response(status: .init(code: Int(answer.status.code)), headers: headers, body: .init(byteBuffer: bytes))
    }

    private static func json(_ status: Int, _ body: String) -> Response {
        Response(status: .init(code: status), body: .init(byteBuffer: ByteBuffer(string: body)))
    }
}
