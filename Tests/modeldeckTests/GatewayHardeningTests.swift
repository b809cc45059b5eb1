import Foundation
import GRDB
import Testing

/// Issue #15, items 4 and 5, through `modeldeck serve`: what the gateway answers, and whom it believes.
@Suite(.serialized)
struct GatewayHardeningTests {
    struct Answer { var status: Int; var body: String }

    /// curl, so the test sends exactly the headers it names (and a Host it chooses).
    func curl(_ port: Int, headers: [String] = ["Content-Type: application/json"], body: String? = "{\"text\": \"great\"}",
              extra: [String] = [], path: String = "/endpoints/sentiment/invoke") throws -> Answer {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        var arguments = ["curl", "-s", "--max-time", "10", "-w", "\n%{http_code}", "-X", "POST"]
        for header in headers { arguments += ["-H", header] }
        if let body { arguments += ["--data-binary", body] }
        process.arguments = arguments + extra + ["http://127.0.0.1:\(port)\(path)"]
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        return Answer(status: Int(lines.last ?? "") ?? 0, body: lines.dropLast().joined(separator: "\n"))
    }

    func serve(_ scratch: Scratch, environment: [String: String] = [:], fileLimit: Int? = nil) throws -> BackgroundCommand {
        let applied = try CLI.run(["apply", "-f", "fixtures/decks/example.yaml", "--registry", scratch.registry])
        #expect(applied.status == 0, "\(applied.stderr)")
        return try BackgroundCommand("serve", registry: scratch.registry, environment: environment, fileLimit: fileLimit)
    }

    func counts(_ registry: String) throws -> (requests: Int, warmups: Int) {
        try registryQueue(registry).read { db in
            let row = try Row.fetchOne(db, sql: "SELECT COALESCE(SUM(requests), 0) AS r, COALESCE(SUM(warmups), 0) AS w FROM metric_buckets")
            return (row?["r"] ?? 0, row?["w"] ?? 0)
        }
    }

    // MARK: Item 5

    @Test func aForgedKeepWarmPingIsUserTraffic() throws {
        let scratch = Scratch()
        defer { scratch.cleanUp() }
        let gateway = try serve(scratch)
        defer { gateway.stop() }
        for _ in 0..<3 {
            let answer = try curl(gateway.port, headers: ["Content-Type: application/json", "X-ModelDeck-Warmup: 1",
                                                          "X-ModelDeck-Version: sentiment@v1", "X-ModelDeck-Warmup-Hold-Ms: 1000"])
            #expect(answer.status == 200, "\(answer.body)")
        }
        gateway.stop() // writes the last measurements
        let (requests, warmups) = try counts(scratch.registry)
        #expect(requests == 3)
        #expect(warmups == 0, "a caller without the daemon's secret was counted as a keep-warm ping")
    }

    // MARK: Item 4

    @Test func onlyLoopbackHostsAndNonFormPostsAreAnswered() throws {
        let scratch = Scratch()
        defer { scratch.cleanUp() }
        let gateway = try serve(scratch)
        defer { gateway.stop() }
        // DNS rebinding: a page on evil.example resolved to 127.0.0.1 still sends its own Host.
        let rebound = try curl(gateway.port, headers: ["Content-Type: application/json", "Host: evil.example:8765"])
        #expect(rebound.status == 421, "\(rebound.body)")
        #expect(rebound.body.contains("Host 'evil.example:8765' is not this gateway"))
        // Cross-site "simple" POSTs: a form or text/plain body, or no type at all.
        for type in ["Content-Type: text/plain", "Content-Type: application/x-www-form-urlencoded", "Content-Type: multipart/form-data; boundary=x", "Content-Type:"] {
            let simple = try curl(gateway.port, headers: [type])
            #expect(simple.status == 415, "\(type): \(simple.status) \(simple.body)")
        }
        #expect(try curl(gateway.port, headers: ["Content-Type: text/plain", "X-ModelDeck-Client: 1"]).status == 200)
        #expect(try curl(gateway.port, headers: ["Content-Type: application/json", "Host: localhost:1"]).status == 200)
        // A body declared larger than the limit is refused before any of it is read (curl sends none).
        let large = try curl(gateway.port, headers: ["Content-Type: application/json", "Content-Length: 100000000"], body: nil)
        #expect(large.status == 413, "\(large.status) \(large.body)")
    }

