import AsyncHTTPClient
import Foundation
import GRDB
import NIOCore

/// A long-running `modeldeck` command (`serve`, `daemon`) on a scratch registry, listening on a free port
/// that it prints at the end of its first line.
final class BackgroundCommand: @unchecked Sendable {
    // @unchecked: `process` and `port` are set once in init and only read afterwards.
    let process: Process
    let port: Int

    /// The export API's port, for `daemon`.
    let apiPort: Int

    /// `environment` is added to this process's own, or used alone when `replacing`.
    /// `fileLimit` runs it under `ulimit -n` (through sh, which then execs it: same pid); `arguments` are added.
    init(_ command: String, registry: String, environment: [String: String] = [:], replacing: Bool = false,
         fileLimit: Int? = nil, arguments: [String] = [], stderrPath: String? = nil) throws {
        process = Process()
        process.executableURL = URL(fileURLWithPath: CLI.binary)
        process.arguments = [command, "--registry", registry, "--port", "0"] + (command == "daemon" ? ["--api-port", "0"] : []) + arguments
        if let fileLimit {
            process.arguments = ["-c", "ulimit -n \(fileLimit) && exec \"$0\" \"$@\"", CLI.binary] + process.arguments!
            process.executableURL = URL(fileURLWithPath: "/bin/sh")
        }
        if replacing {
            process.environment = environment
        } else if !environment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        }
        process.currentDirectoryURL = URL(fileURLWithPath: CLI.repository)
        let out = Pipe()
        process.standardOutput = out
        if let stderrPath, FileManager.default.createFile(atPath: stderrPath, contents: nil),
           let file = FileHandle(forWritingAtPath: stderrPath) {
            process.standardError = file
        } else {
            process.standardError = FileHandle.nullDevice
        }
        try process.run()
        // "daemon running; local gateway on port N" and "read-only API on http://127.0.0.1:N (…)" (daemon),
        // or "gateway … listening on http://127.0.0.1:N — …" (serve), in any order.
        let expected = command == "daemon" ? 2 : 1
        var output = Data()
        var lines: [String] = []
        while lines.count < expected {
            let chunk = out.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            output.append(chunk)
            lines = String(decoding: output, as: UTF8.self).split(separator: "\n").map(String.init)
        }
        func portIn(_ line: String?) -> Int {
            line?.split(whereSeparator: { $0 == " " || $0 == ":" }).compactMap { Int($0) }.last ?? 0
        }
        port = portIn(lines.first { $0.contains("gateway") })
        apiPort = portIn(lines.first { $0.contains("API") })
    }

    func kill9() {
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    func stop() {
        if process.isRunning {
            kill(process.processIdentifier, SIGTERM)
            process.waitUntilExit()
        }
    }
}

/// Sends user traffic to an endpoint at about `perSecond` requests a second until cancelled.
func generateTraffic(port: @escaping @Sendable () -> Int, endpoint: String = "sentiment", perSecond: Int = 25) -> Task<Void, Never> {
    Task {
        await withTaskGroup(of: Void.self) { group in
            while !Task.isCancelled {
                let target = port()
                group.addTask {
                    var request = HTTPClientRequest(url: "http://127.0.0.1:\(target)/endpoints/\(endpoint)/invoke")
                    request.method = .POST
                    request.headers.add(name: "Content-Type", value: "application/json")
                    request.body = .bytes(ByteBuffer(string: "{\"text\": \"great\"}"))
                    if let response = try? await HTTPClient.shared.execute(request, timeout: .seconds(10)) {
                        _ = try? await response.body.collect(upTo: 1 << 20)
                    }
                }
                try? await Task.sleep(for: .milliseconds(1_000 / perSecond))
            }
        }
    }
}

func deploymentState(_ registry: String, id: Int64) throws -> (state: String, weight: Int, alarm: String?)? {
    let queue = try registryQueue(registry)
    return try queue.read { db in
        try Row.fetchOne(db, sql: "SELECT state, current_weight, alarm FROM deployments WHERE id = ?", arguments: [id])
            .map { ($0["state"], $0["current_weight"], $0["alarm"]) }
    }
}

func events(_ registry: String, kinds: String = "%") throws -> [(kind: String, message: String)] {
    let queue = try registryQueue(registry)
    return try queue.read { db in
        try Row.fetchAll(db, sql: "SELECT kind, message FROM events WHERE kind LIKE ? ORDER BY id", arguments: [kinds])
            .map { ($0["kind"], $0["message"]) }
    }
}

func desiredWeights(_ registry: String, endpoint: String = "sentiment") throws -> [String: Int] {
    let queue = try registryQueue(registry)
    return try queue.read { db in
        Dictionary(uniqueKeysWithValues: try Row.fetchAll(db, sql: "SELECT version_id, weight FROM traffic WHERE endpoint = ? AND weight > 0",
                                                            arguments: [endpoint]).map { ($0["version_id"] as String, $0["weight"] as Int) })
    }
}

/// Polls every 100 ms for up to `seconds`.
func waitUntil(_ seconds: Double, _ condition: () throws -> Bool) async rethrows -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if try condition() { return true }
        try? await Task.sleep(for: .milliseconds(100))
    }
    return try condition()
}
