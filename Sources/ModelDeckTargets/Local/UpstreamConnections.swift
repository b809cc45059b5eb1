import NIOCore
import NIOHTTP1
import NIOPosix

/// A model server's answer, as the gateway forwards it.
struct UpstreamAnswer {
    var head: HTTPResponseHead
    var body: ByteBuffer
}

enum UpstreamError: Error, CustomStringConvertible {
    case closed
    case timedOut(TimeAmount)
    case answerTooLarge(Int)

    var description: String {
        switch self {
        case .closed: "the connection closed before the answer was complete"
        case .timedOut(let limit): "no answer within \(limit.nanoseconds / 1_000_000_000) s"
        case .answerTooLarge(let limit): "the answer is over \(limit) bytes"
        }
    }
}

/// The kept-alive connections from one client connection of the gateway to the instances it forwards to, one
/// per instance port, on the client connection's event loop. A request is read, forwarded and answered on one
/// thread: no lock, no task, no copy of the body (the request's buffers are written as they were read, the
/// answer's are passed back).
///
/// Per client connection rather than shared by all: HTTP/1 carries one request at a time on a connection, so a
/// client connection never needs more than one connection to a given instance, and needs nothing shared with
/// other loops. An idle client connection holds its connections to instances until it closes (the gateway
/// closes idle client connections after its idle timeout) or the instance stops (the model server closes them).
///
/// Written by hand on SwiftNIO's HTTP/1 client codec: AsyncHTTPClient (used before) runs every request through
/// Swift concurrency and its own pool, which is several thread hops per request (issue #20's `perf`).
final class UpstreamConnections {
    private let eventLoop: any EventLoop
    private var byPort: [Int: (channel: any Channel, handler: UpstreamHandler)] = [:]
    private var closed = false

    init(eventLoop: any EventLoop) { self.eventLoop = eventLoop }

    /// Sends `POST /invoke` with `body` to the instance on `port` and calls `done` on this event loop with its
    /// answer. A kept connection the model server has closed is dropped when its close is read, and the next
    /// request opens a new one; a request is sent once, never retried (it is a POST).
    func send(port: Int, headers: HTTPHeaders, body: ByteBuffer, timeout: TimeAmount,
              _ done: @escaping (Result<UpstreamAnswer, any Error>) -> Void) {
        eventLoop.preconditionInEventLoop()
        if let kept = byPort[port], kept.channel.isActive, !kept.handler.busy {
            kept.handler.send(headers: headers, body: body, timeout: timeout, closingIfGone(kept.channel, port: port, done))
            return
        }
        ClientBootstrap(group: eventLoop)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    try channel.pipeline.syncOperations.addHandler(UpstreamHandler())
                }
            }
            .connect(host: "127.0.0.1", port: port)
            .assumeIsolated()
            .whenComplete { result in
                switch result {
                case .failure(let error):
                    done(.failure(error))
                case .success(let channel):
                    guard let handler = try? channel.pipeline.syncOperations.handler(type: UpstreamHandler.self) else {
                        channel.close(promise: nil)
                        done(.failure(UpstreamError.closed))
                        return
                    }
                    if !self.closed {
                        if let old = self.byPort[port], old.channel !== channel { old.channel.close(promise: nil) }
                        self.byPort[port] = (channel, handler)
                        channel.closeFuture.assumeIsolated().whenComplete { _ in
                            if self.byPort[port]?.channel === channel { self.byPort[port] = nil }
                        }
                    }
                    handler.send(headers: headers, body: body, timeout: timeout, self.closingIfGone(channel, port: port, done))
                }
            }
    }

    /// The client connection closed: idle connections are closed now; a request in flight is answered by its
    /// model and counted (as nginx does by default), and its connection closed then. Closing it at once would
    /// count a 502 for every caller that hangs up, such as a load generator stopping.
    func closeAll() {
        closed = true
        for kept in byPort.values where !kept.handler.busy { kept.channel.close(promise: nil) }
        byPort = [:]
    }

    /// `done`, after closing `channel` when it is not kept (the client connection has closed meanwhile).
    private func closingIfGone(_ channel: any Channel, port: Int, _ done: @escaping (Result<UpstreamAnswer, any Error>) -> Void)
        -> (Result<UpstreamAnswer, any Error>) -> Void {
        { result in
            if self.closed || self.byPort[port]?.channel !== channel { channel.close(promise: nil) }
            done(result)
        }
    }
}

/// One connection to an instance: one request at a time, its answer collected and handed back.
final class UpstreamHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundOut = HTTPClientRequestPart

    /// Largest answer forwarded (the gateway buffered up to this before too).
    static let maxAnswerBytes = 64 << 20

    private var context: ChannelHandlerContext?
    private var head: HTTPResponseHead?
    private var body: ByteBuffer?
    private var pending: ((Result<UpstreamAnswer, any Error>) -> Void)?
    private var timer: Scheduled<Void>?

    var busy: Bool { pending != nil }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }
    func handlerRemoved(context: ChannelHandlerContext) { self.context = nil }

    func send(headers: HTTPHeaders, body: ByteBuffer, timeout: TimeAmount,
              _ done: @escaping (Result<UpstreamAnswer, any Error>) -> Void) {
        guard let context else { return done(.failure(UpstreamError.closed)) }
        pending = done
        head = nil
        self.body = nil
        timer = context.eventLoop.assumeIsolated().scheduleTask(in: timeout) { [self] in
            finish(.failure(UpstreamError.timedOut(timeout)))
            self.context?.close(promise: nil)
        }
        let request = HTTPRequestHead(version: .http1_1, method: .POST, uri: "/invoke", headers: headers)
        context.write(wrapOutboundOut(.head(request)), promise: nil)
        if body.readableBytes > 0 { context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil) }
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
        case .body(var part):
            if body == nil {
                body = part
            } else {
                body!.writeBuffer(&part)
            }
            if body!.readableBytes > Self.maxAnswerBytes {
                finish(.failure(UpstreamError.answerTooLarge(Self.maxAnswerBytes)))
                context.close(promise: nil)
            }
        case .end:
            guard let head else { return }
            let answer = UpstreamAnswer(head: head, body: body ?? context.channel.allocator.buffer(capacity: 0))
            self.head = nil
            body = nil
            if !head.isKeepAlive { context.close(promise: nil) }
            finish(.success(answer))
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        finish(.failure(UpstreamError.closed))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        finish(.failure(error))
        context.close(promise: nil)
    }

    private func finish(_ result: Result<UpstreamAnswer, any Error>) {
        timer?.cancel()
        timer = nil
        guard let done = pending else { return }
        pending = nil
        done(result)
    }
}
