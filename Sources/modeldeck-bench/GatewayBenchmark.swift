import ArgumentParser
import AsyncHTTPClient
import Foundation
import ModelDeckCore
import ModelDeckTargets
import NIOCore

/// `modeldeck-bench gateway`: the local gateway against nginx `proxy_pass`, on the same fast model server,
/// machine and wrk settings, in one run.
///
/// The model server is nginx answering a constant on `/invoke` (one worker). Three ways to reach it:
/// - direct: wrk to a backend nginx;
/// - nginx: wrk to an nginx `proxy_pass` in front of that backend (keep-alive upstream, `worker_processes auto`,
///   one worker per core, as the gateway has one event loop per core);
/// - gateway: wrk to `modeldeck serve` (the real binary, as a separate process, with its own registry) whose
///   endpoint's version runs the same nginx configuration as its model process: the gateway starts it with
///   `PORT` set (the local target's contract), as it starts any model.
/// `--before PATH` adds an earlier `modeldeck` binary's gateway, driven the same way.
///
/// Each is measured with `wrk -t1 -cN -dS --latency` at 16 connections and at one. Printed: throughput, p50,
/// p99, the gateway's throughput over nginx's, and the p50 it adds over direct at one connection; the CPU each
/// proxy spent per request in its loaded run (its own processes, user + system: nginx's master and workers,
/// the gateway's process without its model server), which other work on the machine moves far less than
/// throughput. Then every
/// request is checked to be in the registry: wrk counts the answers it read; requests still in flight when
/// wrk stops are answered (and recorded) too, so the registry holds between wrk's count and that plus one
/// per connection per run.
///
/// Ingestion: invocations recorded per second (registry count over the runs' time), the gateway's peak
/// resident memory, and the recorder alone at full speed on this machine (`InvocationRecorder` fed from two
/// threads while it flushes to a registry twice a second): its rate, its largest pending batch, and that the
/// registry's count equals what was fed.
///
/// wrk and nginx come from Debian's packages (`apt-get install -y wrk nginx`), installed when missing.
struct GatewayBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "gateway",
                                                    abstract: "The local gateway against nginx proxy_pass and direct, with wrk; every request counted.")

    @Option(help: "Seconds per wrk run.")
    var duration = 8

    @Option(help: "Connections of the loaded runs (one-connection runs follow).")
    var connections = 16

    @Option(help: "The modeldeck binary (default: beside this one).")
    var cli: String?

    @Option(help: "An earlier modeldeck binary whose gateway is measured the same way, in the same run.")
    var before: String?

    @Option(help: "Invocations fed to the recorder alone.")
    var recorderInvocations = 2_000_000

    func validate() throws {
        guard (1...600).contains(duration) else { throw ValidationError("--duration \(duration) must be 1 to 600 seconds") }
        guard (1...1_000).contains(connections) else { throw ValidationError("--connections \(connections) must be 1 to 1000") }
    }

    func run() async throws {
        try LoadTools.ensure(["wrk": "wrk", "nginx": "nginx"])
        let binary = cli ?? URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("modeldeck").path
        var gateways = [(name: "gateway", binary: binary)]
        if let before { gateways.insert((name: "before", binary: URL(fileURLWithPath: before).path), at: 0) }
        for gateway in gateways where !FileManager.default.isExecutableFile(atPath: gateway.binary) {
            throw ValidationError("no modeldeck binary at \(gateway.binary); build it (swift build -c release --static-swift-stdlib, which builds modeldeck-full beside it)")
        }
        let folder = NSTemporaryDirectory() + "modeldeck-bench-gateway-\(getpid())"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        var servers: [Server] = []
        defer { for server in servers.reversed() { server.stop() } }

        let template = folder + "/backend.conf"
        try NginxConfig.backend.write(toFile: template, atomically: true, encoding: .utf8)
        let backendPort = try freeLoopbackPort(), proxyPort = try freeLoopbackPort()
        servers.append(try Server.nginx(NginxConfig.backend, port: backendPort, folder: folder + "/direct"))
        let proxy = try Server.nginx(NginxConfig.proxy(to: backendPort), port: proxyPort, folder: folder + "/proxy")
        servers.append(proxy)
        var targets = [Target(name: "direct", url: "http://127.0.0.1:\(backendPort)/invoke"),
                       Target(name: "nginx", url: "http://127.0.0.1:\(proxyPort)/invoke", cpu: { proxy.cpuSeconds(withChildren: true) })]
        var started: [(name: String, server: Server, registry: String, warmups: Int)] = []
        for gateway in gateways {
            let port = try freeLoopbackPort(), registry = folder + "/\(gateway.name)/registry.sqlite"
            let server = try Server.gateway(gateway.binary, port: port, template: template, folder: folder + "/\(gateway.name)")
            servers.append(server)
            let warmups = try await Self.firstAnswer(at: "http://127.0.0.1:\(port)/endpoints/constant/invoke", server: server)
            started.append((gateway.name, server, registry, warmups))
            // The gateway's own process: its children are the model server, measured by neither proxy.
            targets.append(Target(name: gateway.name, url: "http://127.0.0.1:\(port)/endpoints/constant/invoke",
                                  cpu: { server.cpuSeconds(withChildren: false) }))
        }
        for target in targets.prefix(2) { _ = try await Self.firstAnswer(at: target.url, server: nil) }

        let script = folder + "/post.lua"
        try Self.wrkScript.write(toFile: script, atomically: true, encoding: .utf8)
        var results: [String: [Int: WrkResult]] = [:]
        /// CPU seconds of each proxy during its loaded run.
        var cpu: [String: Double] = [:]
        for count in [connections, 1] {
            for target in targets {
                let cpuBefore = target.cpu?() ?? 0
                results[target.name, default: [:]][count] = try WrkResult.run(url: target.url, connections: count, seconds: duration, script: script)
                if count == connections, let measure = target.cpu { cpu[target.name] = measure() - cpuBefore }
            }
        }

        print("wrk -t1 -d\(duration)s, POST with a 30-byte JSON body; model server: nginx answering a constant (1 worker)")
        // The comparison: both proxies may use every core.
        let cores = ProcessInfo.processInfo.activeProcessorCount
        print("nginx proxy_pass: worker_processes auto (\(cores) workers here); gateway: \(cores) event loops (one per core); "
              + "wrk, the model server and the proxy share the same \(cores) cores")
        func row(_ cells: [String]) -> String {
            cells.enumerated().map { index, cell in
                let width = index == 0 ? 9 : 11
                let pad = String(repeating: " ", count: max(0, width - cell.count))
                return index == 0 ? cell + pad : pad + cell
            }.joined(separator: " ")
        }
        print(row(["", "rps c\(connections)", "p50", "p99", "rps c1", "p50", "p99"]))
        for target in targets {
            let loaded = results[target.name]![connections]!, single = results[target.name]![1]!
            print(row([target.name, Self.whole(loaded.requestsPerSecond), Self.micros(loaded.p50), Self.micros(loaded.p99),
                       Self.whole(single.requestsPerSecond), Self.micros(single.p50), Self.micros(single.p99)]))
        }
        let nginx = results["nginx"]!, direct = results["direct"]!
        for (name, _, _, _) in started {
            let result = results[name]!
            let ratio = result[connections]!.requestsPerSecond / nginx[connections]!.requestsPerSecond
            print("\(name): throughput \(String(format: "%.2f", ratio))× nginx proxy_pass at \(connections) connections (goal ≥ 0.9×); "
                  + "adds \(Self.whole(result[1]!.p50 - direct[1]!.p50)) µs p50 over direct at one connection "
                  + "(nginx adds \(Self.whole(nginx[1]!.p50 - direct[1]!.p50)) µs; goal ≤ 100 µs)")
        }

        // How much CPU each proxy spent per request (user + system, from /proc): the throughput ratio moves with
        // whatever else runs on the machine; this much less.
        let perRequest = cpu.reduce(into: [String: Double]()) { result, entry in
            result[entry.key] = entry.value * 1_000_000 / Double(max(1, results[entry.key]![connections]!.requests))
        }
        if let nginxCPU = perRequest["nginx"] {
            let gatewaysCPU = started.map { started in
                "\(started.name) \(Self.whole(perRequest[started.name] ?? .nan)) µs (\(String(format: "%.2f", (perRequest[started.name] ?? .nan) / nginxCPU))×)"
            }
            print("CPU per request at \(connections) connections (user + system, the proxy's own processes): nginx \(Self.whole(nginxCPU)) µs, "
                  + gatewaysCPU.joined(separator: ", "))
        }

        // Every request counted: stop each gateway (its last flush), then read its registry.
        for (name, server, registry, warmups) in started {
            let peak = server.peakResidentBytes()
            server.stop()
            let opened = try Registry(path: registry, create: false)
            let recorded = try opened.buckets(endpoint: "constant", startingFrom: 0, to: Int64.max).reduce(Int64(0)) { $0 + $1.requests }
            let runs = results[name]!.values
            let answered = runs.reduce(warmups) { $0 + $1.requests }
            let errors = runs.reduce(0) { $0 + $1.errors }
            let slack = recorded - Int64(answered)
            let inFlight = connections + 1
            let verdict = slack >= 0 && slack <= Int64(inFlight) ? "every request counted" : "COUNT MISMATCH"
            print("\(name): registry counts \(recorded) requests; wrk read \(answered - warmups) answers (+\(warmups) warm-up), "
                  + "\(errors) of them errors or socket errors; \(slack) were in flight when wrk stopped (at most \(inFlight)): \(verdict)")
            let loaded = results[name]![connections]!
            print("\(name): ingestion \(Self.whole(Double(loaded.requests) / Double(duration))) invocations recorded per second "
                  + "at full rate (\(connections) connections); gateway peak RSS \(Self.whole(Double(peak) / 1_048_576)) MB")
        }
        try RecorderIngestion.run(invocations: recorderInvocations, registryPath: folder + "/recorder.sqlite")
    }

    static let wrkScript = """
        wrk.method = "POST"
        wrk.body = '{"text": "fast and reliable!!"}'
        wrk.headers["Content-Type"] = "application/json"

        """

    static func whole(_ value: Double) -> String { value.isFinite ? String(Int(value.rounded())) : "?" }

    static func micros(_ value: Double) -> String {
        value >= 1_000 ? String(format: "%.2f ms", value / 1_000) : String(format: "%.0f µs", value)
    }

    /// Sends POSTs until one is answered 200 (the gateway's first one is a cold start); returns how many
    /// reached the server, each of which a gateway records.
    static func firstAnswer(at url: String, server: Server?) async throws -> Int {
        let deadline = ContinuousClock.now + .seconds(60)
        var sent = 0
        while ContinuousClock.now < deadline {
            if let server, !server.isRunning { throw ValidationError("\(server.name) exited; see \(server.log)") }
            var request = HTTPClientRequest(url: url)
            request.method = .POST
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: "{\"text\": \"fast and reliable!!\"}"))
            if let response = try? await HTTPClient.shared.execute(request, timeout: .seconds(30)) {
                sent += 1
                _ = try? await response.body.collect(upTo: 1 << 20)
                if response.status.code == 200 { return sent }
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw ValidationError("\(url) did not answer 200 within 60 s\(server.map { "; see \($0.log)" } ?? "")")
    }
}

