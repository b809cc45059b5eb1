import Foundation
import GRDB

/// Applies a deck to the registry: plan and changes in one IMMEDIATE transaction, with one audit event
/// per change, so a concurrent writer can neither interleave nor be lost.
public enum DeckApplier {
    /// Returns the plan that was carried out (empty when the registry already matched the deck).
    @discardableResult
    public static func apply(_ deck: Deck, to registry: Registry, source: String, actor: String = Actor.current,
                             dryRun: Bool = false) throws -> ApplyPlan {
        if dryRun {
            return try registry.read { db in try ApplyPlan.make(deck: deck, registry: RegistrySnapshot.load(db)) }
        }
        return try registry.write { db in
            // Planned inside the write transaction: what was compared is what is changed.
            let plan = try ApplyPlan.make(deck: deck, registry: RegistrySnapshot.load(db))
            let now = Date()
            for change in plan.changes {
                switch change {
                case .createTarget(let target): try target.insert(db)
                case .updateTarget(_, let target): try target.update(db)
                case .createModel(let model): try model.insert(db)
                case .updateModel(_, let model): try model.update(db)
                case .createVersion(var version):
                    version.createdBy = actor
                    try version.insert(db)
                case .createEndpoint(let endpoint, let traffic):
                    try endpoint.insert(db)
                    if !traffic.isEmpty { try TrafficSplit(traffic, endpoint: endpoint.name).save(db, endpoint: endpoint.name) }
                case .updateEndpoint(_, let endpoint): try endpoint.update(db)
                case .createNotification(let channel): try channel.insert(db, now: now)
                case .updateNotification(_, let channel): try channel.update(db, now: now)
                }
                try db.record(AuditEvent(at: now, actor: actor, endpoint: change.endpointName, kind: change.eventKind,
                                         message: "\(change.summary) (apply -f \(source))"))
            }
            return plan
        }
    }
}
