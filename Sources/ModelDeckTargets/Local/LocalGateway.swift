import AsyncHTTPClient
import Foundation
import HummingbirdCore
import Logging
import ModelDeckCore
import NIOCore
import NIOPosix
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
    /// How often measurements and the instance table are written to the registry, at most (only when
    /// something was recorded or an instance changed).
    public var flushInterval: Duration = .milliseconds(500)
    /// Largest request body forwarded to a model (413 above).
    public var maxRequestBytes = 16 << 20
    /// Only a request carrying this in `X-ModelDeck-Warmup-Secret` is a keep-warm ping (see `WarmupSecret`).
    /// By default a random one nobody else knows: a gateway without a daemon takes no pings.
    public var warmupSecret = WarmupSecret.make()
    /// The daemon's handle on this gateway: given the catalog once it is loaded, so that the daemon's driver
    /// has it reload as soon as new weights are recorded.
    public var address: GatewayAddress?
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
        // Only for the runtime's health checks of starting instances: requests are forwarded by `ForwardingHandler`.
        let http = HTTPClient(eventLoopGroupProvider: .singleton)
        // Wakes housekeeping when an invocation is recorded after a flush, an instance starts, or the catalog reloads.
        let wake = WakeSignal(label: "modeldeck.gateway.housekeeping")
        let recorder = InvocationRecorder(wake: wake)
        // The dashboard's endpoint detail lists these under recent events; `modeldeck get events` too.
        let runtime = LocalRuntime(settings: settings, http: http, logger: logger, wake: wake, onCrashLoop: { endpoint, message in
            let event = AuditEvent(at: Date(), actor: "gateway", endpoint: endpoint, kind: "instance.crash-looping", message: message)
            _ = try? await registry.perform { try $0.record(event) }
        }) { endpoint, message in
            let event = AuditEvent(at: Date(), actor: "gateway", endpoint: endpoint, kind: "instance.exited", message: message)
            _ = try? await registry.perform { try $0.record(event) }
        }
        let catalog = try EndpointCatalog(registryPath: registry.path, targets: targets, wake: wake)
        address?.attach(catalog)
        let shared = ForwardingShared(catalog: catalog, runtime: runtime, recorder: recorder, admission: admission,
                                      warmupSecret: warmupSecret, maxRequestBytes: maxRequestBytes,
                                      buffered: BodyBudget(limit: maxBufferedBytes), bench: BenchPasses(registry: registry),
                                      idleTimeout: TimeAmount(idleTimeout), logger: logger)
        let server = Server(childChannelSetup: ForwardingChannel(shared: shared),
                            configuration: .init(address: .hostname(host, port: port), serverName: "modeldeck",
                                                 availableConnectionsDelegate: MaximumAvailableConnections(maxConnections)),
                            onServerRunning: { channel in await onListening(channel.localAddress?.port ?? 0) },
                            eventLoopGroup: MultiThreadedEventLoopGroup.singleton, logger: logger)

        let housekeeping = GatewayHousekeeping(catalog: catalog, runtime: runtime, recorder: recorder, registry: registry, wake: wake,
                                               flushInterval: flushInterval, logger: logger)
        let group = ServiceGroup(configuration: .init(services: [server, housekeeping] + services,
                                                      gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        await stopper?.attach(group)
        var failure: Error?
        do { try await group.run() } catch { failure = error }
        // However the gateway stops, no instance outlives it and no measurement is lost.
        await runtime.shutdown()
        let served = Set(catalog.endpoints().keys)
        _ = try? await registry.perform { try recorder.flush(to: $0, instances: [], endpoints: served) }
        try? await http.shutdown()
        try? FileManager.default.removeItem(atPath: settings.runDirectory)
        if let failure, !(failure is CancellationError) { throw failure }
    }
}

extension LocalGateway {
    /// See `LocalTargetHost.runTasksOnEventLoops`. Blocking work stays off the cooperative pool (the registry's
    /// own queue, the catalog's queue, artifact hashing on a dispatch queue), which is what makes this safe: a
    /// blocked task would now also hold up the event loop it runs on.
    @discardableResult
    public static func runTasksOnEventLoops() -> Bool {
        NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()
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
