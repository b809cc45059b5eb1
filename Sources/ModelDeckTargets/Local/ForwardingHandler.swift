import Foundation
import ModelDeckCore
import NIOCore
import NIOHTTP1

/// One client connection of the gateway: reads a request, routes it, and forwards it to an instance, all on
/// the connection's event loop when an instance has a free slot (the hot path: no task, no actor, no SQLite;
/// the catalog and the slots are read under their locks, the invocation recorded under the recorder's).
/// A cold start, a queue, a bench token not seen in the last second and a failed forward go through the
/// runtime actor in a task (the slow path), and come back to the loop to answer.
final class ForwardingHandler: ChannelDuplexHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    static let warmupHeader = "X-ModelDeck-Warmup"
    static let versionHeader = "X-ModelDeck-Version"
    static let instanceHeader = "X-ModelDeck-Instance"
    static let coldStartHeader = "X-ModelDeck-Cold-Start"
    static let holdHeader = "X-ModelDeck-Warmup-Hold-Ms"
    static let clientHeader = "X-ModelDeck-Client"
    /// Parts of pipelined requests kept while an answer is pending; above this, reading waits.
    static let maxQueuedParts = 64
    /// An answer body up to this size goes out in the same buffer as its head (one write).
    static let copiedBodyBytes = 16 << 10

    let shared: ForwardingShared
    var upstreams: UpstreamConnections?
    /// Rolls for the traffic weights: no `getrandom` system call per request (see `SplitMix64`).
    var random = SplitMix64(seed: UInt64.random(in: .min ... .max))

    /// The request being read.
    private var head: HTTPRequestHead?
    private var route = GatewayRoute.notFound
    private var body: ByteBuffer?
    /// The headers an invoke reads, taken out in one pass when its head arrives.
    private var fields: RequestFields?
    var arrival = NIODeadline.now()
    /// Bytes taken from the gateway's body budget for this request.
    private var reserved = 0
    /// Admission refused the request: it is answered when its body has been read (and thrown away).
    private var refusal: GatewayAdmission.Refusal?
    /// The request was answered before its body was read (too large): the rest is thrown away and the
    /// connection closed.
    private var discarding = false

    /// From a request's head until its answer is written.
    private var inRequest = false
    /// From a request's end until its answer is written: what arrives meanwhile (pipelined requests) waits,
    /// and the idle timeout does not cut a slow model short.
    private var awaitingAnswer = false
    private var queued = CircularBuffer<HTTPServerRequestPart>()
    private var draining = false
    /// A read was asked for while `queued` was full; it is passed on once the queue drains.
    private var readHeld = false
    /// The connection closes after the answer in flight (the caller closed its side, or the server quiesces).
    private var closeAfterAnswer = false
    /// The connection is closing: nothing more is read or answered.
    private var closing = false
    /// The last read or answer, for the idle timeout; one timer per connection, moved along as it fires.
    private var lastActivity = NIODeadline.now()
    private var idleTimer: Scheduled<Void>?
    /// The buffer answers are written into, used again once SwiftNIO has written it (no allocation per answer).
    private var answerBuffer = ByteBuffer()

    init(shared: ForwardingShared) { self.shared = shared }

    func handlerAdded(context: ChannelHandlerContext) {
        upstreams = UpstreamConnections(eventLoop: context.eventLoop)
        armIdleTimer(at: lastActivity + shared.idleTimeout, context: context)
    }

    func channelInactive(context: ChannelHandlerContext) {
        closing = true
        idleTimer?.cancel()
        idleTimer = nil
        queued.removeAll()
        upstreams?.closeAll()
        releaseBudget()
        context.fireChannelInactive()
    }

    func read(context: ChannelHandlerContext) {
        if queued.count >= Self.maxQueuedParts || closing {
            readHeld = true
        } else {
            context.read()
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        switch event {
        case ChannelEvent.inputClosed, is ChannelShouldQuiesceEvent:
            // The caller closed its side, or the server is shutting down: the answer in flight (if any) is
            // written, then the connection closes.
            if inRequest { closeAfterAnswer = true } else { close(context) }
        default:
            context.fireUserInboundEventTriggered(event)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard !closing else { return }
        if error is HTTPParserError, !awaitingAnswer {
            // A request SwiftNIO's decoder refuses: 400, as `HTTPServerProtocolErrorHandler` answered.
            var out = context.channel.allocator.buffer(capacity: 80)
            out.writeStaticString("HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
            closing = true
            context.writeAndFlush(wrapOutboundOut(out)).assumeIsolated().whenComplete { _ in context.close(promise: nil) }
            return
        }
        close(context)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        // Once per read from the socket rather than per request part: the clock is read less often.
        lastActivity = .now()
        context.fireChannelReadComplete()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !closing else { return }
        let part = unwrapInboundIn(data)
        if awaitingAnswer || !queued.isEmpty {
            queued.append(part)
            return
        }
        handle(part, context: context)
    }

    private func handle(_ part: HTTPServerRequestPart, context: ChannelHandlerContext) {
        switch part {
        case .head(let head):
            begin(head, context: context)
        case .body(var part):
            guard !discarding, refusal == nil, case .invoke(let name) = route else { return }
            if body == nil { body = part } else { body!.writeBuffer(&part) }
            if body!.readableBytes > shared.maxRequestBytes {
                refuseEarly(.payloadTooLarge, ["error": "request body is over \(Format.bytes(Int64(shared.maxRequestBytes)))", "endpoint": name],
                            context: context)
            }
        case .end:
            guard !discarding else { return }
            guard let head else { return }
            awaitingAnswer = true
            releaseBudget()
            let body = self.body ?? context.channel.allocator.buffer(capacity: 0)
            let fields = self.fields ?? RequestFields(head.headers)
            self.head = nil
            self.body = nil
            self.fields = nil
            switch route {
            case .invoke(let name):
                if let refusal {
                    self.refusal = nil
                    respond(HTTPResponseStatus(statusCode: refusal.status), ["error": refusal.reason, "endpoint": name], head: head, context: context)
                } else {
                    invoke(name, head: head, fields: fields, body: body, context: context)
                }
            case .health:
                respond(.ok, ["status": "ok"], head: head, context: context)
            case .ready:
                if let failure = shared.catalog.failure {
                    respond(.serviceUnavailable, ["status": "not ready", "error": failure], head: head, context: context)
                } else {
                    respond(.ok, ["status": "ready", "endpoints": "\(shared.catalog.endpoints().count)"], head: head, context: context)
                }
            case .notFound:
                respond(.notFound, ["error": "not found; the gateway answers POST /endpoints/{name}/invoke, GET /healthz and GET /readyz"],
                        head: head, context: context)
            }
        }
    }

    /// A request's head: the checks that need no body, and the body budget.
    private func begin(_ head: HTTPRequestHead, context: ChannelHandlerContext) {
        self.head = head
        arrival = .now()
        inRequest = true
        body = nil
        refusal = nil
        fields = nil
        route = GatewayRoute.of(method: head.method, uri: head.uri)
        guard case .invoke(let name) = route else { return }
        let fields = RequestFields(head.headers)
        self.fields = fields
        refusal = shared.admission.check(host: fields.host, authorization: fields.authorization, contentType: fields.contentType,
                                         clientHeader: fields.client, warmupSecret: fields.warmupSecret, isInvoke: true)
        guard refusal == nil else { return }
        let declared = fields.contentLength.flatMap(Int.init)
        // Refuse a body declared too large before reading any of it.
        if let declared, declared > shared.maxRequestBytes {
            return refuseEarly(.payloadTooLarge, ["error": "request body is over \(Format.bytes(Int64(shared.maxRequestBytes)))", "endpoint": name],
                               context: context)
        }
        let wanted = declared ?? shared.maxRequestBytes
        guard shared.buffered.reserve(wanted) else {
            return refuseEarly(.serviceUnavailable, ["error": "the gateway is reading \(Format.bytes(Int64(shared.buffered.limit))) of request bodies already; try again shortly",
                                                    "endpoint": name], context: context)
        }
        reserved = wanted
    }

    /// Answers before the body is read, and closes the connection after the answer (the rest of the body is not read).
    private func refuseEarly(_ status: HTTPResponseStatus, _ fields: [String: String], context: ChannelHandlerContext) {
        guard let head else { return }
        releaseBudget()
        discarding = true
        body = nil
        self.head = nil
        respond(status, fields, head: head, close: true, context: context)
    }

    private func releaseBudget() {
        if reserved > 0 { shared.buffered.release(reserved) }
        reserved = 0
    }

    // MARK: - The connection

    /// The answer to the request in flight is written: the next one (pipelined, or read later) may go on.
    private func answered(keepAlive: Bool, context: ChannelHandlerContext) {
        inRequest = false
        awaitingAnswer = false
        lastActivity = .now()
        guard keepAlive else {
            // The write closes the connection once it is done.
            closing = true
            queued.removeAll()
            return
        }
        guard !draining else { return }
        draining = true
        defer { draining = false }
        while !awaitingAnswer, !closing, let part = queued.popFirst() { handle(part, context: context) }
        if readHeld, queued.count < Self.maxQueuedParts, !closing {
            readHeld = false
            context.read()
        }
    }

    private func close(_ context: ChannelHandlerContext) {
        guard !closing else { return }
        closing = true
        context.close(promise: nil)
    }

    private func armIdleTimer(at deadline: NIODeadline, context: ChannelHandlerContext) {
        idleTimer = context.eventLoop.assumeIsolated().scheduleTask(deadline: deadline) { [self] in
            idleTimer = nil
            guard !closing else { return }
            let due = lastActivity + shared.idleTimeout
            if awaitingAnswer {
                // A slow model is not cut short; a caller slow to send its request is.
                armIdleTimer(at: .now() + shared.idleTimeout, context: context)
            } else if NIODeadline.now() >= due {
                close(context)
            } else {
                armIdleTimer(at: due, context: context)
            }
        }
    }

    // MARK: - Answers

    /// A small JSON object answer (gateway errors, health).
    func respond(_ status: HTTPResponseStatus, _ fields: [String: String], head: HTTPRequestHead, close: Bool = false,
                         context: ChannelHandlerContext, extra: (inout ByteBuffer) -> Void = { _ in }) {
        let body = context.channel.allocator.buffer(bytes: GatewayJSON.object(fields))
        write(Int(status.code), body: body, head: head, close: close, context: context) { out in
            extra(&out)
            out.writeStaticString("Content-Type: application/json\r\n")
        }
    }

    /// The answer to `head`, written as bytes: status line, the headers `headers` writes, `Content-Length`,
    /// `Connection` when it differs from the version's default, the body (none to a HEAD request).
    func write(_ status: Int, body: ByteBuffer, head: HTTPRequestHead, close: Bool = false, context: ChannelHandlerContext,
                       headers: (inout ByteBuffer) -> Void) {
        guard inRequest, !closing else { return }
        let keepAlive = head.isKeepAlive && !close && !closeAfterAnswer
        let sendsBody = head.method != .HEAD && body.readableBytes > 0
        let copied = sendsBody && body.readableBytes <= Self.copiedBodyBytes
        // The kept buffer, emptied and written in place: SwiftNIO has written (and let go of) the last answer by
        // now, so this neither allocates nor copies; were that answer still queued, clearing would take a new
        // buffer (copy on write).
        answerBuffer.rewrite(minimumCapacity: 320 + (copied ? body.readableBytes : 0)) { out in
            out.writeStatusLine(version: head.version, status: status)
            headers(&out)
            out.writeHeader("Content-Length", decimal: body.readableBytes)
            if !keepAlive {
                out.writeStaticString("Connection: close\r\n")
            } else if head.version.minor == 0 {
                out.writeStaticString("Connection: keep-alive\r\n")
            }
            out.writeStaticString("\r\n")
            if copied { out.writeImmutableBuffer(body) }
        }
        var out = answerBuffer
        if sendsBody && !copied {
            context.write(wrapOutboundOut(out), promise: nil)
            out = body
        }
        if keepAlive {
            context.writeAndFlush(wrapOutboundOut(out), promise: nil)
        } else {
            context.writeAndFlush(wrapOutboundOut(out)).assumeIsolated().whenComplete { _ in context.close(promise: nil) }
        }
        answered(keepAlive: keepAlive, context: context)
    }
}
