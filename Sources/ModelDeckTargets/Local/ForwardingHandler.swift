import Foundation
import HTTPTypes
import HummingbirdCore
import Logging
import ModelDeckCore
import NIOCore
import NIOHTTP1

/// What a request line asks the gateway for.
enum GatewayRoute: Equatable {
    case invoke(endpoint: String)
    case health
    case ready
    case notFound

    /// `POST /endpoints/{name}/invoke`, `GET /healthz`, `GET /readyz`; a query string is ignored.
    /// Read from the path's bytes: it runs for every request.
    static func of(method: HTTPMethod, uri: String) -> GatewayRoute {
        let path = uri.utf8.prefix { $0 != UInt8(ascii: "?") }
        let prefix = "/endpoints/".utf8, suffix = "/invoke".utf8
        switch method {
        case .POST where path.count > prefix.count + suffix.count && path.starts(with: prefix) && path.reversed().starts(with: suffix.reversed()):
            let name = path.dropFirst(prefix.count).dropLast(suffix.count)
            guard !name.contains(UInt8(ascii: "/")) else { return .notFound }
            let decoded = String(decoding: name, as: UTF8.self)
            return .invoke(endpoint: name.contains(UInt8(ascii: "%")) ? decoded.removingPercentEncoding ?? decoded : decoded)
        case .GET where path.elementsEqual("/healthz".utf8): return .health
        case .GET where path.elementsEqual("/readyz".utf8): return .ready
        default: return .notFound
        }
    }
}

/// What every connection's handler shares: the catalog, the runtime, the recorder and the limits.
final class ForwardingShared: Sendable {
    let catalog: EndpointCatalog
    let runtime: LocalRuntime
    let recorder: InvocationRecorder
    let admission: GatewayAdmission
    let warmupSecret: String
    let maxRequestBytes: Int
    let buffered: BodyBudget
    let bench: BenchPasses
    let idleTimeout: TimeAmount
    let logger: Logger

    init(catalog: EndpointCatalog, runtime: LocalRuntime, recorder: InvocationRecorder, admission: GatewayAdmission,
         warmupSecret: String, maxRequestBytes: Int, buffered: BodyBudget, bench: BenchPasses, idleTimeout: TimeAmount,
         logger: Logger) {
        self.catalog = catalog
        self.runtime = runtime
        self.recorder = recorder
        self.admission = admission
        self.warmupSecret = warmupSecret
        self.maxRequestBytes = maxRequestBytes
        self.buffered = buffered
        self.bench = bench
        self.idleTimeout = idleTimeout
        self.logger = logger
    }
}

/// The gateway's connections: SwiftNIO's HTTP/1 request decoder and `ForwardingHandler`, served by
/// HummingbirdCore's `Server` (binding, the cap on open connections, graceful shutdown that lets requests in
/// flight finish).
///
/// Two handlers, where `configureHTTPServerPipeline` and an `IdleStateHandler` made five before ours (the
/// response encoder, the request decoder, pipelining assistance, protocol-error handling, the idle timer):
/// every event went through each of them (issue #20's `perf`). What those did is done by `ForwardingHandler`:
/// answers are written as bytes; one request at a time per connection, with pipelined requests kept until the
/// answer before them is written; a protocol error answered `400` and the connection closed; the connection
/// closed when idle for the idle timeout, when the caller closes its side, or when the server quiesces (at
/// once if idle, else after the answer in flight).
struct ForwardingChannel: ServerChildChannel {
    struct Value: ServerChildChannelValue {
        let channel: any Channel
    }

