import AsyncHTTPClient
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdCore
import Logging
import ModelDeckCore
import NIOCore
import ServiceLifecycle
import Synchronization

/// The local target's gateway: `POST /endpoints/{name}/invoke` routed by the registry's live weights to an
/// instance of the chosen version, which it starts on demand.
///
/// Answers carry `X-ModelDeck-Version` (the version id, `model@version`), `X-ModelDeck-Instance` and
/// `X-ModelDeck-Cold-Start: true|false`. Every invocation is measured into the registry's metric buckets.
public struct LocalGateway: Sendable {
    public var host: String
    public var port: Int
    public var settings: LocalRuntimeSettings
    /// How often measurements and the instance table are written to the registry.
    public var flushInterval: Duration = .milliseconds(500)
    /// Largest request body forwarded to a model (413 above).
    public var maxRequestBytes = 16 << 20
    /// Only a request carrying this in `X-ModelDeck-Warmup-Secret` is a keep-warm ping (see `WarmupSecret`).
    /// By default a random one nobody else knows: a gateway without a daemon takes no pings.
    public var warmupSecret = WarmupSecret.make()
    /// Required as `Authorization: Bearer …` when set; the gateway refuses to listen off loopback without one.
    public var token: String?
    /// Open connections beyond this wait in the listen queue instead of taking descriptors the model
    /// processes need (each cold start needs a few); about 1,100 idle connections used to exhaust them.
    public var maxConnections = 512
    /// A connection with nothing read or written for this long is closed.
    public var idleTimeout: Duration = .seconds(15)
    /// Request bodies being read at once, all requests together: the bound that holds before the
    /// per-endpoint queue does (each body may be up to `maxRequestBytes`).
    public var maxBufferedBytes = 64 << 20

    private let registry: Registry
    private let targets: Set<String>
    private let logger: Logger

    public init(registry: Registry, targets: Set<String>, host: String, port: Int, settings: LocalRuntimeSettings,
                logger: Logger = Logger(label: "modeldeck.gateway")) {
        self.registry = registry
        self.targets = targets
        self.host = host
        self.port = port
        self.settings = settings
        self.logger = logger
    }

