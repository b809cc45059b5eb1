import Foundation
import GRDB

// The audit log: appended to, never edited.

extension Registry {
    /// Appends audit events in one transaction.
    public func record(_ events: [AuditEvent]) throws {
        guard !events.isEmpty else { return }
        try write { db in
            for event in events { try db.record(event) }
        }
    }

    /// Appends one audit event.
    public func record(_ event: AuditEvent) throws {
        try record([event])
    }
}
