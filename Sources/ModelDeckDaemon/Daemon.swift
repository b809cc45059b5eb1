import Foundation
import Logging
import ModelDeckCore
import ModelDeckTargets
import ServiceLifecycle

/// `modeldeck daemon`: the control loop. Runs the local target's gateway, drives deployments and
/// rollbacks, keeps endpoints warm, and writes a heartbeat — until SIGTERM or SIGINT, when it drains and
/// stops every instance.
public struct Daemon: Sendable {
    public struct Settings: Sendable {
        /// How often the reconciler ticks while it has work in flight (a deployment, a background step, a target
        /// checked at every tick); an idle one ticks when the registry changes or something falls due.
        public var tickInterval: Duration = .milliseconds(250)
        public var gate = RollbackGate()
        /// How often a cloud target is asked what it routes (drift).
        public var remoteDriftCheckInterval: Duration = .seconds(60)
        /// Metric buckets older than this are dropped.
        public var retentionDays = MetricRollup.defaultRetentionDays
        /// The metric tiers (widths and how long each is kept); nil for the standard ones over `retentionDays`.
        public var metricTiers: MetricTiers?
        /// Prometheus `/metrics` and the JSON API; nil for none.
        public var api: ExportAPI? = ExportAPI()
        public var listen: LocalTargetHost.Listen?
        /// Pauses between tries of a failing notification (`--notify-retry-max` sets the cap).
        public var notificationRetry = RetrySchedule(first: 1, cap: 300)

        public init() {}
    }

    private let registry: Registry
    private let settings: Settings
    private let logger: Logger

    public init(registry: Registry, settings: Settings = Settings(), logger: Logger) {
        self.registry = registry
        self.settings = settings
        self.logger = logger
    }

    /// `onListening` gets the gateway's port, `onAPIListening` the export API's.
    public func run(stopper: GatewayStopper? = nil, onListening: @escaping @Sendable (Int) async -> Void = { _ in },
                    onAPIListening: @escaping @Sendable (Int) async -> Void = { _ in }) async throws {
        try settings.api?.validate()
        let lock = try DaemonLock(registry: registry)
        let startedAt = Date()
        try Heartbeat.beat(registry, startedAt: startedAt)
        try registry.record(AuditEvent(at: startedAt, actor: "daemon", kind: "daemon.started", message: "daemon started (pid \(getpid()))"))
        let targets = try registry.targets()
        let listen = settings.listen ?? LocalTargetHost.firstLocal(in: targets)
        let gatewayAddress = GatewayAddress()
        let drivers = try Drivers(registry: registry, gateway: listen.map { (target: $0.target, address: gatewayAddress) }, logger: logger)
        let reconciler = Reconciler(registry: registry, drivers: drivers, gate: settings.gate, logger: logger, clock: ContinuousClock(),
                                    remoteDriftCheckInterval: settings.remoteDriftCheckInterval)
        // One watcher for the loops that wait on registry changes: one inotify descriptor and one connection.
        let watcher = try RegistryWatcher(path: registry.path, notified: true)
        let loops = ControlLoops(registry: registry, watcher: watcher, reconciler: reconciler, startedAt: startedAt,
                                 tickInterval: settings.tickInterval,
                                 tiers: settings.metricTiers ?? .standard(retentionDays: settings.retentionDays), logger: logger)

        var keepWarm = KeepWarmLoop(registry: registry, drivers: drivers, logger: logger, clock: ContinuousClock())
        keepWarm.watcher = watcher
        let collector = MetricsCollector(registry: registry, drivers: drivers, logger: logger)
        let probes = ProbeLoop(registry: registry, drivers: drivers, logger: logger)
        var notifications = NotificationLoop(registry: registry, sender: NotificationTransport(), logger: logger, clock: ContinuousClock(),
                                             retry: settings.notificationRetry)
        notifications.watcher = watcher
        let provisioned = ProvisionedConcurrencyLoop(registry: registry, drivers: drivers, logger: logger)
        var services: [any Service] = [loops, keepWarm, collector, probes, notifications, provisioned]
        if let api = settings.api {
            services.append(api.application(registry: registry, logger: logger, onListening: onAPIListening))
        }
        if let listen {
            try await LocalTargetHost.serve(registry: registry, listen: listen, logger: logger, alongside: services,
                                            stopper: stopper, address: gatewayAddress) { port in
                gatewayAddress.set(port: port)
                await onListening(port)
            }
        } else {
            let group = ServiceGroup(configuration: .init(services: services, gracefulShutdownSignals: [.sigterm, .sigint],
                                                          logger: logger))
            await stopper?.attach(group)
            try await group.run()
        }
        try? Heartbeat.stopped(registry)
        try? registry.record(AuditEvent(at: Date(), actor: "daemon", kind: "daemon.stopped", message: "daemon stopped (pid \(getpid()))"))
        withExtendedLifetime(lock) {}
    }
}

extension Daemon {
    /// Runs a daemon inside this process with the registry's local target on a free loopback port and no
    /// export API (the demo, benchmarks). Returns once the gateway listens; `stopper` stops it, `task` ends then.
    public static func startInProcess(registry: Registry, logger: Logger) async throws
        -> (port: Int, stopper: GatewayStopper, task: Task<Void, any Error>) {
        var settings = Settings()
        let targets = try registry.targets()
        guard let local = LocalTargetHost.firstLocal(in: targets) else { throw ModelDeckError("the deck has no local target") }
        settings.listen = LocalTargetHost.Listen(target: local.target, host: "127.0.0.1", port: 0)
        settings.api = nil
        let stopper = GatewayStopper()
        let (ports, portReady) = AsyncStream<Int>.makeStream()
        let task = Task { [settings] in
            // However it ends, the stream ends with it: a daemon that fails to start is said, not waited for.
            defer { portReady.finish() }
            try await Daemon(registry: registry, settings: settings, logger: logger).run(stopper: stopper) { portReady.yield($0) }
        }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next() else {
            if case .failure(let error) = await task.result { throw error }
            throw ModelDeckError("the daemon stopped before its gateway listened")
        }
        return (port, stopper, task)
    }
}
