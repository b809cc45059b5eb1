import Foundation
import Logging
import ModelDeckCore
import ModelDeckTargets
import Synchronization

/// Where the daemon's loops find each target's driver: `Drivers` in the daemon, a fake in tests.
public protocol DriverSource: Sendable {
    subscript(target: String) -> (any TargetDriver)? { get }
    /// Follows the targets table (added or changed targets get their driver).
    func refresh() async throws
    /// Moves whenever a driver was added, replaced or removed: a loop that keeps the drivers it looked up
    /// looks them up again then.
    var generation: Int { get }
}

extension DriverSource {
    public var generation: Int { 0 }
}

/// The daemon's target drivers, one per target in the registry, kept in step with the `targets` table: a
/// target that `apply` adds or changes while the daemon runs gets its driver at the next look (at most once
/// a second), without a restart. Before, a deploy to a target added after the daemon started waited forever.
public final class Drivers: DriverSource {
    private let registry: Registry
    private let gateway: (target: String, address: GatewayAddress)?
    private let aws: TargetDrivers.AWSEnvironment
    private let logger: Logger
    /// The drivers, when the targets were last looked at, and the catalog generation they were made from.
    private let state = Mutex<(drivers: [String: any TargetDriver], lastLook: ContinuousClock.Instant?, generation: Int64?, changes: Int)>(([:], nil, nil, 0))

    static let lookInterval: Duration = .seconds(1)

    /// `gateway`: the local target this daemon serves, and where its gateway listens.
    public init(registry: Registry, gateway: (target: String, address: GatewayAddress)?,
                aws: TargetDrivers.AWSEnvironment = TargetDrivers.AWSEnvironment(), logger: Logger) throws {
        self.registry = registry
        self.gateway = gateway
        self.aws = aws
        self.logger = logger
        _ = claimLook(force: true)
        try load(force: true)
    }

    public subscript(target: String) -> (any TargetDriver)? { state.withLock { $0.drivers[target] } }

    public var generation: Int { state.withLock { $0.changes } }

    /// Re-reads the targets (a few rows) unless that was done within the last second, and makes a driver
    /// for each new or changed one. A target that cannot be driven is said once in the audit log.
    /// Between two looks it costs no hop to the registry's threads: the reconciler calls it at every tick, and
    /// a rollback's tick waits for it.
    public func refresh() async throws {
        guard claimLook(force: false) else { return }
        try await registry.perform { [self] _ in try load(force: false) }
    }

    /// Whether a look is due (always when `force`); if so, it counts as taken now.
    private func claimLook(force: Bool) -> Bool {
        state.withLock { state in
            guard force || state.lastLook.map({ ContinuousClock.now - $0 >= Self.lookInterval }) ?? true else { return false }
            state.lastLook = .now
            return true
        }
    }

    private func load(force: Bool) throws {
        // Targets are read again only when the catalog moved: at 10,000 targets, reading them every second
        // was a large share of an idle daemon's work.
        let (generation, read) = try registry.targets(unless: force ? nil : state.withLock { $0.generation })
        guard let targets = read else { return }
        let current = state.withLock { $0.drivers }
        var next: [String: any TargetDriver] = [:]
        var unavailable: [(Target, String)] = []
        var made = false
        for target in targets {
            if let existing = current[target.name], existing.target == target {
                next[target.name] = existing
                continue
            }
            let address = gateway?.target == target.name ? gateway!.address : GatewayAddress()
            let registry = self.registry
            let driver = TargetDrivers.make(for: target, gateway: address, routes: { endpoint in
                try await registry.perform { try $0.desiredWeights(endpoint: endpoint) }
            }, aws: aws)
            if let reason = driver.unavailableReason { unavailable.append((target, reason)) }
            next[target.name] = driver
            made = true
        }
        if !unavailable.isEmpty {
            // Said before the new drivers are kept: if the write fails, the next look says it again.
            let now = Date()
            try registry.record(unavailable.map { target, reason in
                AuditEvent(at: now, actor: "daemon", kind: "target.unavailable", message: "target \(target.label) cannot be driven: \(reason)")
            })
            for (target, reason) in unavailable {
                logger.warning("target cannot be driven", metadata: ["target": "\(target.name)", "reason": "\(reason)"])
            }
        }
        let changed = made || current.keys.contains { next[$0] == nil }
        state.withLock {
            $0.drivers = next
            $0.generation = generation
            if changed { $0.changes += 1 }
        }
    }
}
