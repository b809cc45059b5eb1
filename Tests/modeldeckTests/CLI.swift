import Foundation
import GRDB
import ModelDeckCore

/// Runs the built `modeldeck` binary as a child process, as a user would from a shell.
enum CLI {
    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    /// The binary next to the test bundle (both live in the build folder), or `$MODELDECK_BIN`.
    static let binary: String = {
        if let explicit = ProcessInfo.processInfo.environment["MODELDECK_BIN"] { return explicit }
        return URL(fileURLWithPath: ProgramFile.path()).deletingLastPathComponent().appendingPathComponent("modeldeck").path
    }()

    /// The repository root, for fixtures.
    static let repository: String = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().path

    static func run(_ arguments: [String], environment: [String: String] = [:], in directory: String? = nil,
                    binary: String = binary) throws -> Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        env["USER"] = env["USER"] ?? "tester"
        for (key, value) in environment { env[key] = value }
        process.environment = env
        process.currentDirectoryURL = URL(fileURLWithPath: directory ?? repository)
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        try process.run()
        // Read both pipes to the end before waiting, so a chatty child never blocks on a full pipe.
        let stdoutData = out.fileHandleForReading.readDataToEndOfFile()
        let stderrData = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Result(status: process.terminationStatus, stdout: String(decoding: stdoutData, as: UTF8.self),
                      stderr: String(decoding: stderrData, as: UTF8.self))
    }
}

struct Scratch {
    let path: String

    init() {
        path = NSTemporaryDirectory() + "modeldeck-cli-" + UUID().uuidString
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    @discardableResult
    func file(_ name: String, _ contents: String) -> String {
        let full = path + "/" + name
        _ = FileManager.default.createFile(atPath: full, contents: Data(contents.utf8))
        return full
    }

    var registry: String { path + "/registry.sqlite" }

    func cleanUp() { try? FileManager.default.removeItem(atPath: path) }
}

/// The registry opened directly, for the tests' own SQL: with the busy timeout every ModelDeck process uses,
/// so a write that meets the daemon's transaction waits for it rather than failing with "database is locked".
func registryQueue(_ path: String) throws -> DatabaseQueue {
    var configuration = Configuration()
    configuration.busyMode = .timeout(10)
    return try DatabaseQueue(path: path, configuration: configuration)
}

/// Every row of every table as text (nil when there is no registry file): equal dumps, unchanged registry.
func dump(registryAt path: String) throws -> [String]? {
    guard FileManager.default.fileExists(atPath: path) else { return nil }
    var configuration = Configuration()
    configuration.readonly = true
    let queue = try DatabaseQueue(path: path, configuration: configuration)
    return try queue.read { db in
        var lines: [String] = []
        for table in try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name") {
            for row in try Row.fetchAll(db, sql: "SELECT * FROM \(table.quotedDatabaseIdentifier)") {
                lines.append("\(table): \(row)")
            }
        }
        return lines
    }
}

/// A deck on remote artifacts (digest and size given), so it needs no files.
func remoteDeck(endpoints: [String] = ["sentiment"], replacements: [(String, String)] = []) -> String {
    var text = """
    apiVersion: modeldeck/v1
    targets:
      - name: local
        kind: local
      - name: lambda-eu
        kind: aws-lambda
        region: eu-central-1
        role_arn: arn:aws:iam::123456789012:role/modeldeck-lambda
    models:
      - name: sentiment
        versions:
          - version: v1
            artifact: s3://models/sentiment-v1.zip
            digest: sha256:\(String(repeating: "a", count: 64))
            size: 20MB
            command: [python3, server.py]
            memory: 256MB
          - version: v2
            artifact: s3://models/sentiment-v2.zip
            digest: sha256:\(String(repeating: "b", count: 64))
            size: 21MB
            command: [python3, server.py]
            memory: 256MB
    endpoints:

    """
    for name in endpoints {
        text += """
          - name: \(name)
            model: sentiment
            target: local
            memory: 512MB
            traffic: {v1: 100}

        """
    }
    for (old, new) in replacements {
        precondition(text.contains(old), "deck has no '\(old)'")
        text = text.replacingOccurrences(of: old, with: new)
    }
    return text
}
