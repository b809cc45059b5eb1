import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import Synchronization

/// An AWS stand-in that misbehaves on purpose, on a loopback port: it answers each request with the next
/// scripted fault, then with the last one. moto cannot throttle or hang, so the retry and timeout tests use
/// this at the HTTP boundary instead.
public final class FaultServer: Sendable {
    public enum Answer: Sendable {
        /// Status, `x-amzn-ErrorType` header (nil for none) and JSON body.
        case error(status: Int, type: String?, body: String)
        case ok(String)
        /// Any status, with these headers and body (e.g. Lambda's `X-Amz-Log-Result` on an Invoke).
        case answer(status: Int, headers: [String: String], body: String)
        /// Holds the request open for a minute without answering.
        case hang
    }

    private let respond: @Sendable (_ index: Int, _ head: HTTPRequest, _ body: Data) -> Answer
    private let seen = Mutex<[(head: HTTPRequest, body: Data)]>([])
    private let task = Mutex<Task<Void, any Error>?>(nil)

    /// Answers request n with `script[n]`, and every later one with the last.
    public init(_ script: [Answer]) { respond = { index, _, _ in script[min(index, script.count - 1)] } }

    /// Answers each request as `respond` says, from its position, head and body.
    public init(respond: @escaping @Sendable (_ index: Int, _ head: HTTPRequest, _ body: Data) -> Answer) { self.respond = respond }

    /// Requests answered so far.
    public var requests: [HTTPRequest] { seen.withLock { $0.map(\.head) } }

    /// Bodies of the requests answered so far, in order.
    public var bodies: [Data] { seen.withLock { $0.map(\.body) } }

    /// Starts listening; returns the base URL.
    public func start() async throws -> String {
        let router = Router()
        let answer: @Sendable (Request, BasicRequestContext) async throws -> Response = { [self] request, _ in
            let body = Data((try await request.body.collect(upTo: 1 << 20)).readableBytesView)
            let index = seen.withLock { seen in seen.append((request.head, body)); return seen.count - 1 }
            switch respond(index, request.head, body) {
            case .ok(let body):
                return Response(status: .ok, body: .init(byteBuffer: ByteBuffer(string: body)))
            case .error(let status, let type, let body):
                var headers = HTTPFields()
                if let type { headers[HTTPField.Name("x-amzn-ErrorType")!] = type }
                return Response(status: .init(code: status), headers: headers, body: .init(byteBuffer: ByteBuffer(string: body)))
            case .answer(let status, let fields, let body):
                var headers = HTTPFields()
                for (name, value) in fields { headers[HTTPField.Name(name)!] = value }
                return Response(status: .init(code: status), headers: headers, body: .init(byteBuffer: ByteBuffer(string: body)))
            case .hang:
                try await Task.sleep(for: .seconds(60))
                return Response(status: .ok)
            }
        }
        router.post("/", use: answer)
        router.post("/**", use: answer)
        router.get("/**", use: answer)
        router.put("/**", use: answer)
        var logger = Logger(label: "fault-server")
        logger.logLevel = .critical
        let (ports, portReady) = AsyncStream<Int>.makeStream()
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
                              onServerRunning: { portReady.yield($0.localAddress?.port ?? 0) }, logger: logger)
        task.withLock { $0 = Task { try await app.runService(gracefulShutdownSignals: []) } }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next() else { throw TestFailure("the fault server did not start") }
        return "http://127.0.0.1:\(port)"
    }

    public func stop() { task.withLock { $0?.cancel() } }
}
