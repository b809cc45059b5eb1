import Crypto
import Foundation
import ModelDeckCore
import Synchronization

/// Versions are immutable: the artifact a cold start loads must still be the one `apply` hashed.
///
/// Hashing a large artifact at every cold start would cost what the cold start costs, so a file is hashed
/// once, and afterwards only its size and modification time are compared (as `make` and rsync's quick
/// check do); when they differ it is hashed again. A changed artifact is refused with both digests.
public final class ArtifactCheck: Sendable {
    private struct Seen: Equatable {
        var digest: String
        var size: Int64
        var modifiedSeconds: Int
        var modifiedNanoseconds: Int
    }

    private let seen = Mutex<[String: Seen]>([:])

    public init() {}

    /// Throws a one-line reason when `version`'s local artifact is missing or no longer has its digest.
    /// Remote artifacts (`s3://…`) and versions without one pass.
    public func verify(_ version: ModelVersion) async throws {
        guard let path = version.artifact, !path.contains("://") else { return }
        var info = stat()
        guard stat(path, &info) == 0 else {
            throw ModelDeckError("artifact \(path) of version '\(version.id)' is gone (\(String(cString: strerror(errno)))); "
                                 + "versions are immutable: restore it or apply a new version")
        }
        let quick = Seen(digest: version.digest, size: Int64(info.st_size),
                         modifiedSeconds: info.st_mtim.tv_sec, modifiedNanoseconds: info.st_mtim.tv_nsec)
        if seen.withLock({ $0[path] }) == quick { return }
        // Off the cooperative pool: hashing reads the whole file.
        let digest = try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<String, Error>) in
            DispatchQueue.global().async {
                continuation.resume(with: Result { try DeckReader.sha256(ofFileAt: path, what: "version '\(version.id)'").digest })
            }
        }
        guard digest == version.digest else {
            throw ModelDeckError("artifact \(path) of version '\(version.id)' has changed: it now has digest \(digest), "
                                 + "the registry has \(version.digest); versions are immutable: restore it or apply it as a new version")
        }
        seen.withLock { $0[path] = quick }
    }
}
