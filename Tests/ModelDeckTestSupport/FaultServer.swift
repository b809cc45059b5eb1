import Foundation
#if canImport(Glibc)
import Glibc
#endif
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
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
            }
        }
        router.post("/", use: answer)
        router.post("/**", use: answer)
        router.get("/**", use: answer)
        router.put("/**", use: answer)
        return "http://127.0.0.1:\(try await serveOnLoopback(router, label: "fault server", task: task))"
    }

    public func stop() { task.withLock { $0?.cancel() } }
}

/// Runs `router` on a free loopback port until `task` is cancelled; returns the port.
///
/// Cancelling `task` shuts the server down gracefully rather than cancelling it: a cancelled server can leave
/// a connection it had accepted but not yet served, whose writer NIO then traps on ("Deinited NIOAsyncWriter
/// without calling finish()", apple/swift-nio#3481, where NIO's maintainers advise a graceful shutdown).
func serveOnLoopback(_ router: Router<BasicRequestContext>, label: String, task: borrowing Mutex<Task<Void, any Error>?>) async throws -> Int {
    var logger = Logger(label: label)
    logger.logLevel = .critical
    let (ports, portReady) = AsyncStream<Int>.makeStream()
    let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
                          onServerRunning: { portReady.yield($0.localAddress?.port ?? 0) }, logger: logger)
    let group = ServiceGroup(configuration: .init(services: [app], gracefulShutdownSignals: [], logger: logger))
    // Not a child of the task below, so cancelling that one does not cancel the server.
    let serving = Task { try await group.run() }
    task.withLock {
        $0 = Task {
            await withTaskCancellationHandler {
                _ = await serving.result
            } onCancel: {
                Task { await group.triggerGracefulShutdown() }
            }
        }
    }
    var iterator = ports.makeAsyncIterator()
    guard let port = await iterator.next() else { throw TestFailure("the \(label) did not start") }
    return port
}

/// A server that never answers: a loopback socket that listens and never accepts, so connections complete in
/// the kernel's backlog and requests wait for an answer that never comes. (A handler that sleeps instead
/// leaves a response writer unfinished when the server is cancelled, which NIO treats as a fatal error.)
public final class SilentServer: Sendable {
    private let socket: Int32
    public let url: String

    public init() throws {
        let listener = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(listener, 16) == 0 else { throw TestFailure("cannot listen on loopback: errno \(errno)") }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listener, $0, &length) }
        }
        socket = listener
        url = "http://127.0.0.1:\(UInt16(bigEndian: address.sin_port))"
    }

    public func stop() { close(socket) }
}
