import Foundation

/// Who may have written a registry before we open it.
///
/// A registry says which commands the daemon runs (a local version's `command`, with `min_instances: 1`
/// it runs at once), so a registry another local user could have planted or edited is code they run as us.
/// Before any command opens one, its file, the SQLite side files (`-wal`, `-shm`, `-journal`) and its folder
/// must belong to the user running ModelDeck and must not be writable by group or others. A world-writable
/// folder with the sticky bit (`/tmp`) is refused too: others cannot replace our file there, but they can
/// create the `-wal` file SQLite would then read.
public enum RegistryOwnership {
    /// What `stat` says about one path, as far as this check cares.
    public struct Status: Equatable, Sendable {
        public var owner: uid_t
        public var mode: mode_t
        public var isDirectory: Bool

        public init(owner: uid_t, mode: mode_t, isDirectory: Bool) {
            self.owner = owner
            self.mode = mode
            self.isDirectory = isDirectory
        }
    }

    /// The refusal for one path, or nil when `status` is safe for `user`. Pure, so the rule has unit tests.
    public static func refusal(registry: String, path: String, status: Status, user: uid_t) -> String? {
        let what = status.isDirectory ? "its folder \(path)" : path == registry ? "it" : path
        if status.owner != user {
            return "refusing registry \(registry): \(what) belongs to uid \(status.owner), not to you (uid \(user)); "
                + "another user could have planted it — use a registry of your own"
        }
        if status.mode & (S_IWGRP | S_IWOTH) != 0 {
            let mode = String(status.mode & 0o7777, radix: 8)
            return "refusing registry \(registry): \(what) is writable by \(status.mode & S_IWOTH != 0 ? "others" : "its group") "
                + "(mode \(mode)); `chmod go-w` it, or use a private folder"
        }
        return nil
    }

    /// Checks the registry's folder, file and SQLite side files that exist; throws the first refusal.
    public static func check(_ registry: String, user: uid_t = geteuid()) throws {
        let folder = URL(fileURLWithPath: registry).deletingLastPathComponent().path
        for path in [folder, registry, registry + "-wal", registry + "-shm", registry + "-journal"] {
            var info = stat()
            // stat follows a symlink: what matters is who can write what SQLite will open.
            guard stat(path, &info) == 0 else { continue }
            let status = Status(owner: info.st_uid, mode: info.st_mode, isDirectory: info.st_mode & S_IFMT == S_IFDIR)
            if let refusal = refusal(registry: registry, path: path, status: status, user: user) {
                throw ModelDeckError(refusal)
            }
        }
    }
}
