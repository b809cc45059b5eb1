import ArgumentParser
import Foundation

/// What `modeldeck-bench gateway` drives: wrk runs and their figures, nginx's configurations, and the processes
/// it starts (nginx, the gateway) with their CPU time and memory read from /proc.

/// One wrk run, read from its `--latency` output.
struct WrkResult {
    var requests: Int
    var requestsPerSecond: Double
    /// Microseconds.
    var p50: Double
    var p99: Double
    /// Non-2xx answers plus socket errors.
    var errors: Int

    /// `wrk -t1 -cN -dS --latency [-s script] url`.
    static func run(url: String, connections: Int, seconds: Int, script: String? = nil) throws -> WrkResult {
        let output = try LoadTools.capture("wrk", ["-t1", "-c\(connections)", "-d\(seconds)s", "--latency"] + (script.map { ["-s", $0] } ?? []) + [url])
        return try parse(output)
    }

    static func parse(_ output: String) throws -> WrkResult {
        var result = WrkResult(requests: -1, requestsPerSecond: 0, p50: .nan, p99: .nan, errors: 0)
        for line in output.split(separator: "\n") {
            let words = line.split(separator: " ", omittingEmptySubsequences: true)
            if words.count >= 3, words[1] == "requests", words[2] == "in" { result.requests = Int(words[0]) ?? -1 }
            if words.first == "Requests/sec:", words.count > 1 { result.requestsPerSecond = Double(words[1]) ?? 0 }
            if words.count == 2, words[0] == "50%" { result.p50 = micros(words[1]) }
            if words.count == 2, words[0] == "99%" { result.p99 = micros(words[1]) }
            if line.contains("Non-2xx or 3xx responses:"), let n = words.last.flatMap({ Int($0) }) { result.errors += n }
            if line.contains("Socket errors:") {
                // Socket errors: connect 0, read 0, write 0, timeout 0
                result.errors += line.split(separator: ",").compactMap { $0.split(separator: " ").last.flatMap { Int($0) } }.reduce(0, +)
            }
        }
        guard result.requests >= 0 else { throw ValidationError("could not read wrk's output: \(output)") }
        return result
    }

    /// "229.00us", "1.95ms", "1.02s" in microseconds.
    static func micros(_ text: Substring) -> Double {
        for (unit, scale) in [("us", 1.0), ("ms", 1_000.0), ("s", 1_000_000.0)] where text.hasSuffix(unit) {
            return (Double(text.dropLast(unit.count)) ?? .nan) * scale
        }
        return .nan
    }
}

/// nginx configurations: the model server and the proxy in front of it. `@PORT@` and `@DIR@` are filled in.
enum NginxConfig {
    static let backend = """
        worker_processes 1;
        daemon off;
        pid @DIR@/nginx.pid;
        error_log stderr error;
        events { worker_connections 4096; }
        http {
            access_log off;
            client_body_temp_path @DIR@/body;
            keepalive_requests 10000000;
            server {
                listen 127.0.0.1:@PORT@;
                location / { default_type application/json; return 200 '{"label": "positive", "score": 0.93}'; }
            }
        }

        """

    static func proxy(to port: Int) -> String {
        """
        worker_processes auto;
        daemon off;
        pid @DIR@/nginx.pid;
        error_log stderr error;
        events { worker_connections 4096; }
        http {
            access_log off;
            client_body_temp_path @DIR@/body;
            proxy_temp_path @DIR@/proxy;
            keepalive_requests 10000000;
            upstream model { server 127.0.0.1:\(port); keepalive 64; keepalive_requests 10000000; }
            server {
                listen 127.0.0.1:@PORT@;
                location / { proxy_pass http://model; proxy_http_version 1.1; proxy_set_header Connection ""; }
            }
        }

        """
    }

    /// The model's command: the gateway sets `PORT`, `TMPDIR` and `MODEL_ARTIFACT` (this configuration).
    static let command = #"sed -e "s|@PORT@|$PORT|" -e "s|@DIR@|$TMPDIR|" "$MODEL_ARTIFACT" > "$TMPDIR/nginx.conf" && exec nginx -p "$TMPDIR" -e stderr -c "$TMPDIR/nginx.conf""#
}