private struct Target {
    var name: String
    var url: String
    /// CPU seconds the proxy behind `url` has used so far; nil for the model server itself.
    var cpu: (() -> Double)? = nil
}

/// The recorder alone: two threads record as fast as they can while a third flushes to a registry twice a second.
enum RecorderIngestion {
    static func run(invocations: Int, registryPath: String) throws {
        let registry = try Registry(path: registryPath)
        let recorder = InvocationRecorder()
        let perThread = invocations / 2
        let done = DispatchGroup()
        let watch = Stopwatch()
        for thread in 0..<2 {
            DispatchQueue.global().async(group: done) {
                let at = Date()
                for index in 0..<perThread {
                    recorder.record(Invocation(endpoint: "constant", version: "constant@v\(thread + 1)", at: at,
                                               latencyMicroseconds: UInt64(100 + index % 2_000), status: 200, coldStart: false,
                                               warmup: false, inFlight: 16, memoryMB: 128))
                }
            }
        }
        var peakPending = 0, flushes = 0
        while done.wait(timeout: .now() + .milliseconds(500)) == .timedOut {
            peakPending = max(peakPending, recorder.pendingBuckets)
            try recorder.flush(to: registry, instances: [], endpoints: ["constant"])
            flushes += 1
        }
        let fed = watch.milliseconds
        peakPending = max(peakPending, recorder.pendingBuckets)
        try recorder.flush(to: registry, instances: [], endpoints: ["constant"])
        let recorded = try registry.buckets(endpoint: "constant", startingFrom: 0, to: Int64.max).reduce(Int64(0)) { $0 + $1.requests }
        let total = perThread * 2
        print("recorder alone, 2 threads: \(String(format: "%.2f", Double(total) / fed / 1_000)) M invocations recorded per second "
              + "(\(total) fed in \(GatewayBenchmark.whole(fed)) ms, \(flushes) flushes); largest pending batch \(peakPending) buckets "
              + "(one per endpoint, version and 10 s: bounded, not one per request); registry counts \(recorded): "
              + (recorded == Int64(total) ? "no loss" : "LOST \(Int64(total) - recorded)"))
    }
}
