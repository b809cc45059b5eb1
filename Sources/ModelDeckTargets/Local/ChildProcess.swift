import CProcessSpawn
import Foundation
import Synchronization

/// A model-server process started by the local target: its own process group, SIGKILLed by the kernel if
/// the gateway dies (even by SIGKILL), stdout and stderr appended to a log file.
public final class ChildProcess: Sendable {
    public let pid: pid_t
    public let logPath: String
    /// The exit status once reaped. A pid can be reaped only once, and several places ask (the request that
    /// saw the connection drop, the housekeeping loop, the readiness poll): all get the same answer.
    private let reaped = Mutex<Exit?>(nil)

    /// Starts `arguments` in `directory` with `environment`.
    public static func start(_ arguments: [String], environment: [String: String], directory: String?,
                             logPath: String) async throws -> ChildProcess {
        let pid = try await Spawner.shared.spawn(arguments, environment: environment, directory: directory, logPath: logPath)
        return ChildProcess(pid: pid, logPath: logPath)
    }

    private init(pid: pid_t, logPath: String) {
        self.pid = pid
        self.logPath = logPath
    }

    /// How the process ended.
    public enum Exit: Sendable, Equatable, CustomStringConvertible {
        case exited(Int32)
        case signalled(Int32)

        public var description: String {
            switch self {
            case .exited(let code): "exited with status \(code)"
            case .signalled(let signal): "was killed by signal \(signal)\(signal == SIGKILL ? " (SIGKILL)" : signal == SIGTERM ? " (SIGTERM)" : "")"
            }
        }
    }

    /// Non-blocking: nil while the process runs.
    public func exitIfEnded() -> Exit? {
        reaped.withLock { reaped in
            if let reaped { return reaped }
            var status: Int32 = 0
            guard waitpid(pid, &status, WNOHANG) == pid else { return nil }
            reaped = Self.decode(status)
            return reaped
        }
    }

    private static func decode(_ status: Int32) -> Exit {
        // WIFEXITED / WEXITSTATUS / WTERMSIG are macros Swift cannot import.
        let signal = status & 0x7F
        return signal == 0 ? .exited((status >> 8) & 0xFF) : .signalled(signal)
    }

    /// SIGTERM to the whole process group, then SIGKILL after `grace` if it is still there.
    /// Returns how it ended.
    @discardableResult
    public func stop(grace: Duration = .seconds(5)) async -> Exit {
        kill(-pid, SIGTERM)
        let deadline = ContinuousClock.now + grace
        while ContinuousClock.now < deadline {
            if let exit = exitIfEnded() {
                kill(-pid, SIGKILL) // anything the server left behind in its group
                return exit
            }
            try? await Task.sleep(for: .milliseconds(20))
        }
        kill(-pid, SIGKILL)
        while true {
            if let exit = exitIfEnded() { return exit }
            try? await Task.sleep(for: .milliseconds(10))
        }
    }

    /// The last `count` lines the process wrote, for error messages: read from the end of the log (never
    /// the whole file, which a chatty model makes large), and from the rotated part when the log was just cut.
    public func lastLogLines(_ count: Int = 5) -> [String] {
        var data = Self.tail(of: logPath, bytes: 8_192)
        if data.count < 8_192 { data = Self.tail(of: logPath + ".1", bytes: 8_192 - data.count) + data }
        let lines = String(decoding: data, as: UTF8.self).split(whereSeparator: \.isNewline)
        return lines.suffix(count).map(String.init)
    }

    /// At most the last `bytes` bytes of a file (empty when it cannot be read).
    static func tail(of path: String, bytes: Int) -> Data {
        guard bytes > 0, let handle = FileHandle(forReadingAtPath: path) else { return Data() }
        defer { try? handle.close() }
        guard let end = try? handle.seekToEnd() else { return Data() }
        try? handle.seek(toOffset: end > UInt64(bytes) ? end - UInt64(bytes) : 0)
        return (try? handle.read(upToCount: bytes)) ?? Data()
    }

    /// Keeps the log under `maxBytes`: once it is larger, its last `maxBytes / 2` go to `<log>.1` (replacing
    /// the previous one) and the log is cut to zero. The process keeps writing through its own descriptor,
    /// opened with O_APPEND, so its next write lands at the new end (logrotate's `copytruncate`; lines
    /// written between the copy and the cut are lost, which is that method's known price).
    /// Returns whether it rotated.
    @discardableResult
    public func capLog(at maxBytes: Int64) -> Bool {
        var info = stat()
        guard stat(logPath, &info) == 0, Int64(info.st_size) > maxBytes else { return false }
        let kept = Self.tail(of: logPath, bytes: Int(maxBytes / 2))
        _ = FileManager.default.createFile(atPath: logPath + ".1", contents: kept, attributes: [.posixPermissions: 0o600])
        return truncate(logPath, 0) == 0
    }
}

