import Foundation
import Logging
import ModelDeckCore
import ModelDeckTargets
import ServiceLifecycle

/// Runs the gateway of one local target from the registry: the embedded default runtime.
public enum LocalTargetHost {
    /// Where a local target's gateway listens: the deck's `host`/`port`, overridden on the command line;
    /// loopback and 8765 by default.
    public struct Listen: Equatable, Sendable {
        public var target: String
        public var host: String
        public var port: Int

        public init(target: String, host: String, port: Int) {
            self.target = target
            self.host = host
            self.port = port
        }
    }

    public static let defaultPort = 8765

    /// Runs Swift concurrency's tasks on the gateway's event loops (SwiftNIO's
    /// `NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor`): a request's
    /// handler, the runtime actor and AsyncHTTPClient's connection to the model then run on the thread that
    /// read the request, instead of handing the request between the event loop and the concurrency pool's
    /// threads at every step (thread switches were the largest cost per request). Call it once, first thing
    /// in a process that serves the gateway, before any task starts; false when it could not be installed.
    @discardableResult
    public static func runTasksOnEventLoops() -> Bool { LocalGateway.runTasksOnEventLoops() }

    /// Chooses the local target to serve: the one named, else the only one.
    public static func choose(from targets: [Target], named: String?, host: String?, port: Int?) throws -> Listen {
        let local = targets.filter { $0.descriptor.servedByGateway }.sorted { $0.name < $1.name }
        let target: Target
        if let named {
            guard let found = targets.first(where: { $0.name == named }) else {
                throw ModelDeckError("unknown target '\(named)'\(local.isEmpty ? "" : " (local targets: \(local.map(\.name).joined(separator: ", ")))")")
            }
            guard found.descriptor.servedByGateway else {
                throw ModelDeckError("target '\(named)' is \(found.kind.rawValue); only local targets run a gateway on this machine")
            }
            target = found
        } else {
            guard let only = local.first else {
                throw ModelDeckError("the registry has no local target; declare one in a deck (kind: local) and apply it")
            }
            guard local.count == 1 else {
                throw ModelDeckError("the registry has \(local.count) local targets (\(local.map(\.name).joined(separator: ", "))); choose one with --target")
            }
            target = only
        }
        let listenPort = port ?? target.config["port"].flatMap(Int.init) ?? defaultPort
        guard (0...65_535).contains(listenPort) else { throw ModelDeckError("port \(listenPort) is outside 0–65535") }
        return Listen(target: target.name, host: host ?? target.config["host"] ?? "127.0.0.1", port: listenPort)
    }

    /// The first local target by name, where its deck says it listens; nil when there is none.
    public static func firstLocal(in targets: [Target]) -> Listen? {
        guard let target = targets.filter({ $0.descriptor.servedByGateway }).min(by: { $0.name < $1.name }) else { return nil }
        return try? choose(from: targets, named: target.name, host: nil, port: nil)
    }

    /// Serves until SIGTERM or SIGINT; then every instance is stopped.
    public static func serve(registry: Registry, listen: Listen, logger: Logger, alongside services: [any Service] = [],
                             stopper: GatewayStopper? = nil, address: GatewayAddress? = nil,
                             onListening: @escaping @Sendable (Int) async -> Void = { _ in }) async throws {
        let runDirectory = URL(fileURLWithPath: registry.path).deletingLastPathComponent().path
            + "/run/gateway-\(getpid())"
        var gateway = LocalGateway(registry: registry, targets: [listen.target], host: listen.host, port: listen.port,
                                   settings: LocalRuntimeSettings(runDirectory: runDirectory), logger: logger)
        if let address {
            // The daemon's drivers ping with its secret and have the catalog reload when they route.
            gateway.warmupSecret = address.warmupSecret
            gateway.address = address
        }
        // Read from the environment only, never stored (as MODELDECK_API_TOKEN for the export API).
        gateway.token = ProcessInfo.processInfo.environment["MODELDECK_GATEWAY_TOKEN"].flatMap { $0.isEmpty ? nil : $0 }
        try await gateway.run(alongside: services, stopper: stopper, onListening: onListening)
    }
}