    /// Serves until cancelled or until SIGTERM/SIGINT, then stops every instance and writes the last
    /// measurements. `onListening` receives the bound port (useful with port 0).
    /// `services` run in the same service group (the daemon's control loops), so one signal stops all.
    public func run(alongside services: [any Service] = [], stopper: GatewayStopper? = nil,
                    onListening: @escaping @Sendable (Int) async -> Void = { _ in }) async throws {
        let admission = GatewayAdmission(listensOnLoopback: GatewayAdmission.isLoopback(host), token: token, warmupSecret: warmupSecret)
        if !admission.listensOnLoopback, (token ?? "").isEmpty {
            throw ModelDeckError("the gateway would listen on \(host), off loopback, without a token; set MODELDECK_GATEWAY_TOKEN or listen on 127.0.0.1")
        }
        let registry = self.registry
        // Before the first flush drops their rows: kill what a gateway killed with -9 left running.
        let stale = StaleInstances.stop((try? registry.recordedInstances(onTargets: targets)) ?? [])
        if !stale.isEmpty { logger.notice("stopped processes a previous gateway left behind", metadata: ["pids": "\(stale)"]) }
        let http = HTTPClient(eventLoopGroupProvider: .singleton)
        let recorder = InvocationRecorder()
        // The dashboard's endpoint detail lists these under recent events; `modeldeck get events` too.
        let runtime = LocalRuntime(settings: settings, http: http, logger: logger, onCrashLoop: { endpoint, message in
            let event = AuditEvent(at: Date(), actor: "gateway", endpoint: endpoint, kind: "instance.crash-looping", message: message)
            _ = try? await registry.perform { try $0.record(event) }
        }) { endpoint, message in
            let event = AuditEvent(at: Date(), actor: "gateway", endpoint: endpoint, kind: "instance.exited", message: message)
            _ = try? await registry.perform { try $0.record(event) }
        }
        let catalog = try EndpointCatalog(registryPath: registry.path, targets: targets)
        let handler = InvocationHandler(catalog: catalog, runtime: runtime, recorder: recorder, http: http,
                                        maxRequestBytes: maxRequestBytes, warmupSecret: warmupSecret, admission: admission,
                                        buffered: BodyBudget(limit: maxBufferedBytes), bench: BenchPasses(registry: registry),
                                        logger: logger)

        let router = Router()
        router.post("/endpoints/:name/invoke") { request, context in
            await handler.invoke(request, endpointName: context.parameters.get("name") ?? "")
        }
        router.get("/healthz") { _, _ in jsonResponse(.ok, ["status": "ok"]) }
        router.get("/readyz") { _, _ in
            do {
                let served = try catalog.endpoints().count
                return jsonResponse(.ok, ["status": "ready", "endpoints": "\(served)"])
            } catch {
                return jsonResponse(.serviceUnavailable, ["status": "not ready", "error": "registry unreadable: \(error)"])
            }
        }
        let app = Application(router: router,
                              server: .http1(configuration: .init(idleTimeout: TimeAmount(idleTimeout))),
                              configuration: .init(address: .hostname(host, port: port), serverName: "modeldeck",
                                                   availableConnectionsDelegate: MaximumAvailableConnections(maxConnections)),
                              onServerRunning: { channel in await onListening(channel.localAddress?.port ?? 0) },
                              logger: logger)

        let housekeeping = Housekeeping(catalog: catalog, runtime: runtime, recorder: recorder, registry: registry,
                                        maintenanceInterval: settings.maintenanceInterval, flushInterval: flushInterval,
                                        logger: logger)
        let group = ServiceGroup(configuration: .init(services: [app, housekeeping] + services,
                                                      gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        await stopper?.attach(group)
        var failure: Error?
        do { try await group.run() } catch { failure = error }
        // However the gateway stops, no instance outlives it and no measurement is lost.
        await runtime.shutdown()
        let served = (try? catalog.endpoints().keys).map(Set.init) ?? []
        _ = try? await registry.perform { try recorder.flush(to: $0, instances: [], endpoints: served) }
        try? await http.shutdown()
        try? FileManager.default.removeItem(atPath: settings.runDirectory)
        if let failure, !(failure is CancellationError) { throw failure }
    }
}

/// Stops a running gateway the way SIGTERM does: drain, stop every instance, write the last measurements.
public final class GatewayStopper: Sendable {
    private let state = Mutex<(group: ServiceGroup?, stopRequested: Bool)>((nil, false))

    public init() {}

    public func stop() async {
        let group = state.withLock { state -> ServiceGroup? in
            state.stopRequested = true
            return state.group
        }
        await group?.triggerGracefulShutdown()
    }

    public func attach(_ group: ServiceGroup) async {
        let stopNow = state.withLock { state -> Bool in
            state.group = group
            return state.stopRequested
        }
        if stopNow { await group.triggerGracefulShutdown() }
    }
}

/// Stops idle instances, reaps dead ones, and writes measurements, on their own intervals.
private struct Housekeeping: Service {
    let catalog: EndpointCatalog
    let runtime: LocalRuntime
    let recorder: InvocationRecorder
    let registry: Registry
    let maintenanceInterval: Duration
    let flushInterval: Duration
    let logger: Logger

    func run() async throws {
        var lastFlush = ContinuousClock.now
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do {
                let endpoints = try catalog.endpoints()
                await runtime.maintain(endpoints)
                if ContinuousClock.now - lastFlush >= flushInterval {
                    lastFlush = .now
                    let instances = await runtime.snapshot(), served = Set(endpoints.keys)
                    try await registry.perform { try recorder.flush(to: $0, instances: instances, endpoints: served) }
                }
            } catch {
                logger.error("housekeeping failed", metadata: ["error": "\(error)"])
            }
            try? await Task.sleep(for: maintenanceInterval)
        }
    }
}

/// One invocation, from routing to the answer.
private struct InvocationHandler: Sendable {
    let catalog: EndpointCatalog
    let runtime: LocalRuntime
    let recorder: InvocationRecorder
    let http: HTTPClient
    let maxRequestBytes: Int
    let warmupSecret: String
    let admission: GatewayAdmission
    let buffered: BodyBudget
    let bench: BenchPasses
    let logger: Logger

