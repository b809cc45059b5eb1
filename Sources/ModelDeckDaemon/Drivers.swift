import Foundation
import Logging
import ModelDeckCore
import ModelDeckTargets
import Synchronization

/// The daemon's target drivers, one per target in the registry, kept in step with the `targets` table: a
/// target that `apply` adds or changes while the daemon runs gets its driver at the next look (at most once
/// a second), without a restart. Before, a deploy to a target added after the daemon started waited forever.
public final class Drivers: Sendable {
    private let registry: Registry
    private let gateway: (target: String, address: GatewayAddress)?
    private let aws: TargetDrivers.AWSEnvironment
    private let logger: Logger
    private let state = Mutex<(drivers: [String: any TargetDriver], lastLook: ContinuousClock.Instant?)>(([:], nil))

    static let lookInterval: Duration = .seconds(1)

    /// `gateway`: the local target this daemon serves, and where its gateway listens.
    public init(registry: Registry, gateway: (target: String, address: GatewayAddress)?,
                aws: TargetDrivers.AWSEnvironment = TargetDrivers.AWSEnvironment(), logger: Logger) throws {
        self.registry = registry
        self.gateway = gateway
        self.aws = aws
        self.logger = logger
        try refresh(force: true)
    }

    public subscript(target: String) -> (any TargetDriver)? { state.withLock { $0.drivers[target] } }

    /// Re-reads the targets (a few rows) unless that was done within the last second, and makes a driver
    /// for each new or changed one. A target that cannot be driven is said once in the audit log.
    public func refresh(force: Bool = false) throws {
        let due = state.withLock { state in
            guard force || state.lastLook.map({ ContinuousClock.now - $0 >= Self.lookInterval }) ?? true else { return false }
            state.lastLook = .now
            return true
        }
        guard due else { return }
        let targets = try registry.read { db in try Target.fetchAll(db) }
        let current = state.withLock { $0.drivers }
        var next: [String: any TargetDriver] = [:]
        var unavailable: [(Target, String)] = []
        for target in targets {
            if let existing = current[target.name], existing.target == target {
                next[target.name] = existing
                continue
            }
            let address = gateway?.target == target.name ? gateway!.address : GatewayAddress()
            let driver = TargetDrivers.make(for: target, registry: registry, gateway: address, aws: aws)
            if let reason = driver.unavailableReason { unavailable.append((target, reason)) }
            next[target.name] = driver
        }
        if !unavailable.isEmpty {
            // Said before the new drivers are kept: if the write fails, the next look says it again.
            let now = Date()
            try registry.write { db in
                for (target, reason) in unavailable {
                    try db.record(AuditEvent(at: now, actor: "daemon", kind: "target.unavailable",
                                             message: "target \(target.label) cannot be driven: \(reason)"))
                }
            }
            for (target, reason) in unavailable {
                logger.warning("target cannot be driven", metadata: ["target": "\(target.name)", "reason": "\(reason)"])
            }
        }
        state.withLock { $0.drivers = next }
    }
}