/// Forks from one dedicated thread that lives as long as the process.
///
/// Linux delivers PR_SET_PDEATHSIG when the *thread* that forked the child exits, not the process;
/// forking from a pool thread that later retires would kill healthy instances. So every spawn is handed
/// to this thread.
final class Spawner: Sendable {
    static let shared = Spawner()

    private struct Request {
        let arguments: [String]
        let environment: [String]
        let directory: String?
        let logPath: String
        let reply: CheckedContinuation<pid_t, Error>
    }

    private let queue = Mutex<[Request]>([])
    private let wakeUp = DispatchSemaphore(value: 0)

    private init() {
        let thread = Thread { [self] in
            while true {
                wakeUp.wait()
                guard let request = queue.withLock({ $0.isEmpty ? nil : $0.removeFirst() }) else { continue }
                request.reply.resume(with: Result { try Self.fork(request) })
            }
        }
        thread.name = "modeldeck-spawner"
        thread.start()
    }

    func spawn(_ arguments: [String], environment: [String: String], directory: String?, logPath: String) async throws -> pid_t {
        try await withCheckedThrowingContinuation { continuation in
            let env = environment.map { "\($0.key)=\($0.value)" }
            queue.withLock { $0.append(Request(arguments: arguments, environment: env, directory: directory,
                                                logPath: logPath, reply: continuation)) }
            wakeUp.signal()
        }
    }

    private static func fork(_ request: Request) throws -> pid_t {
        guard !request.arguments.isEmpty else { throw SpawnError(message: "the command is empty") }
        let pid = withCStrings(request.arguments) { argv in
            withCStrings(request.environment) { envp in
                md_spawn(argv, envp, request.directory, request.logPath)
            }
        }
        guard pid > 0 else {
            let reason = String(cString: strerror(errno))
            throw SpawnError(message: "cannot start \(request.arguments[0])\(request.directory.map { " in \($0)" } ?? ""): \(reason)")
        }
        return pid
    }

    private static func withCStrings<R>(_ strings: [String], _ body: (UnsafePointer<UnsafePointer<CChar>?>) -> R) -> R {
        let pointers = strings.map { strdup($0) }
        defer { pointers.forEach { free($0) } }
        let array: [UnsafePointer<CChar>?] = pointers.map { UnsafePointer($0) } + [nil]
        return array.withUnsafeBufferPointer { body($0.baseAddress!) }
    }
}

struct SpawnError: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
}

/// A free TCP port on 127.0.0.1 for an instance to listen on, chosen *below* the kernel's ephemeral range.
///
/// Ports from `bind(0)` come from the ephemeral range, which outgoing connections also use for their
/// local side: an open connection (the gateway's own, to another instance) could hold the port between
/// our check and the model server's bind. Below the range no outgoing connection ever lands; a test bind
/// checks that no listener holds the port.
public func freeLoopbackPort() throws -> Int {
    let range = (try? String(contentsOfFile: "/proc/sys/net/ipv4/ip_local_port_range", encoding: .utf8))?
        .split(whereSeparator: \.isWhitespace).compactMap { Int($0) } ?? []
    let ephemeralLow = range.first ?? 32_768
    let candidates = ephemeralLow > 12_000 ? 10_000..<ephemeralLow : 0..<0
    for _ in 0..<64 where !candidates.isEmpty {
        let port = Int.random(in: candidates)
        if try bindLoopback(port: port) != nil { return port }
    }
    // A machine with an unusual ephemeral range: fall back to the kernel's choice.
    guard let port = try bindLoopback(port: 0) else { throw SpawnError(message: "no free loopback port") }
    return port
}

/// Binds 127.0.0.1:`port` and releases it; returns the port bound, or nil when it is taken.
private func bindLoopback(port: Int) throws -> Int? {
    // Close-on-exec: a child forked at this instant must not inherit the bound socket.
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    guard fd >= 0 else { throw SpawnError(message: "cannot open a socket: \(String(cString: strerror(errno)))") }
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = UInt16(port).bigEndian
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let bound = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard bound == 0 else { return nil }
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
    }
    return Int(UInt16(bigEndian: address.sin_port))
}
