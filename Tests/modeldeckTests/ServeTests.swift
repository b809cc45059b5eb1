import Foundation
import GRDB
import Testing

/// `modeldeck serve` as a real process: it answers, and it never leaves a model process behind.
@Suite(.serialized)
struct ServeTests {
    /// Starts `modeldeck serve` on the example deck and a free port.
    func startServe(_ scratch: Scratch) throws -> (Process, Int) {
        let setUp = try CLI.run(["apply", "-f", "fixtures/decks/example.yaml", "--registry", scratch.registry])
        #expect(setUp.status == 0, "\(setUp.stderr)")
        let serve = try BackgroundCommand("serve", registry: scratch.registry)
        #expect(serve.port > 0)
        return (serve.process, serve.port)
    }

    /// curl keeps this test free of Foundation networking quirks; it ships with every image here.
    func curl(port: Int) throws -> (status: Int, coldStart: String?) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["curl", "-s", "-o", "/dev/null", "-D", "-", "-X", "POST", "-H", "Content-Type: application/json",
                             "-d", "{\"text\": \"great\"}", "http://127.0.0.1:\(port)/endpoints/sentiment/invoke"]
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        let headers = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        let status = headers.split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0
        let cold = headers.split(separator: "\r\n").first { $0.lowercased().hasPrefix("x-modeldeck-cold-start:") }
            .map { String($0.split(separator: ":")[1]).trimmingCharacters(in: .whitespaces) }
        return (status, cold)
    }

    func instancePIDs(_ registry: String) throws -> [Int32] {
        let queue = try registryQueue(registry)
        return try queue.read { db in try Int32.fetchAll(db, sql: "SELECT pid FROM instances WHERE pid IS NOT NULL") }
    }

    func waitFor(_ seconds: Double, _ condition: () throws -> Bool) rethrows -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if try condition() { return true }
            usleep(50_000)
        }
        return try condition()
    }

    @Test func serveAnswersAndSIGTERMStopsEveryInstance() throws {
        let scratch = Scratch()
        defer { scratch.cleanUp() }
        let (serve, port) = try startServe(scratch)
        defer { if serve.isRunning { serve.terminate() } }
        #expect(try curl(port: port) == (200, "true"))
        #expect(try curl(port: port) == (200, "false"))
        #expect(try waitFor(5) { try !instancePIDs(scratch.registry).isEmpty })
        let pids = try instancePIDs(scratch.registry)
        kill(serve.processIdentifier, SIGTERM)
        serve.waitUntilExit()
        #expect(serve.terminationStatus == 0)
        #expect(pids.allSatisfy { kill($0, 0) != 0 }, "model processes \(pids) outlived the gateway")
        #expect(try instancePIDs(scratch.registry).isEmpty)
    }

    @Test func sigkillOfTheGatewayLeavesNoOrphans() throws {
        let scratch = Scratch()
        defer { scratch.cleanUp() }
        let (serve, port) = try startServe(scratch)
        #expect(try curl(port: port).status == 200)
        #expect(try waitFor(5) { try !instancePIDs(scratch.registry).isEmpty })
        let pids = try instancePIDs(scratch.registry)
        kill(serve.processIdentifier, SIGKILL)
        serve.waitUntilExit()
        // The kernel delivers the parent-death signal: nothing to clean up by hand.
        #expect(waitFor(5) { pids.allSatisfy { kill($0, 0) != 0 } }, "model processes \(pids) outlived a SIGKILLed gateway")
    }
}
