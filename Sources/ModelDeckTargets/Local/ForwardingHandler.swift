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
    static func of(method: HTTPMethod, uri: String) -> GatewayRoute {
        let path = uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        let parts = path.split(separator: "/", omittingEmptySubsequences: false)
        switch (method, parts.count) {
        case (.POST, 4) where parts[0].isEmpty && parts[1] == "endpoints" && parts[3] == "invoke" && !parts[2].isEmpty:
            let name = String(parts[2])
            return .invoke(endpoint: name.utf8.contains(UInt8(ascii: "%")) ? name.removingPercentEncoding ?? name : name)
        case (.GET, 2) where path == "/healthz": return .health
        case (.GET, 2) where path == "/readyz": return .ready
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

/// The gateway's connections: SwiftNIO's HTTP/1 server codec and `ForwardingHandler`, served by
/// HummingbirdCore's `Server` (binding, the cap on open connections, graceful shutdown that lets requests in
/// flight finish).
struct ForwardingChannel: ServerChildChannel {
    struct Value: ServerChildChannelValue {
        let channel: any Channel
    }

    let shared: ForwardingShared

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        channel.eventLoop.makeCompletedFuture {
            // Pipelining assistance: one request at a time per connection, and it closes the connection
            // when the server quiesces (at once if idle, else after the answer in flight).
            try channel.pipeline.syncOperations.configureHTTPServerPipeline(withPipeliningAssistance: true, withErrorHandling: true)
            try channel.pipeline.syncOperations.addHandler(IdleStateHandler(allTimeout: shared.idleTimeout))
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
final class ForwardingHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    static let warmupHeader = "X-ModelDeck-Warmup"
    static let versionHeader = "X-ModelDeck-Version"
    static let instanceHeader = "X-ModelDeck-Instance"
    static let coldStartHeader = "X-ModelDeck-Cold-Start"
    static let holdHeader = "X-ModelDeck-Warmup-Hold-Ms"
    static let clientHeader = "X-ModelDeck-Client"

    private let shared: ForwardingShared
    private var upstreams: UpstreamConnections?

    /// The request being read.
    private var head: HTTPRequestHead?
    private var route = GatewayRoute.notFound
    private var body: ByteBuffer?
    private var arrival = ContinuousClock.now
    /// Bytes taken from the gateway's body budget for this request.
    private var reserved = 0
    /// Admission refused the request: it is answered when its body has been read (and thrown away).
    private var refusal: GatewayAdmission.Refusal?
    /// The request was answered before its body was read (too large): the rest is thrown away and the
    /// connection closed.
    private var discarding = false
    /// From a request's head until its answer is written: an idle timeout does not cut a slow model short.
    private var inRequest = false

    init(shared: ForwardingShared) { self.shared = shared }

    func handlerAdded(context: ChannelHandlerContext) {
        upstreams = UpstreamConnections(eventLoop: context.eventLoop)
    }

    func channelInactive(context: ChannelHandlerContext) {
        upstreams?.closeAll()
        releaseBudget()
        context.fireChannelInactive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent {
            if !inRequest { context.close(promise: nil) }
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
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
            releaseBudget()
            let body = self.body ?? context.channel.allocator.buffer(capacity: 0)
            self.head = nil
            self.body = nil
            switch route {
            case .invoke(let name):
                if let refusal {
                    self.refusal = nil
                    respond(HTTPResponseStatus(statusCode: refusal.status), ["error": refusal.reason, "endpoint": name], head: head, context: context)
                } else {
                    invoke(name, head: head, body: body, context: context)
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
        arrival = .now
        inRequest = true
        body = nil
        refusal = nil
        route = GatewayRoute.of(method: head.method, uri: head.uri)
        guard case .invoke(let name) = route else { return }
        let headers = head.headers
        refusal = shared.admission.check(host: headers.first(name: "Host"), authorization: headers.first(name: "Authorization"),
                                         contentType: headers.first(name: "Content-Type"), clientHeader: headers.contains(name: Self.clientHeader),
                                         warmupSecret: headers.first(name: WarmupSecret.header.rawName), isInvoke: true)
        guard refusal == nil else { return }
        let declared = headers.first(name: "Content-Length").flatMap(Int.init)
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

    // MARK: - Invoke

    /// What one invocation needs once it is routed.
    private struct Routed {
        let name: String
        let local: LocalEndpoint
        let versionID: String
        let version: ModelVersion
        let warmup: Bool
        let bench: Bool
        let holdMilliseconds: Int
        let head: HTTPRequestHead
        let body: ByteBuffer
        let arrival: ContinuousClock.Instant
        let at: Date
    }

    private func invoke(_ name: String, head: HTTPRequestHead, body: ByteBuffer, context: ChannelHandlerContext) {
        let at = Date()
        guard let local = shared.catalog.endpoint(named: name) else {
            return respond(.notFound, ["error": "unknown endpoint '\(name)' on this gateway", "endpoint": name], head: head, context: context)
        }
        // A caller without the daemon's secret is user traffic, whatever it claims: it must not pin a version,
        // hold instances, or keep its requests out of the SLO gate's figures.
        let warmup = head.headers.first(name: Self.warmupHeader) == "1"
            && WarmupSecret.matches(head.headers.first(name: WarmupSecret.header.rawName), shared.warmupSecret)
        let token = warmup ? nil : head.headers.first(name: BenchPasses.header.rawName)
        let arrival = self.arrival
        let routed = { [self] (bench: Bool) in
            route(name, local: local, warmup: warmup, bench: bench, head: head, body: body, arrival: arrival, at: at, context: context)
        }
        if let known = shared.bench.known(token, endpoint: name) { return routed(known) }
        // A bench token not checked in the last second: the registry says (off the loop).
        let bench = shared.bench
        context.eventLoop.makeFutureWithTask { await bench.isValid(token, endpoint: name) }
            .assumeIsolated().whenSuccess(routed)
    }

    private func route(_ name: String, local: LocalEndpoint, warmup: Bool, bench: Bool, head: HTTPRequestHead, body: ByteBuffer,
                       arrival: ContinuousClock.Instant, at: Date, context: ChannelHandlerContext) {
        var random = SystemRandomNumberGenerator()
        // A keep-warm ping or a bench request may name its version; user traffic always follows the weights.
        let pinned = warmup || bench ? head.headers.first(name: Self.versionHeader).flatMap { local.weights[$0] != nil ? $0 : nil } : nil
        guard let versionID = pinned ?? WeightedRouter.pick(local.weights, using: &random), let version = local.versions[versionID] else {
            return respond(.serviceUnavailable, ["error": "endpoint '\(name)' has no version taking traffic; deploy one", "endpoint": name],
                           head: head, context: context)
        }
        let hold = warmup ? min(1_000, Int(head.headers.first(name: Self.holdHeader) ?? "") ?? 0) : 0
        let invocation = Routed(name: name, local: local, versionID: versionID, version: version, warmup: warmup, bench: bench,
                                    holdMilliseconds: hold, head: head, body: body, arrival: arrival, at: at)
        let runtime = shared.runtime
        let cold = bench && head.headers.first(name: BenchPasses.coldHeader.rawName) == "1"
        // The hot path: a free slot, taken under the slots' lock.
        if !cold, let lease = runtime.takeFree(endpoint: name, version: versionID) {
            return forward(invocation, lease: lease, context: context)
        }
        // The slow path: a cold start, the queue, or a bench run's cold request, through the runtime actor.
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
                record(invocation, status: status.code, cold: false, inFlight: 0)
                respond(status, ["error": failure.message, "endpoint": name, "version": versionID], head: head, context: context)
            }
        }
    }

    private func forward(_ invocation: Routed, lease: Lease, context: ChannelHandlerContext) {
        var headers = HTTPHeaders()
        headers.add(name: "Host", value: "127.0.0.1:\(lease.port)")
        if let type = invocation.head.headers.first(name: "Content-Type") { headers.add(name: "Content-Type", value: type) }
        headers.add(name: "Content-Length", value: "\(invocation.body.readableBytes)")
        if invocation.warmup { headers.add(name: Self.warmupHeader, value: "1") }
        let timeout = TimeAmount.seconds(Int64(invocation.version.timeoutSeconds ?? 60))
        guard let upstreams else { return }
        upstreams.send(port: lease.port, headers: headers, body: invocation.body, timeout: timeout) { [self] result in
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
        let status = answer.head.status
        record(invocation, status: status.code, cold: lease.coldStart, inFlight: lease.inFlight)
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: answer.head.headers.first(name: "Content-Type") ?? "application/octet-stream")
        headers.add(name: Self.versionHeader, value: invocation.versionID)
        headers.add(name: Self.instanceHeader, value: lease.instanceID)
        headers.add(name: Self.coldStartHeader, value: lease.coldStart ? "true" : "false")
        if let ms = lease.processStartMilliseconds { headers.add(name: BenchPasses.processStartHeader.rawName, value: "\(ms)") }
        if let ms = lease.modelLoadMilliseconds { headers.add(name: BenchPasses.modelLoadHeader.rawName, value: "\(ms)") }
        write(status, headers: headers, body: answer.body, head: invocation.head, close: false, context: context)
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
            var headers = HTTPHeaders()
            headers.add(name: Self.versionHeader, value: invocation.versionID)
            headers.add(name: Self.instanceHeader, value: lease.instanceID)
            respond(.badGateway, ["error": message, "endpoint": invocation.name, "version": invocation.versionID], extra: headers,
                    head: invocation.head, context: context)
        }
    }

    private func record(_ invocation: Routed, status: UInt, cold: Bool, inFlight: Int) {
        // Bench traffic is measured and priced by its run (`bench_runs`), never in the user figures.
        if invocation.bench { return }
        shared.recorder.record(Invocation(
            endpoint: invocation.name, version: invocation.versionID, at: invocation.at,
            latencyMicroseconds: (ContinuousClock.now - invocation.arrival).wholeMicroseconds,
            status: Int(status), coldStart: cold, warmup: invocation.warmup, inFlight: inFlight,
            memoryMB: invocation.local.endpoint.memoryMB, rates: invocation.local.rates))
    }

    // MARK: - Answers

    /// A small JSON object answer (gateway errors, health).
    private func respond(_ status: HTTPResponseStatus, _ fields: [String: String], extra: HTTPHeaders = [:],
                         head: HTTPRequestHead, close: Bool = false, context: ChannelHandlerContext) {
        var headers = extra
        headers.add(name: "Content-Type", value: "application/json")
        let body = context.channel.allocator.buffer(bytes: GatewayJSON.object(fields))
        write(status, headers: headers, body: body, head: head, close: close, context: context)
    }

    private func write(_ status: HTTPResponseStatus, headers: HTTPHeaders, body: ByteBuffer, head: HTTPRequestHead, close: Bool,
                       context: ChannelHandlerContext) {
        var headers = headers
        headers.add(name: "Content-Length", value: "\(body.readableBytes)")
        let keepAlive = head.isKeepAlive && !close
        if !keepAlive { headers.add(name: "Connection", value: "close") }
        let response = HTTPResponseHead(version: head.version, status: status, headers: headers)
        context.write(wrapOutboundOut(.head(response)), promise: nil)
        if body.readableBytes > 0 { context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil) }
        inRequest = false
        if keepAlive {
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        } else {
            context.writeAndFlush(wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { _ in context.close(promise: nil) }
        }
    }
}

/// The bytes of a small JSON object with sorted keys (gateway errors, health).
enum GatewayJSON {
    static func object(_ fields: [String: String]) -> Data {
        (try? JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys])) ?? Data("{}".utf8)
    }
}