    static let warmupHeader = HTTPField.Name("X-ModelDeck-Warmup")!
    static let versionHeader = HTTPField.Name("X-ModelDeck-Version")!
    static let instanceHeader = HTTPField.Name("X-ModelDeck-Instance")!
    static let coldStartHeader = HTTPField.Name("X-ModelDeck-Cold-Start")!
    static let holdHeader = HTTPField.Name("X-ModelDeck-Warmup-Hold-Ms")!
    static let clientHeader = HTTPField.Name("X-ModelDeck-Client")!

    func invoke(_ request: Request, endpointName: String) async -> Response {
        let arrival = ContinuousClock.now
        let at = Date()
        if let refusal = admission.check(host: request.head.authority, authorization: request.headers[.authorization],
                                         contentType: request.headers[.contentType], clientHeader: request.headers[Self.clientHeader] != nil,
                                         warmupSecret: request.headers[WarmupSecret.header], isInvoke: true) {
            return jsonResponse(HTTPResponse.Status(code: refusal.status), ["error": refusal.reason, "endpoint": endpointName])
        }
        // Refuse a body declared too large before reading any of it.
        if let declared = request.headers[.contentLength].flatMap(Int.init), declared > maxRequestBytes {
            return jsonResponse(.contentTooLarge, ["error": "request body is over \(Format.bytes(Int64(maxRequestBytes)))", "endpoint": endpointName])
        }
        let local: LocalEndpoint
        do {
            guard let found = try catalog.endpoint(named: endpointName) else {
                return jsonResponse(.notFound, ["error": "unknown endpoint '\(endpointName)' on this gateway", "endpoint": endpointName])
            }
            local = found
        } catch {
            return jsonResponse(.serviceUnavailable, ["error": "registry unreadable: \(error)", "endpoint": endpointName])
        }
        // A caller without the daemon's secret is user traffic, whatever it claims: it must not pin a version,
        // hold instances, or keep its requests out of the SLO gate's figures.
        let warmup = request.headers[Self.warmupHeader] == "1"
            && WarmupSecret.matches(request.headers[WarmupSecret.header], warmupSecret)
        let benchToken = warmup ? nil : request.headers[BenchPasses.header]
        let bench = await self.bench.isValid(benchToken, endpoint: endpointName)
        var random = SystemRandomNumberGenerator()
        // A keep-warm ping or a bench request may name its version; user traffic always follows the weights.
        let pinned = warmup || bench ? request.headers[Self.versionHeader].flatMap { local.weights[$0] != nil ? $0 : nil } : nil
        guard let versionID = pinned ?? WeightedRouter.pick(local.weights, using: &random), let version = local.versions[versionID] else {
            return jsonResponse(.serviceUnavailable, ["error": "endpoint '\(endpointName)' has no version taking traffic; deploy one", "endpoint": endpointName])
        }
        let holdMilliseconds = warmup ? min(1_000, Int(request.headers[Self.holdHeader] ?? "") ?? 0) : 0
        let body: ByteBuffer
        let reserved = request.headers[.contentLength].flatMap(Int.init) ?? maxRequestBytes
        guard buffered.reserve(reserved) else {
            return jsonResponse(.serviceUnavailable, ["error": "the gateway is reading \(Format.bytes(Int64(buffered.limit))) of request bodies already; try again shortly", "endpoint": endpointName])
        }
        do {
            defer { buffered.release(reserved) }
            body = try await request.body.collect(upTo: maxRequestBytes)
        } catch {
            return jsonResponse(.contentTooLarge, ["error": "request body is over \(Format.bytes(Int64(maxRequestBytes)))", "endpoint": endpointName])
        }

        func finish(_ status: HTTPResponse.Status, cold: Bool, inFlight: Int) async {
            // Bench traffic is measured and priced by its run (`bench_runs`), never in the user figures.
            if bench { return }
            recorder.record(Invocation(endpoint: endpointName, version: versionID, at: at,
                                             latencyMicroseconds: (ContinuousClock.now - arrival).wholeMicroseconds,
                                             status: status.code, coldStart: cold, warmup: warmup, inFlight: inFlight,
                                             memoryMB: local.endpoint.memoryMB, rates: local.rates))
        }

        if bench, request.headers[BenchPasses.coldHeader] == "1" {
            await runtime.stopIdle(endpoint: endpointName, version: versionID)
        }
        let lease: Lease
        do {
            lease = try await runtime.acquire(local, version: version)
        } catch let failure as RuntimeFailure {
            let status: HTTPResponse.Status = if case .startFailed = failure { .badGateway } else { .serviceUnavailable }
            await finish(status, cold: false, inFlight: 0)
            return jsonResponse(status, ["error": failure.message, "endpoint": endpointName, "version": versionID])
        } catch {
            await finish(.badGateway, cold: false, inFlight: 0)
            return jsonResponse(.badGateway, ["error": "\(error)", "endpoint": endpointName, "version": versionID])
        }

        var forward = HTTPClientRequest(url: "http://127.0.0.1:\(lease.port)/invoke")
        forward.method = .POST
        if let contentType = request.headers[.contentType] { forward.headers.add(name: "Content-Type", value: contentType) }
        if warmup { forward.headers.add(name: "X-ModelDeck-Warmup", value: "1") }
        forward.body = .bytes(body)
        let timeout = TimeAmount.seconds(version.timeoutSeconds ?? 60)
        do {
            let answer = try await http.execute(forward, timeout: timeout)
            let answerBody = try await answer.body.collect(upTo: 64 << 20)
            if holdMilliseconds > 0 { try? await Task.sleep(for: .milliseconds(holdMilliseconds)) }
            await runtime.release(lease)
            let status = HTTPResponse.Status(code: Int(answer.status.code))
            await finish(status, cold: lease.coldStart, inFlight: lease.inFlight)
            var headers = HTTPFields()
            headers[.contentType] = answer.headers.first(name: "Content-Type") ?? "application/octet-stream"
            headers[Self.versionHeader] = versionID
            headers[Self.instanceHeader] = lease.instanceID
            headers[Self.coldStartHeader] = lease.coldStart ? "true" : "false"
            if let ms = lease.processStartMilliseconds { headers[BenchPasses.processStartHeader] = "\(ms)" }
            if let ms = lease.modelLoadMilliseconds { headers[BenchPasses.modelLoadHeader] = "\(ms)" }
            return Response(status: status, headers: headers, body: .init(byteBuffer: answerBody))
        } catch {
            await runtime.release(lease)
            let ended = await runtime.processEnded(for: lease)
            await finish(.badGateway, cold: lease.coldStart, inFlight: lease.inFlight)
            let message = ended.map { "\($0) during the request" } ?? "instance \(lease.instanceID) of \(versionID) did not answer: \(error)"
            var response = jsonResponse(.badGateway, ["error": message, "endpoint": endpointName, "version": versionID])
            response.headers[Self.versionHeader] = versionID
            response.headers[Self.instanceHeader] = lease.instanceID
            return response
        }
    }
}

/// A small JSON object answer (gateway errors, health).
func jsonResponse(_ status: HTTPResponse.Status, _ fields: [String: String]) -> Response {
    let data = (try? JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys])) ?? Data("{}".utf8)
    var headers = HTTPFields()
    headers[.contentType] = "application/json"
    return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
}

/// Bytes of request bodies being read, all requests together, against a limit.
final class BodyBudget: Sendable {
    let limit: Int
    private let used = Mutex(0)

    init(limit: Int) { self.limit = limit }

    /// Takes `bytes` from the budget; false (and nothing taken) when they do not fit.
    func reserve(_ bytes: Int) -> Bool {
        used.withLock { used in
            guard used + bytes <= limit else { return false }
            used += bytes
            return true
        }
    }

    func release(_ bytes: Int) { used.withLock { $0 -= bytes } }
}