/// A server process the benchmark started; stopped with SIGTERM (and waited for) at the end.
final class Server {
    let name: String
    let log: String
    private let process: Process

    private init(name: String, log: String, process: Process) {
        self.name = name
        self.log = log
        self.process = process
    }

    var isRunning: Bool { process.isRunning }

    static func launch(_ name: String, _ executable: String, _ arguments: [String], log: String) throws -> Server {
        FileManager.default.createFile(atPath: log, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        return Server(name: name, log: log, process: process)
    }

    static func nginx(_ config: String, port: Int, folder: String) throws -> Server {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let path = folder + "/nginx.conf"
        try config.replacingOccurrences(of: "@PORT@", with: "\(port)").replacingOccurrences(of: "@DIR@", with: folder)
            .write(toFile: path, atomically: true, encoding: .utf8)
        let nginx = try LoadTools.requiredPath(of: "nginx")
        return try launch("nginx on \(port)", nginx, ["-p", folder, "-e", "stderr", "-c", path], log: folder + "/nginx.log")
    }

    /// `modeldeck apply` of a one-endpoint deck on a local target at `port`, then `modeldeck serve`.
    static func gateway(_ binary: String, port: Int, template: String, folder: String) throws -> Server {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let deck = folder + "/deck.yaml", registry = folder + "/registry.sqlite"
        let quoted = NginxConfig.command.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
        try """
            apiVersion: modeldeck/v1
            targets:
              - name: bench
                kind: local
                host: 127.0.0.1
                port: \(port)
            models:
              - name: constant
                description: nginx answering a constant (the benchmark's fast model server)
                versions:
                  - version: v1
                    artifact: \(template)
                    command: [sh, -c, "\(quoted)"]
                    memory: 128MB
                    timeout: 30s
            endpoints:
              - name: constant
                model: constant
                target: bench
                memory: 128MB
                concurrency: 1000
                max_instances: 1
                idle_timeout: 1h
                keep_warm: "off"
                traffic: {v1: 100}

            """.write(toFile: deck, atomically: true, encoding: .utf8)
        _ = try LoadTools.capture(binary, ["apply", "-f", deck, "--registry", registry])
        return try launch("modeldeck serve (\(binary))", binary, ["serve", "--registry", registry], log: folder + "/serve.log")
    }

    /// CPU seconds (user + system) the process has used, and its children's that are still running when
    /// `withChildren` (nginx's workers), from `/proc/PID/stat` (fields 14 and 15, in clock ticks; proc(5)).
    func cpuSeconds(withChildren: Bool) -> Double {
        let pid = process.processIdentifier
        var pids = [pid]
        if withChildren, let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") {
            pids += entries.compactMap(Int32.init).filter { Self.stat($0)?.parent == pid }
        }
        let ticks = pids.compactMap { Self.stat($0)?.ticks }.reduce(0, +)
        return Double(ticks) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// The parent and the user + system clock ticks of a process; fields are counted after the command's
    /// closing parenthesis (the command may hold spaces).
    private static func stat(_ pid: Int32) -> (parent: Int32, ticks: Int)? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = text.lastIndex(of: ")") else { return nil }
        let fields = text[text.index(after: close)...].split(separator: " ")
        guard fields.count > 12, let parent = Int32(fields[1]), let user = Int(fields[11]), let system = Int(fields[12]) else { return nil }
        return (parent, user + system)
    }

    /// The process's peak resident set (VmHWM), in bytes.
    func peakResidentBytes() -> Int64 {
        guard let status = try? String(contentsOfFile: "/proc/\(process.processIdentifier)/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
              let kilobytes = line.split(separator: " ").dropFirst().first.flatMap({ Int64($0) }) else { return 0 }
        return kilobytes * 1_024
    }

    func stop() {
        guard process.isRunning else { return }
        process.terminate()
        process.waitUntilExit()
    }
}