    @Test func offLoopbackTheGatewayNeedsAToken() throws {
        let scratch = Scratch()
        defer { scratch.cleanUp() }
        #expect(try CLI.run(["apply", "-f", "fixtures/decks/example.yaml", "--registry", scratch.registry]).status == 0)
        let refused = try CLI.run(["serve", "--registry", scratch.registry, "--port", "0", "--host", "0.0.0.0"],
                                  environment: ["MODELDECK_GATEWAY_TOKEN": ""])
        #expect(refused.status != 0)
        #expect(refused.stderr == "Error: the gateway would listen on 0.0.0.0, off loopback, without a token; set MODELDECK_GATEWAY_TOKEN or listen on 127.0.0.1\n")

        let gateway = try BackgroundCommand("serve", registry: scratch.registry, environment: ["MODELDECK_GATEWAY_TOKEN": "gw-token"],
                                            arguments: ["--host", "0.0.0.0"])
        defer { gateway.stop() }
        #expect(try curl(gateway.port).status == 401)
        #expect(try curl(gateway.port, headers: ["Content-Type: application/json", "Authorization: Bearer wrong"]).status == 401)
        #expect(try curl(gateway.port, headers: ["Content-Type: application/json", "Authorization: Bearer gw-token"]).status == 200)
    }

    @Test func idleConnectionsCannotExhaustTheGatewaysDescriptors() throws {
        // The gateway gets the usual 1,024 descriptors; this test needs more for its side of 2,000 connections.
        var limit = rlimit()
        getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        limit.rlim_cur = max(limit.rlim_cur, min(limit.rlim_max, 4_096))
        setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        let scratch = Scratch()
        defer { scratch.cleanUp() }
        let gateway = try serve(scratch, fileLimit: 1_024)
        defer { gateway.stop() }
        var sockets: [Int32] = []
        defer { sockets.forEach { close($0) } }
        // 2,000, paced so the gateway accepts as it goes: without a cap it took all 1,024 descriptors it may
        // have, and a cold start then had none for the model process.
        for index in 0..<2_000 {
            if index % 200 == 0 { usleep(200_000) }
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
            guard fd >= 0 else { break }
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = UInt16(gateway.port).bigEndian
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            _ = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            sockets.append(fd)
        }
        #expect(sockets.count == 2_000)
        usleep(3_000_000) // let the gateway accept what it will
        let open = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(gateway.process.processIdentifier)/fd"))?.count ?? 0
        #expect(open > 0 && open < 700, "the gateway holds \(open) descriptors with 2,000 idle connections")
        sockets.forEach { close($0) }
        sockets = []
        // With the idle connections gone, a cold start works: there are descriptors for the model process.
        var answer = Answer(status: 0, body: "")
        for _ in 0..<30 where answer.status != 200 {
            answer = try curl(gateway.port)
            if answer.status != 200 { usleep(500_000) }
        }
        #expect(answer.status == 200, "\(answer.body)")
    }

    @Test func anIdleConnectionIsClosed() throws {
        let scratch = Scratch()
        defer { scratch.cleanUp() }
        let gateway = try serve(scratch)
        defer { gateway.stop() }
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(gateway.port).bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        #expect(connected == 0)
        // Nothing sent; the gateway closes it after its idle timeout (15 s). Wait at most 40 s for EOF.
        var timeout = timeval(tv_sec: 40, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var byte: UInt8 = 0
        let read = recv(fd, &byte, 1, 0)
        #expect(read == 0, "the idle connection was not closed (recv returned \(read), errno \(errno))")
    }

    @Test func theExportAPIAnswersOnlyLoopbackHosts() throws {
        let scratch = Scratch()
        defer { scratch.cleanUp() }
        #expect(try CLI.run(["apply", "-f", "fixtures/decks/example.yaml", "--registry", scratch.registry]).status == 0)
        let daemon = try BackgroundCommand("daemon", registry: scratch.registry)
        defer { daemon.stop() }
        func get(_ host: String?) throws -> Int {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = ["curl", "-s", "--max-time", "10", "-o", "/dev/null", "-w", "%{http_code}"]
                + (host.map { ["-H", "Host: \($0)"] } ?? []) + ["http://127.0.0.1:\(daemon.apiPort)/api/v1/endpoints"]
            let out = Pipe()
            process.standardOutput = out
            try process.run()
            let code = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            return Int(code) ?? 0
        }
        #expect(try get(nil) == 200)
        #expect(try get("localhost:\(daemon.apiPort)") == 200)
        #expect(try get("attacker.example:\(daemon.apiPort)") == 421)
        #expect(try get("127.0.0.1.attacker.example:\(daemon.apiPort)") == 421)
    }
}
