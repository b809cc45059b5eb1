import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import Synchronization

/// An endpoint someone else runs, on a loopback port, for the http target's tests: real HTTP, in the test
/// process. Each behaves like a kind of platform an on-call engineer meets.
public final class StandInEndpoint: Sendable {
    public enum Behaviour: Sendable {
        /// Answers 200 after `delay`.
        case slow(Duration)
        /// Answers `status` at once.
        case failing(status: Int)
        /// Scales to zero: a request after `idle` without one (or the first) waits `coldStart` and carries
        /// `X-Cold-Start: true`; the others `X-Cold-Start: false`.
        case scalesToZero(idle: Duration, coldStart: Duration)
        /// Answers 200 only with `Authorization: Bearer <token>`, 401 otherwise.
        case needsToken(String)
    }

    private let behaviour: Behaviour
    private let seen = Mutex<[(head: HTTPRequest, body: Data)]>([])
    private let lastRequest = Mutex<ContinuousClock.Instant?>(nil)
    private let task = Mutex<Task<Void, any Error>?>(nil)

    public init(_ behaviour: Behaviour) { self.behaviour = behaviour }

    /// Requests received so far (heads and bodies), in order.
    public var requests: [(head: HTTPRequest, body: Data)] { seen.withLock { $0 } }

    /// Starts listening; returns the URL of its one endpoint, `/predict`.
    public func start() async throws -> String {
        let router = Router()
        let answer: @Sendable (Request, BasicRequestContext) async throws -> Response = { [self] request, _ in
            let body = Data((try await request.body.collect(upTo: 1 << 20)).readableBytesView)
            seen.withLock { $0.append((request.head, body)) }
            var headers = HTTPFields()
            switch behaviour {
            case .slow(let delay):
                try await Task.sleep(for: delay)
                return Response(status: .ok, body: .init(byteBuffer: ByteBuffer(string: "{\"label\": \"positive\"}")))
            case .failing(let status):
                return Response(status: .init(code: status), body: .init(byteBuffer: ByteBuffer(string: "{\"error\": \"model crashed\"}")))
            case .scalesToZero(let idle, let coldStart):
                let now = ContinuousClock.now
                let cold = lastRequest.withLock { last in
                    defer { last = now }
                    return last.map { now - $0 >= idle } ?? true
                }
                if cold { try await Task.sleep(for: coldStart) }
                // The idle time counts from the end of the last answer, as a platform's keep-alive does.
                lastRequest.withLock { $0 = .now }
                headers[HTTPField.Name("X-Cold-Start")!] = cold ? "true" : "false"
                return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: "{}")))
            case .needsToken(let token):
                guard request.headers[.authorization] == "Bearer \(token)" else {
                    headers[.wwwAuthenticate] = "Bearer"
                    return Response(status: .unauthorized, headers: headers, body: .init(byteBuffer: ByteBuffer(string: "{\"error\": \"no token\"}")))
                }
                return Response(status: .ok, body: .init(byteBuffer: ByteBuffer(string: "{}")))
            }
        }
        for method in [HTTPRequest.Method.get, .post, .put, .head] { router.on("/predict", method: method, use: answer) }
        return "http://127.0.0.1:\(try await serveOnLoopback(router, label: "stand-in endpoint", task: task))/predict"
    }

    public func stop() { task.withLock { $0?.cancel() } }
}
