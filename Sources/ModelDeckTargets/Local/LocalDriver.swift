import AsyncHTTPClient
import Foundation
import ModelDeckCore
import NIOCore
import Synchronization

/// The local target's driver. Its gateway routes by the registry's traffic table, which the daemon writes
/// before it sets weights here: setting them only has the gateway read the table again at once.
public struct LocalDriver: TargetDriver {
    /// What the gateway routes for an endpoint now: the registry's weights, read by the daemon.
    public typealias Routes = @Sendable (_ endpoint: String) async throws -> [String: Int]

    public let target: Target
    private let gateway: GatewayAddress
    private let routes: Routes

    /// `gateway` learns its port once the gateway listens; pings go through it like user requests.
    public init(target: Target, gateway: GatewayAddress = GatewayAddress(), routes: @escaping Routes) {
        self.target = target
        self.gateway = gateway
        self.routes = routes
    }

    /// Checks what a cold start will need: the command's program, its folder and the artifact.
    public func provision(_ version: ModelVersion, on endpoint: Endpoint) async throws {
        try FitCheck.require(version: version, endpoint: endpoint, target: target)
        guard let program = version.command?.first else { throw ModelDeckError("\(version.id) has no command") }
        if let workdir = version.workdir, !FileManager.default.fileExists(atPath: workdir) {
            throw ModelDeckError("\(version.id): folder \(workdir) does not exist")
        }
        if let artifact = version.artifact, !artifact.contains("://"), !FileManager.default.fileExists(atPath: artifact) {
            throw ModelDeckError("\(version.id): artifact \(artifact) does not exist")
        }
        guard Self.findProgram(program, in: version.workdir) else {
            throw ModelDeckError("\(version.id): program '\(program)' is not on PATH")
        }
    }

    /// The daemon has recorded the weights in the registry (`routesByRegistry`); the gateway this daemon runs
    /// reads them now rather than once its watcher has seen the commit, a millisecond or two later.
    public func setWeights(_ weights: [String: Int], on endpoint: Endpoint, versions: [String: ModelVersion]) async throws {
        _ = try TrafficSplit(weights, endpoint: endpoint.name)
        gateway.reloadCatalog()
    }

    public func liveWeights(of endpoint: Endpoint, versions: [String: ModelVersion]) async throws -> [String: Int] {
        try await routes(endpoint.name)
    }

    /// Pings through the gateway like user requests, marked as warmups: the gateway records them itself.
    public func ping(_ version: ModelVersion, of endpoint: Endpoint, count: Int) async throws -> [PingResult] {
        guard let port = gateway.port else { throw ModelDeckError("the local gateway of target '\(target.name)' is not running") }
        let (name, id, secret) = (endpoint.name, version.id, gateway.warmupSecret)
        return try await sendConcurrently(count) {
            var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/endpoints/\(name)/invoke")
            request.method = .POST
            request.headers.add(name: "X-ModelDeck-Warmup", value: "1")
            // Only the daemon's own pings, proven by its secret, are warmups (anyone else's count as traffic).
            request.headers.add(name: "X-ModelDeck-Warmup-Secret", value: secret)
            request.headers.add(name: "X-ModelDeck-Version", value: id)
            // Concurrent pings must overlap to land on `count` different instances.
            if count > 1 { request.headers.add(name: "X-ModelDeck-Warmup-Hold-Ms", value: "200") }
            let started = ContinuousClock.now
            guard let response = try? await HTTPClient.shared.execute(request, timeout: .seconds(120)) else {
                return PingResult(status: 0, coldStart: false, milliseconds: 0, recordedByTarget: true)
            }
            _ = try? await response.body.collect(upTo: 1 << 20)
            return PingResult(status: Int(response.status.code),
                              coldStart: response.headers.first(name: "X-ModelDeck-Cold-Start") == "true",
                              milliseconds: (ContinuousClock.now - started).wholeMilliseconds, recordedByTarget: true)
        }
    }

    private static func findProgram(_ program: String, in workdir: String?) -> Bool {
        if program.contains("/") {
            let path = program.hasPrefix("/") ? program : (workdir ?? FileManager.default.currentDirectoryPath) + "/" + program
            return FileManager.default.isExecutableFile(atPath: path)
        }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        return path.split(separator: ":").contains { FileManager.default.isExecutableFile(atPath: "\($0)/\(program)") }
    }
}

/// Where a local gateway listens, known once it has started, the secret that makes its pings pings, and its
/// catalog of served endpoints, which the daemon has reload when it records new weights.
public final class GatewayAddress: Sendable {
    private let value = Mutex<Int?>(nil)
    private let catalog = Mutex<EndpointCatalog?>(nil)
    /// Proves a keep-warm ping comes from this daemon (`X-ModelDeck-Warmup-Secret`); made at random for each
    /// daemon, kept in memory only, and handed to the gateway it runs.
    public let warmupSecret: String

    public init() { warmupSecret = WarmupSecret.make() }

    public var port: Int? { value.withLock { $0 } }

    public func set(port: Int) { value.withLock { $0 = port } }

    /// The catalog of the gateway at this address, once it runs (`LocalGateway.run`).
    func attach(_ catalog: EndpointCatalog) { self.catalog.withLock { $0 = catalog } }

    /// Has the gateway's catalog read the registry now, without waiting for the reload; nothing when this
    /// process runs no gateway at this address.
    func reloadCatalog() { catalog.withLock { $0 }?.reloadSoon() }
}
