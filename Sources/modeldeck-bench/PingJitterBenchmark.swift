import ArgumentParser
import Foundation
import ModelDeckCore
import ModelDeckTargets

/// `modeldeck-bench ping-jitter`: the real `modeldeck daemon` binary, as a child process, with its local
/// target and N endpoints on `fixed` keep-warm. Each endpoint's instance is a tiny Perl HTTP server (the
/// Python fixture model is too heavy to run a thousand times on two cores); pings go through the real
/// gateway to it. Lateness of a ping = when the daemon sent it (`keep_warm_state.last_ping_at`) − when it
/// was due (`last_ping_due_at`), both written by the daemon. Baseline in the same run: how late this
/// process's own timer fires meanwhile. Then the daemon's CPU with keep-warm off, at 1 and at N endpoints.
///
/// `--kind http` declares each endpoint on its own `http` target instead, all pointing at one shared Perl
/// server (probes once an hour): the daemon's keep-warm scheduling at 10,000 endpoints without 10,000 model
/// processes, which two cores and 24 GB cannot hold.
struct PingJitterBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ping-jitter",
                                                    abstract: "How late the daemon sends keep-warm pings at 1,000 endpoints, and its idle CPU.")

    @Option(help: "Endpoints.")
    var endpoints = 1_000

    @Option(help: "Seconds between two pings of an endpoint (fixed keep-warm).")
    var every = 60

    @Option(help: "Seconds of pinging measured (0: only the idle daemon).")
    var duration = 120

    @Option(help: "Seconds the idle daemon is measured, at each size.")
    var idle = 20

    @Flag(help: "All endpoints due at the same moment (the worst case); by default their last pings are spread over the interval, as in a daemon that has run a while.")
    var burst = false

    @Option(help: "The modeldeck binary (default: beside this one).")
    var cli: String?

    @Option(help: "local: one Perl model process per endpoint behind the gateway; http: one http target per endpoint, all on one shared Perl server.")
    var kind: Kind = .local

    @Flag(help: "Also the idle daemon at N deployed endpoints: on the local target, each with a succeeded deployment and its traffic weights, keep-warm off.")
    var deployed = false

    enum Kind: String, ExpressibleByArgument { case local, http }

    func run() async throws {
        let binary = cli ?? URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("modeldeck").path
        guard FileManager.default.isExecutableFile(atPath: binary), FileManager.default.isExecutableFile(atPath: binary + "-full") else {
            throw ValidationError("no modeldeck and modeldeck-full binaries at \(binary); build them (swift build -c release --static-swift-stdlib, which builds modeldeck-full beside it) or pass --cli PATH")
        }
        let folder = NSTemporaryDirectory() + "modeldeck-bench-jitter-\(getpid())"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let server = folder + "/echo.pl"
        try Self.echoServer.write(toFile: server, atomically: true, encoding: .utf8)
        let shared = kind == .http ? try SharedServer(script: server) : nil
        defer { shared?.stop() }
        let backend: Backend = shared.map { .http(port: $0.port) } ?? .local(server: server)

        // Pinging first: the machine is quiet then.
        if duration > 0 {
            let (startUp, steady, baseline, early, busyCPU) = try await ping(binary: binary, folder: folder, backend: backend)
            let mode = burst ? "all due at once" : "spread over the interval"
            print("ping lateness: \(endpoints) \(kind) endpoints, fixed every \(every)s (\(mode)), \(duration)s measured, \(startUp.count + steady.count) pings (\(early) due before the daemon was up, left out)")
            print("                                      p50 ms    p99 ms    max ms")
            let start = Int(Self.startUpSeconds)
            for (label, lateness) in [("daemon: sent − due, first \(start) s", startUp), ("daemon: sent − due, after \(start) s", steady)] where !lateness.isEmpty {
                print(String(format: "%@ %7.1f   %7.1f   %7.1f   (%5d pings; p99 %.1f× the timer's; goal 2×)",
                             label.padding(toLength: 35, withPad: " ", startingAt: 0), percentile(lateness, 50), percentile(lateness, 99),
                             lateness.last ?? .nan, lateness.count, percentile(lateness, 99) / percentile(baseline, 99)))
            }
            print(String(format: "baseline: this process's timer       %7.1f   %7.1f   %7.1f",
                         percentile(baseline, 50), percentile(baseline, 99), baseline.last ?? .nan))
            print(String(format: "daemon CPU while pinging: %.1f%% of one core", busyCPU / Double(duration) * 100))
        }

        // Idle: keep-warm off, no traffic, at one endpoint and at N (and N deployed on the local target).
        var sizes: [(label: String, count: Int, backend: Backend, deployed: Bool)] = [("1 endpoint", 1, backend, false),
                                                                                      ("\(endpoints) \(kind) endpoints", endpoints, backend, false)]
        if deployed { sizes.append(("\(endpoints) deployed local endpoints", endpoints, .local(server: server), true)) }
        var idleCPU: [(String, Double)] = []
        for (index, size) in sizes.enumerated() {
            let registry = try Self.registry(at: folder + "/idle-\(index).sqlite", endpoints: size.count, backend: size.backend, keepWarm: "{mode: off}")
            if size.deployed { try registry.recordDeployed(endpoints: (0..<size.count).map(Self.name), actor: "bench", now: Date()) }
            let idler = try DaemonProcess(binary: binary, registry: registry, log: folder + "/idle-\(index).log")
            defer { idler.stop() }
            try await idler.waitUntilRunning(registry: registry)
            try await idler.settle()
            let before = try idler.cpuSeconds()
            try await Task.sleep(for: .seconds(idle))
            idleCPU.append((size.label, (try idler.cpuSeconds() - before) / Double(idle) * 100))
            idler.stop()
        }
        print("daemon CPU at idle (keep-warm off, no traffic, \(idle)s each; goal ≤ 2% of one core):")
        for (label, percent) in idleCPU {
            let ratio = label == idleCPU.first?.0 ? "" : String(format: "   (%.1f× one endpoint)", percent / (idleCPU.first?.1 ?? .nan))
            print(String(format: "  %@  %5.2f%% of one core%@", label.padding(toLength: 34, withPad: " ", startingAt: 0), percent, ratio))
        }
    }

    /// The daemon's start-up, reported apart: its first probe of every http endpoint (10,000 take about 20 s at
    /// 32 at a time, on the same shared server the pings go to) and its first reads compete with the pings.
    static let startUpSeconds: TimeInterval = 30

    /// Runs the daemon on `endpoints` pinged every `every` seconds for `duration`: each ping's lateness (ms), due in
    /// the daemon's start-up (`startUpSeconds`) and after it, this process's timer lateness meanwhile, how many
    /// were due before the daemon was up, and the daemon's CPU seconds.
    func ping(binary: String, folder: String, backend: Backend) async throws
        -> (startUp: [Double], steady: [Double], baseline: [Double], early: Int, cpu: Double) {
        let pinged = try Self.registry(at: folder + "/pinged.sqlite", endpoints: endpoints, backend: backend, keepWarm: "{mode: fixed, every: \(every)s}")
        let lead: TimeInterval = 5 // the daemon starts meanwhile
        let first = Date().addingTimeInterval(lead)
        var lastPings: [String: Date] = [:]
        for index in 0..<endpoints {
            let spread = burst ? 0 : TimeInterval(every) * Double(index) / Double(endpoints)
            lastPings[Self.name(index)] = first.addingTimeInterval(spread - TimeInterval(every))
        }
        try pinged.noteLastPings(lastPings, now: Date())
        let daemon = try DaemonProcess(binary: binary, registry: pinged, log: folder + "/pinged.log")
        defer { daemon.stop() }
        try await daemon.waitUntilRunning(registry: pinged)
        let ready = Date()
        let timer = Task { await Self.timerLateness(for: .seconds(duration)) }
        let cpuBefore = try daemon.cpuSeconds()
        var seen: [String: Date] = [:]
        var (startUp, steady): ([Double], [Double]) = ([], [])
        var early = 0
        let end = ContinuousClock.now + .seconds(duration)
        while ContinuousClock.now < end {
            try await Task.sleep(for: .seconds(1))
            for state in try pinged.keepWarmStates().values {
                guard let due = state.lastPingDueAt, let sent = state.lastPingAt else { continue }
                let endpoint = state.endpoint
                guard seen[endpoint] != sent else { continue }
                seen[endpoint] = sent
                // Due before the daemon was up: late by its start, not by its scheduling.
                if due < ready { early += 1; continue }
                let late = sent.timeIntervalSince(due) * 1_000
                if due.timeIntervalSince(ready) < Self.startUpSeconds { startUp.append(late) } else { steady.append(late) }
            }
        }
        let busyCPU = try daemon.cpuSeconds() - cpuBefore
        daemon.stop()
        return (startUp.sorted(), steady.sorted(), await timer.value.sorted(), early, busyCPU)
    }

    static func name(_ index: Int) -> String { String(format: "e%04d", index) }

    /// Where the endpoints' model runs.
    enum Backend {
        /// One Perl process per instance, started by the local target.
        case local(server: String)
        /// One Perl process for all, on this port, each endpoint on its own `http` target.
        case http(port: Int)
    }

    /// A registry with `count` endpoints of one tiny model, on the local target or on http targets.
    static func registry(at path: String, endpoints count: Int, backend: Backend, keepWarm: String) throws -> Registry {
        var targets = ""
        var command = ""
        var target: (Int) -> String = { _ in "local" }
        switch backend {
        case .local(let server):
            targets = "  - {name: local, kind: local}\n"
            command = ", command: [perl, \(server)]"
        case .http(let port):
            targets = "  - {name: local, kind: local}\n" // the daemon's gateway runs on it; no endpoint does
            target = { "t" + name($0) }
            for index in 0..<count {
                targets += "  - {name: \(target(index)), kind: http, url: 'http://127.0.0.1:\(port)/invoke', probe_interval: 3600s}\n"
            }
        }
        var deck = """
        apiVersion: modeldeck/v1
        targets:
        \(targets)models:
          - name: echo
            versions:
              - {version: v1, digest: "sha256:\(String(repeating: "0", count: 64))", size: 1KB\(command), memory: 128MB}
        endpoints:

        """
        for index in 0..<count {
            deck += "  - {name: \(name(index)), model: echo, target: \(target(index)), memory: 128MB, idle_timeout: 1h, keep_warm: \(keepWarm), traffic: {v1: 100}}\n"
        }
        let registry = try Registry(path: path)
        let folder = URL(fileURLWithPath: path).deletingLastPathComponent().path
        try DeckApplier.apply(try DeckReader(sourceName: "bench.yaml", baseDirectory: folder).parse(deck), to: registry,
                              source: "bench.yaml", actor: "bench")
        return registry
    }

    /// How late `Task.sleep(until:)` wakes in this process, every 100 ms for `duration`: the floor under any
    /// scheduler on this machine at this moment.
    static func timerLateness(for duration: Duration) async -> [Double] {
        var samples: [Double] = []
        let end = ContinuousClock.now + duration
        var next = ContinuousClock.now
        while next < end {
            next += .milliseconds(100)
            try? await Task.sleep(until: next, clock: .continuous)
            let late = (ContinuousClock.now - next).components
            samples.append(Double(late.seconds) * 1_000 + Double(late.attoseconds) / 1e15)
        }
        return samples
    }

    /// Answers every request (`/healthz`, `/invoke`) with 200 and a small JSON body, one connection at a time.
    static let echoServer = #"""
        use strict; use IO::Socket::INET;
        my $server = IO::Socket::INET->new(LocalAddr => "127.0.0.1", LocalPort => $ENV{PORT}, Listen => 64, ReuseAddr => 1)
            or die "cannot listen on $ENV{PORT}: $!";
        while (my $client = $server->accept) {
            local $/ = "\r\n";
            my $length = 0;
            <$client>;
            while (my $header = <$client>) { last if $header eq "\r\n"; $length = $1 if $header =~ /^content-length:\s*(\d+)/i; }
            read($client, my $body, $length) if $length;
            my $answer = '{"ok": true}';
            print $client "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " . length($answer)
                . "\r\nConnection: close\r\n\r\n$answer";
            close $client;
        }
        """#
}

/// The echo server on a free loopback port, for every `http` target at once.
private final class SharedServer {
    let process = Process()
    let port: Int

    init(script: String) throws {
        port = try freeLoopbackPort()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/perl")
        process.arguments = [script]
        process.environment = ["PORT": String(port), "PATH": "/usr/bin:/bin"]
        try process.run()
        // Until it listens.
        for _ in 0..<100 {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = in_port_t(UInt16(port).bigEndian)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            close(fd)
            if connected == 0 { return }
            usleep(50_000)
        }
        process.terminate()
        throw ValidationError("the shared echo server did not listen on \(port)")
    }

    /// SIGKILL: the server inherits this process's ignored SIGTERM.
    func stop() {
        guard process.isRunning else { return }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }
}

/// `modeldeck daemon` as a child process, with its CPU time read from /proc.
private final class DaemonProcess {
    let process = Process()

    init(binary: String, registry: Registry, log: String) throws {
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["daemon", "--registry", registry.path, "--port", "0", "--no-api"]
        FileManager.default.createFile(atPath: log, contents: nil)
        let output = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        process.standardOutput = output
        process.standardError = output
        try process.run()
    }

    /// Until the daemon's heartbeat row names it.
    func waitUntilRunning(registry: Registry) async throws {
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            guard process.isRunning else { throw ValidationError("the daemon exited with status \(process.terminationStatus)") }
            let status = try registry.daemonStatus()
            if status.pid == Int(process.processIdentifier), status.isAlive { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw ValidationError("the daemon did not start within 60 s")
    }

    /// Until its start-up work is over (a first probe of every http endpoint: 10,000 take about a minute): the
    /// first 3-second window in which it used under 10% of a core, at least 3 s after it started, at most 3 minutes.
    func settle() async throws {
        try await Task.sleep(for: .seconds(3))
        for _ in 0..<60 {
            let before = try cpuSeconds()
            try await Task.sleep(for: .seconds(3))
            if try cpuSeconds() - before < 0.3 { return }
        }
    }

    /// User + system CPU seconds so far (/proc/PID/stat fields 14 and 15).
    func cpuSeconds() throws -> Double {
        let stat = try String(contentsOfFile: "/proc/\(process.processIdentifier)/stat", encoding: .utf8)
        guard let close = stat.lastIndex(of: ")") else { throw ValidationError("unreadable /proc stat") }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        // fields[0] is field 3 (state).
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else {
            throw ValidationError("unreadable /proc stat")
        }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// SIGTERM (the daemon stops its instances), then waits.
    func stop() {
        guard process.isRunning else { return }
        process.terminate()
        process.waitUntilExit()
    }
}
