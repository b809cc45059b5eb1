import Foundation

/// The load tools benchmarks compare against (wrk) and serve from (nginx): Debian packages, installed when missing
/// (`apt-get install -y wrk nginx`, as root), so a fresh machine can run the benchmark without a set-up step.
enum LoadTools {
    /// Installs the Debian packages of `commands` that are not on PATH; throws when they still are not.
    static func ensure(_ commands: [String: String]) throws {
        let missing = commands.filter { path(of: $0.key) == nil }
        guard !missing.isEmpty else { return }
        let packages = Array(Set(missing.values)).sorted()
        FileHandle.standardError.write(Data("installing \(packages.joined(separator: ", ")) (apt-get)…\n".utf8))
        _ = try run("/usr/bin/apt-get", ["update", "-qq"])
        _ = try run("/usr/bin/apt-get", ["install", "-y", "-qq"] + packages)
        if let still = missing.keys.first(where: { path(of: $0) == nil }) {
            throw BenchmarkFailure("\(still) is not installed and apt-get could not install it; install \(packages.joined(separator: " ")) by hand")
        }
    }

    static func path(of command: String) -> String? {
        let directories = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin") + ":/usr/sbin:/sbin"
        return directories.split(separator: ":").map { "\($0)/\(command)" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// Runs a command to its end; its standard output.
    @discardableResult
    static func run(_ executable: String, _ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self)
    }
}

/// nginx answering every request with a small 200, on a loopback port, in its own folder: the fast backend.
final class NginxBackend {
    let port: Int
    private let folder: String
    private let process: Process

    init(port: Int) throws {
        self.port = port
        folder = NSTemporaryDirectory() + "modeldeck-bench-nginx-\(getpid())"
        try FileManager.default.createDirectory(atPath: folder + "/logs", withIntermediateDirectories: true)
        let config = """
        daemon off;
        worker_processes 1;
        pid \(folder)/nginx.pid;
        error_log \(folder)/logs/error.log;
        events { worker_connections 1024; }
        http {
            access_log off;
            client_body_temp_path \(folder);
            proxy_temp_path \(folder); fastcgi_temp_path \(folder); uwsgi_temp_path \(folder); scgi_temp_path \(folder);
            server {
                listen 127.0.0.1:\(port);
                location / { return 200 '{"label":"positive"}'; }
            }
        }
        """
        try config.write(toFile: folder + "/nginx.conf", atomically: true, encoding: .utf8)
        process = Process()
        process.executableURL = URL(fileURLWithPath: LoadTools.path(of: "nginx") ?? "/usr/sbin/nginx")
        process.arguments = ["-p", folder, "-c", folder + "/nginx.conf"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
    }

    func stop() {
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
        try? FileManager.default.removeItem(atPath: folder)
    }
}

struct BenchmarkFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
