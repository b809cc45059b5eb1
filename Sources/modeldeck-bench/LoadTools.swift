import ArgumentParser
import Foundation

/// The load tools benchmarks compare against (wrk) and serve from (nginx): Debian packages, installed when missing
/// (`apt-get install -y wrk nginx`, through sudo unless root), so a fresh machine can run the benchmark without a
/// set-up step.
enum LoadTools {
    /// Installs the Debian packages of `commands` that are not on PATH; throws when they still are not.
    static func ensure(_ commands: [String: String]) throws {
        let missing = commands.filter { path(of: $0.key) == nil }
        guard !missing.isEmpty else { return }
        let packages = Array(Set(missing.values)).sorted()
        FileHandle.standardError.write(Data("installing \(packages.joined(separator: ", ")) (apt-get)…\n".utf8))
        let sudo = geteuid() == 0 ? [] : ["sudo"]
        let aptGet = sudo + ["apt-get"]
        _ = try? capture(aptGet[0], Array(aptGet.dropFirst()) + ["update", "-qq"])
        _ = try? capture(aptGet[0], Array(aptGet.dropFirst()) + ["install", "-y", "-qq"] + packages)
        if let still = missing.keys.first(where: { path(of: $0) == nil }) {
            throw BenchmarkFailure("\(still) is not installed and apt-get could not install it; install \(packages.joined(separator: " ")) by hand")
        }
    }

    /// Where `command` is: on PATH, or in the usual folders.
    static func path(of command: String) -> String? {
        let directories = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin") + ":/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"
        return directories.split(separator: ":").map { "\($0)/\(command)" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// `path(of:)`, or an error naming the command.
    static func requiredPath(of command: String) throws -> String {
        guard let found = path(of: command) else { throw ValidationError("\(command) is not installed") }
        return found
    }

    /// Runs a program (a path, or a command found with `path(of:)`) to its end; its standard output and error,
    /// or an error naming it and its last output when it fails.
    @discardableResult
    static func capture(_ program: String, _ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: program.hasPrefix("/") ? program : try requiredPath(of: program))
        process.arguments = arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self)
        guard process.terminationStatus == 0 else {
            throw ValidationError("\(program) \(arguments.joined(separator: " ")) failed (\(process.terminationStatus)): \(text.suffix(500))")
        }
        return text
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
