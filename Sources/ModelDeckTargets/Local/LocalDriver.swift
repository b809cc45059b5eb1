import Foundation
import GRDB
import ModelDeckCore

/// The local target's driver. Its gateway routes by the registry's traffic table, so setting weights is
/// one registry transaction, and the gateway follows on its next request.
public struct LocalDriver: TargetDriver {
    public let target: Target
    private let registry: Registry

    public init(target: Target, registry: Registry) {
        self.target = target
        self.registry = registry
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

    private static func findProgram(_ program: String, in workdir: String?) -> Bool {
        if program.contains("/") {
            let path = program.hasPrefix("/") ? program : (workdir ?? FileManager.default.currentDirectoryPath) + "/" + program
            return FileManager.default.isExecutableFile(atPath: path)
        }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        return path.split(separator: ":").contains { FileManager.default.isExecutableFile(atPath: "\($0)/\(program)") }
    }
}
