import AsyncHTTPClient
import Foundation
import GRDB
import ModelDeckCore
import NIOCore
import Synchronization

/// The local target's driver. Its gateway routes by the registry's traffic table, so setting weights is
/// one registry transaction, and the gateway follows on its next request.
public struct LocalDriver: TargetDriver {
    public let target: Target
    private let registry: Registry
    private let gateway: GatewayAddress

    /// `gateway` learns its port once the gateway listens; pings go through it like user requests.
    public init(target: Target, registry: Registry, gateway: GatewayAddress = GatewayAddress()) {
        self.target = target
        self.registry = registry
        self.gateway = gateway
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

    public func setWeights(_ weights: [String: Int], endpoint: String) async throws {
        let split = try TrafficSplit(weights, endpoint: endpoint)
        try registry.write { db in
            try split.save(db, endpoint: endpoint)
            try db.execute(sql: "UPDATE traffic SET live_weight = weight WHERE endpoint = ?", arguments: [endpoint])
        }
    }

    public func liveWeights(endpoint: String) async throws -> [String: Int] {
        try registry.read { db in try TrafficSplit.desired(db, endpoint: endpoint)?.weights ?? [:] }
    }

    public func ping(endpoint: String, version: String, count: Int) async throws -> [PingResult] {
        guard let port = gateway.port else { throw ModelDeckError("the local gateway of target '\(target.name)' is not running") }
        return await withTaskGroup(of: PingResult.self) { group in
            for _ in 0..<count {
                group.addTask {
                    var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/endpoints/\(endpoint)/invoke")
                    request.method = .POST
                    request.headers.add(name: "X-ModelDeck-Warmup", value: "1")
                    request.headers.add(name: "X-ModelDeck-Warmup-Secret", value: gateway.warmupSecret)
                    request.headers.add(name: "X-ModelDeck-Version", value: version)
                    // Concurrent pings must overlap to land on `count` different instances.
                    if count > 1 { request.headers.add(name: "X-ModelDeck-Warmup-Hold-Ms", value: "200") }
                    let started = ContinuousClock.now
                    guard let response = try? await HTTPClient.shared.execute(request, timeout: .seconds(120)) else {
                        return PingResult(status: 0, coldStart: false, milliseconds: 0)
                    }
                    _ = try? await response.body.collect(upTo: 1 << 20)
                    let elapsed = ContinuousClock.now - started
                    return PingResult(status: Int(response.status.code),
                                      coldStart: response.headers.first(name: "X-ModelDeck-Cold-Start") == "true",
                                      milliseconds: elapsed.wholeMilliseconds)
                }
            }
            return await group.reduce(into: []) { $0.append($1) }
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

/// Where a local gateway listens, known once it has started, and the secret that makes its pings pings.
public final class GatewayAddress: Sendable {
    private let value = Mutex<Int?>(nil)
    /// Proves a keep-warm ping comes from this daemon (`X-ModelDeck-Warmup-Secret`); made at random for each
    /// daemon, kept in memory only, and handed to the gateway it runs.
    public let warmupSecret: String

    public init() { warmupSecret = WarmupSecret.make() }

    public var port: Int? { value.withLock { $0 } }

    public func set(port: Int) { value.withLock { $0 = port } }
}
