import Foundation
import ModelDeckCore

/// One daemon per registry: an exclusive `flock` on `REGISTRY.daemon.lock`, held for the life of the
/// process. The kernel releases it when the process dies, even by SIGKILL, so a restart never finds a
/// stale lock.
public final class DaemonLock: Sendable {
    private let descriptor: Int32
    public let path: String

    public init(registry: Registry) throws {
        path = registry.path + ".daemon.lock"
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw ModelDeckError("cannot open the daemon lock \(path): \(String(cString: strerror(errno)).lowercased())")
        }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            close(fd)
            let holder = try? registry.daemonStatus()
            let who = holder.flatMap { status in status.pid.map { " (pid \($0), host \(status.host ?? "?"))" } } ?? ""
            throw ModelDeckError("another modeldeck daemon\(who) is already running on \(registry.path); stop it first")
        }
        descriptor = fd
    }

    deinit { close(descriptor) } // closing releases the lock
}