    let shared: ForwardingShared

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(HTTPRequestDecoder(leftOverBytesStrategy: .dropBytes)))
            try channel.pipeline.syncOperations.addHandler(ForwardingHandler(shared: shared))
            return Value(channel: channel)
        }
    }

    func handle(value: Value, logger: Logger) async {
        try? await value.channel.closeFuture.get()
    }
}

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

    private let shared: ForwardingShared
    private var upstreams: UpstreamConnections?
    /// Rolls for the traffic weights: no `getrandom` system call per request (see `SplitMix64`).
    private var random = SplitMix64(seed: UInt64.random(in: .min ... .max))

    /// The request being read.
    private var head: HTTPRequestHead?
    private var route = GatewayRoute.notFound
    private var body: ByteBuffer?
    /// The headers an invoke reads, taken out in one pass when its head arrives.
    private var fields: RequestFields?
    private var arrival = NIODeadline.now()
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

    // MARK: - Invoke

    /// What one invocation needs once it is routed: a reference, handed on (to the upstream's callback, the
    /// slow path's task) with one retain rather than a copy of each of its fields.
    private final class Routed {
        let name: String
        let route: EndpointRoute
        let versionID: String
        let timeout: TimeAmount
        let warmup: Bool
        let bench: Bool
        let holdMilliseconds: Int
        let head: HTTPRequestHead
        let contentType: String?
        let body: ByteBuffer
        let arrival: NIODeadline
        let at: Date

        init(name: String, route: EndpointRoute, versionID: String, timeout: TimeAmount, warmup: Bool, bench: Bool,
             holdMilliseconds: Int, head: HTTPRequestHead, contentType: String?, body: ByteBuffer, arrival: NIODeadline, at: Date) {
            self.name = name
            self.route = route
            self.versionID = versionID
            self.timeout = timeout
            self.warmup = warmup
            self.bench = bench
            self.holdMilliseconds = holdMilliseconds
            self.head = head
            self.contentType = contentType
            self.body = body
            self.arrival = arrival
            self.at = at
        }
    }

    private func invoke(_ name: String, head: HTTPRequestHead, fields: RequestFields, body: ByteBuffer, context: ChannelHandlerContext) {
        let at = Date()
        guard let endpoint = shared.catalog.route(named: name) else {
            return respond(.notFound, ["error": "unknown endpoint '\(name)' on this gateway", "endpoint": name], head: head, context: context)
        }
        // A caller without the daemon's secret is user traffic, whatever it claims: it must not pin a version,
        // hold instances, or keep its requests out of the SLO gate's figures.
        let warmup = fields.warmup == "1" && WarmupSecret.matches(fields.warmupSecret, shared.warmupSecret)
        let token = warmup ? nil : fields.benchToken
        let arrival = self.arrival
        if let known = shared.bench.known(token, endpoint: name) {
            return route(name, endpoint: endpoint, warmup: warmup, bench: known, head: head, fields: fields, body: body, arrival: arrival, at: at,
                         context: context)
        }
        // A bench token not checked in the last second: the registry says (off the loop).
        let bench = shared.bench
        context.eventLoop.makeFutureWithTask { await bench.isValid(token, endpoint: name) }
            .assumeIsolated().whenSuccess { [self] known in
                route(name, endpoint: endpoint, warmup: warmup, bench: known, head: head, fields: fields, body: body, arrival: arrival, at: at,
                      context: context)
            }
    }

    private func route(_ name: String, endpoint: EndpointRoute, warmup: Bool, bench: Bool, head: HTTPRequestHead, fields: RequestFields,
                       body: ByteBuffer, arrival: NIODeadline, at: Date, context: ChannelHandlerContext) {
        // A keep-warm ping or a bench request may name its version; user traffic always follows the weights.
        let weights = endpoint.local.weights
        let pinned = warmup || bench ? fields.version.flatMap { weights[$0] != nil ? $0 : nil } : nil
        // The roll on a local copy: `random` is not accessed (and checked for exclusivity) while it runs.
        var random = self.random
        let picked = pinned ?? WeightedRouter.pick(weights, using: &random)
        self.random = random
        guard let versionID = picked, let timeout = endpoint.timeouts[versionID] else {
            return respond(.serviceUnavailable, ["error": "endpoint '\(name)' has no version taking traffic; deploy one", "endpoint": name],
                           head: head, context: context)
        }
        let hold = warmup ? min(1_000, Int(fields.holdMilliseconds ?? "") ?? 0) : 0
        let invocation = Routed(name: name, route: endpoint, versionID: versionID, timeout: timeout, warmup: warmup, bench: bench,
                                holdMilliseconds: hold, head: head, contentType: fields.contentType, body: body, arrival: arrival, at: at)
        let runtime = shared.runtime
        let cold = bench && fields.benchCold == "1"
        // The hot path: a free slot, taken under the slots' lock.
        if !cold, let lease = runtime.takeFree(endpoint: name, version: versionID) {
            return forward(invocation, lease: lease, context: context)
        }
        // The slow path: a cold start, the queue, or a bench run's cold request, through the runtime actor.
        let local = endpoint.local
        guard let version = local.versions[versionID] else { return }
        context.eventLoop.makeFutureWithTask { () async -> Result<Lease, RuntimeFailure> in
            if cold { await runtime.stopIdle(endpoint: name, version: versionID) }
            do {
                return .success(try await runtime.acquire(local, version: version))
            } catch let failure as RuntimeFailure {
                return .failure(failure)
            } catch {
                return .failure(.startFailed(endpoint: name, version: versionID, reason: "\(error)"))
            }
        }.assumeIsolated().whenSuccess { [self] acquired in
            switch acquired {
            case .success(let lease):
                forward(invocation, lease: lease, context: context)
            case .failure(let failure):
                let status: HTTPResponseStatus = if case .startFailed = failure { .badGateway } else { .serviceUnavailable }
                record(invocation, status: Int(status.code), cold: false, inFlight: 0)
                respond(status, ["error": failure.message, "endpoint": name, "version": versionID], head: head, context: context)
            }
        }
    }

    private func forward(_ invocation: Routed, lease: Lease, context: ChannelHandlerContext) {
        guard let upstreams else { return }
        upstreams.send(port: lease.port, contentType: invocation.contentType, warmup: invocation.warmup,
                       body: invocation.body, timeout: invocation.timeout) { [self] result in
            switch result {
            case .success(let answer):
                if invocation.holdMilliseconds > 0 {
                    context.eventLoop.assumeIsolated().scheduleTask(in: .milliseconds(Int64(invocation.holdMilliseconds))) { [self] in
                        answered(invocation, lease: lease, answer: answer, context: context)
                    }
                } else {
                    answered(invocation, lease: lease, answer: answer, context: context)
                }
            case .failure(let error):
                failed(invocation, lease: lease, error: error, context: context)
            }
        }
    }

    private func answered(_ invocation: Routed, lease: Lease, answer: UpstreamAnswer, context: ChannelHandlerContext) {
        shared.runtime.releaseNow(lease)
        record(invocation, status: answer.status, cold: lease.coldStart, inFlight: lease.inFlight)
        write(answer.status, body: answer.body, head: invocation.head, context: context) { out in
            if let type = answer.contentType {
                out.writeHeader("Content-Type", type)
            } else {
                out.writeStaticString("Content-Type: application/octet-stream\r\n")
            }
            out.writeHeader("X-ModelDeck-Version", invocation.versionID)
            out.writeHeader("X-ModelDeck-Instance", lease.instanceID)
            out.writeStaticString(lease.coldStart ? "X-ModelDeck-Cold-Start: true\r\n" : "X-ModelDeck-Cold-Start: false\r\n")
            if let ms = lease.processStartMilliseconds { out.writeHeader("X-ModelDeck-Process-Start-Ms", decimal: ms) }
            if let ms = lease.modelLoadMilliseconds { out.writeHeader("X-ModelDeck-Model-Load-Ms", decimal: ms) }
        }
    }

    /// The forward failed at the HTTP level: the runtime says whether the instance's process ended.
    private func failed(_ invocation: Routed, lease: Lease, error: any Error, context: ChannelHandlerContext) {
        let runtime = shared.runtime
        context.eventLoop.makeFutureWithTask { () async -> String? in
            await runtime.release(lease)
            return await runtime.processEnded(for: lease)
        }.assumeIsolated().whenSuccess { [self] ended in
            record(invocation, status: 502, cold: lease.coldStart, inFlight: lease.inFlight)
            let message = ended.map { "\($0) during the request" }
                ?? "instance \(lease.instanceID) of \(invocation.versionID) did not answer: \(error)"
            respond(.badGateway, ["error": message, "endpoint": invocation.name, "version": invocation.versionID],
                    head: invocation.head, context: context) { out in
                out.writeHeader("X-ModelDeck-Version", invocation.versionID)
                out.writeHeader("X-ModelDeck-Instance", lease.instanceID)
            }
        }
    }

    private func record(_ invocation: Routed, status: Int, cold: Bool, inFlight: Int) {
        // Bench traffic is measured and priced by its run (`bench_runs`), never in the user figures.
        if invocation.bench { return }
        shared.recorder.record(Invocation(
            endpoint: invocation.name, version: invocation.versionID, at: invocation.at,
            latencyMicroseconds: UInt64(max(0, (NIODeadline.now() - invocation.arrival).nanoseconds / 1_000)),
            status: status, coldStart: cold, warmup: invocation.warmup, inFlight: inFlight,
            memoryMB: invocation.route.local.endpoint.memoryMB, rates: invocation.route.local.rates))
    }

    // MARK: - Answers

    /// A small JSON object answer (gateway errors, health).
    private func respond(_ status: HTTPResponseStatus, _ fields: [String: String], head: HTTPRequestHead, close: Bool = false,
                         context: ChannelHandlerContext, extra: (inout ByteBuffer) -> Void = { _ in }) {
        let body = context.channel.allocator.buffer(bytes: GatewayJSON.object(fields))
        write(Int(status.code), body: body, head: head, close: close, context: context) { out in
            extra(&out)
            out.writeStaticString("Content-Type: application/json\r\n")
        }
    }

    /// The answer to `head`, written as bytes: status line, the headers `headers` writes, `Content-Length`,
    /// `Connection` when it differs from the version's default, the body (none to a HEAD request).
    private func write(_ status: Int, body: ByteBuffer, head: HTTPRequestHead, close: Bool = false, context: ChannelHandlerContext,
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

/// The bytes of a small JSON object with sorted keys (gateway errors, health).
enum GatewayJSON {
    static func object(_ fields: [String: String]) -> Data {
        (try? JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys])) ?? Data("{}".utf8)
    }
}
