import NIOCore
import NIOPosix

enum UpstreamError: Error, CustomStringConvertible {
    case closed
    case timedOut(TimeAmount)

    var description: String {
        switch self {
        case .closed: "the connection closed before the answer was complete"
        case .timedOut(let limit): "no answer within \(limit.nanoseconds / 1_000_000_000) s"
        }
    }
}

/// The kept-alive connections from one client connection of the gateway to the instances it forwards to, one
/// per instance port, on the client connection's event loop. A request is read, forwarded and answered on one
/// thread: no lock, no task, no copy of the body (the request's buffers are written as they were read, the
/// answer's bytes are passed back).
///
/// Per client connection rather than shared by all: HTTP/1 carries one request at a time on a connection, so a
/// client connection never needs more than one connection to a given instance, and needs nothing shared with
/// other loops. An idle client connection holds its connections to instances until it closes (the gateway
/// closes idle client connections after its idle timeout) or the instance stops (the model server closes them).
///
/// Written by hand on SwiftNIO's channels: AsyncHTTPClient (used before) runs every request through Swift
/// concurrency and its own pool, which is several thread hops per request (issue #20's `perf`); the answer is
/// read by `UpstreamAnswerReader`, which reads only its status and framing.
final class UpstreamConnections {
    private let eventLoop: any EventLoop
    private var byPort: [Int: (channel: any Channel, handler: UpstreamHandler)] = [:]
    private var closed = false

    init(eventLoop: any EventLoop) { self.eventLoop = eventLoop }

    /// Sends `POST /invoke` with `body` to the instance on `port` and calls `done` on this event loop with its
    /// answer. A kept connection the model server has closed is dropped when its close is read, and the next
    /// request opens a new one; a request is sent once, never retried (it is a POST).
    func send(port: Int, contentType: String?, warmup: Bool, body: ByteBuffer, timeout: TimeAmount,
              _ done: @escaping (Result<UpstreamAnswer, any Error>) -> Void) {
        eventLoop.preconditionInEventLoop()
        if let kept = byPort[port], kept.channel.isActive, !kept.handler.busy {
            kept.handler.send(contentType: contentType, warmup: warmup, body: body, timeout: timeout, owner: self, done)
            return
        }
        ClientBootstrap(group: eventLoop)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(UpstreamHandler(port: port))
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
                    handler.send(contentType: contentType, warmup: warmup, body: body, timeout: timeout, owner: self, done)
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

    /// Whether `channel` is still kept for `port`: when it is not (the client connection has closed
    /// meanwhile, or another took its place), it is closed once its answer is in.
    fileprivate func keeps(_ channel: any Channel, port: Int) -> Bool {
        !closed && byPort[port]?.channel === channel
    }
}

/// One connection to an instance: one request at a time, written as bytes; its answer read by
/// `UpstreamAnswerReader` and handed back.
final class UpstreamHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// Largest answer forwarded (the gateway buffered up to this before too).
    static let maxAnswerBytes = 64 << 20
    /// A request body up to this size goes out in the same buffer as its head (one write).
    static let copiedBodyBytes = 16 << 10

    private let port: Int
    /// `POST /invoke HTTP/1.1` and the `Host` header, the same for every request on this connection.
    private let requestStart: ByteBuffer
    /// The buffer requests are written into, used again for each request (no allocation per request).
    private var requestBuffer = ByteBuffer()
    /// The connections this one belongs to, while a request is in flight.
    private var owner: UpstreamConnections?
    private var context: ChannelHandlerContext?
    private var reader = UpstreamAnswerReader(maxBodyBytes: UpstreamHandler.maxAnswerBytes)
    private var pending: ((Result<UpstreamAnswer, any Error>) -> Void)?
    /// When the request in flight times out; one timer per connection, moved along rather than scheduled
    /// per request.
    private var deadline = NIODeadline.distantFuture
    private var timeout = TimeAmount.zero
    private var timer: Scheduled<Void>?
    private var timerDeadline = NIODeadline.distantFuture

    var busy: Bool { pending != nil }

    init(port: Int) {
        self.port = port
        var start = ByteBuffer()
        start.writeStaticString("POST /invoke HTTP/1.1\r\nHost: 127.0.0.1:")
        start.writeDecimal(port)
        start.writeStaticString("\r\n")
        requestStart = start
    }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }
    func handlerRemoved(context: ChannelHandlerContext) { self.context = nil }

    func send(contentType: String?, warmup: Bool, body: ByteBuffer, timeout: TimeAmount, owner: UpstreamConnections,
              _ done: @escaping (Result<UpstreamAnswer, any Error>) -> Void) {
        guard let context else { return done(.failure(UpstreamError.closed)) }
        pending = done
        self.owner = owner
        reader.reset()
        self.timeout = timeout
        deadline = .now() + timeout
        if deadline < timerDeadline { armTimer(context: context) }
        let copied = body.readableBytes <= Self.copiedBodyBytes
        // The kept buffer, emptied and written in place: the last request was written (and let go of) by
        // SwiftNIO before its answer came, so this neither allocates nor copies.
        requestBuffer.rewrite(minimumCapacity: requestStart.readableBytes + 128 + (copied ? body.readableBytes : 0)) { head in
            head.writeImmutableBuffer(requestStart)
            if let contentType { head.writeHeader("Content-Type", contentType) }
            head.writeHeader("Content-Length", decimal: body.readableBytes)
            if warmup { head.writeStaticString("X-ModelDeck-Warmup: 1\r\n") }
            head.writeStaticString("\r\n")
            if copied { head.writeImmutableBuffer(body) }
        }
        if copied {
            context.writeAndFlush(wrapOutboundOut(requestBuffer), promise: nil)
        } else {
            context.write(wrapOutboundOut(requestBuffer), promise: nil)
            context.writeAndFlush(wrapOutboundOut(body), promise: nil)
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard pending != nil else {
            // Bytes nobody asked for: the connection is out of step; it is not reused.
            context.close(promise: nil)
            return
        }
        do {
            switch try reader.read(unwrapInboundIn(data)) {
            case .needMore:
                return
            case .complete(let answer, let keepAlive):
                if !keepAlive { context.close(promise: nil) }
                finish(.success(answer))
            }
        } catch {
            finish(.failure(error))
            context.close(promise: nil)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        // An answer framed by the close is complete now; any other is cut short.
        if pending != nil {
            finish(Result { try reader.end() })
        }
        timer?.cancel()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        finish(.failure(error))
        context.close(promise: nil)
    }

    private func finish(_ result: Result<UpstreamAnswer, any Error>) {
        guard let done = pending else { return }
        pending = nil
        deadline = .distantFuture
        if let owner, let channel = context?.channel, !owner.keeps(channel, port: port) { channel.close(promise: nil) }
        owner = nil
        done(result)
    }

    private func armTimer(context: ChannelHandlerContext) {
        timer?.cancel()
        timerDeadline = deadline
        timer = context.eventLoop.assumeIsolated().scheduleTask(deadline: deadline) { [self] in
            timer = nil
            timerDeadline = .distantFuture
            guard pending != nil else { return }
            if NIODeadline.now() >= deadline {
                finish(.failure(UpstreamError.timedOut(timeout)))
                self.context?.close(promise: nil)
            } else if let context = self.context {
                armTimer(context: context)
            }
        }
    }
}
