import Foundation
import GRDB

/// An instance row as a gateway left it: enough to find its process group again.
public struct RecordedInstance: Equatable, Sendable {
    public var id: String
    public var pid: Int32

    public init(id: String, pid: Int32) {
        self.id = id
        self.pid = pid
    }
}

extension Registry {
    /// The instances the registry lists, with a pid, for endpoints on `targets`: what a gateway that
    /// stopped without cleaning up (killed with -9) may have left running.
    public func recordedInstances(onTargets targets: Set<String>) throws -> [RecordedInstance] {
        try read { db in
            try Row.fetchAll(db, sql: """
                SELECT instances.id, instances.pid FROM instances JOIN endpoints ON endpoints.name = instances.endpoint
                WHERE instances.pid IS NOT NULL AND endpoints.target IN (SELECT value FROM json_each(?))
                """, arguments: [String(decoding: try JSONEncoder().encode(targets.sorted()), as: UTF8.self)])
                .map { RecordedInstance(id: $0["id"], pid: $0["pid"]) }
        }
    }
}
