import Dispatch
import Foundation
import Glibc

/// Tells, within a millisecond, that some process wrote to the registry: inotify on the registry's folder,
/// for writes to the database file and its WAL. A waiter then asks `PRAGMA data_version` whether a commit
/// really happened; without this it could only poll the pragma (every 20 ms: up to 20 ms late, and work at
/// every poll while nothing changes). SQLite has no cross-process change notification of its own
/// (`sqlite3_update_hook` sees only its own connection's writes), and no package in reach wraps inotify for
/// one folder, so this is written here: about 60 lines over the Linux calls.
///
/// The folder is watched (not the WAL file) because the WAL is created, truncated by checkpoints and
/// recreated; events for other files in it (a demo's logs) are dropped by name.
final class RegistryNotifier: @unchecked Sendable { // immutable after init; waiters are the signal's
    private let source: DispatchSourceRead
    private let queue = DispatchQueue(label: "modeldeck.registry.notifier")
    /// Moves at each batch of writes to the registry's file or WAL; any number of tasks wait on it.
    let writes = WakeSignal(label: "modeldeck.registry.notifier.timers")

    /// nil when inotify is not available (then the watcher polls, as before).
    init?(registryPath: String) {
        let url = URL(fileURLWithPath: registryPath)
        let folder = url.deletingLastPathComponent().path
        let prefix = url.lastPathComponent
        let descriptor = inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC))
        guard descriptor >= 0 else { return nil }
        guard inotify_add_watch(descriptor, folder, UInt32(IN_MODIFY | IN_CREATE | IN_MOVED_TO)) >= 0 else {
            close(descriptor)
            return nil
        }
        source = DispatchSource.makeReadSource(fileDescriptor: descriptor, queue: queue)
        let writes = self.writes
        source.setEventHandler {
            if Self.drain(descriptor, namesStartingWith: prefix) { writes.signal() }
        }
        source.setCancelHandler { close(descriptor) }
        source.resume()
    }

    deinit { source.cancel() }

    /// Reads every pending event; true when one names the registry's file or its WAL.
    private static func drain(_ descriptor: Int32, namesStartingWith prefix: String) -> Bool {
        let size = 4_096
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: MemoryLayout<inotify_event>.alignment)
        defer { buffer.deallocate() }
        var relevant = false
        while true {
            let count = read(descriptor, buffer, size)
            guard count > 0 else { return relevant }
            var offset = 0
            while offset + MemoryLayout<inotify_event>.size <= count {
                let event = buffer.load(fromByteOffset: offset, as: inotify_event.self)
                let nameStart = offset + MemoryLayout<inotify_event>.size
                let nameLength = Int(event.len)
                if nameLength > 0, nameStart + nameLength <= count {
                    let bytes = UnsafeRawBufferPointer(start: buffer + nameStart, count: nameLength)
                    let name = String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
                    if name == prefix || name == prefix + "-wal" { relevant = true }
                }
                offset = nameStart + nameLength
            }
        }
    }
}
