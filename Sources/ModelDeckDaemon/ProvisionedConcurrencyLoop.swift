import Foundation
import Logging
import ModelDeckCore
import ModelDeckTargets
import ServiceLifecycle
import Synchronization

/// Applies each endpoint's provisioned-concurrency intent (`modeldeck warm E --provisioned N [--schedule CRON]`)
/// to its target: `ProvisionedConcurrencyPlanner.step` decides, from the intent, what the target has as last
/// seen and the clock, whether to put, delete or check the configuration; the loop does it, stores what the
/// platform answered, and retries a failed call after a pause that doubles (5 s up to 5 minutes). Each
/// endpoint's calls run in their own task, never two at once for one endpoint, so a slow platform holds up
/// no other endpoint.
struct ProvisionedConcurrencyLoop: Service {
    let registry: Registry
    let drivers: any DriverSource
    let logger: Logger
    /// How often the intents are re-read: a `warm --provisioned` takes effect within it.
    var interval: Duration = .seconds(1)

    final class InFlight: Sendable {
        private let names = Mutex(Set<String>())
        /// Marks `name` in flight; false when it already was.
        func start(_ name: String) -> Bool { names.withLock { $0.insert(name).inserted } }
        func finish(_ name: String) { _ = names.withLock { $0.remove(name) } }
    }

    func run() async throws {
        let inFlight = InFlight()
        await withDiscardingTaskGroup { group in
            while !Task.isCancelled && !Task.isShuttingDownGracefully {
                for work in await due(now: Date()) where inFlight.start(work.record.endpoint) {
                    group.addTask {
                        defer { inFlight.finish(work.record.endpoint) }
                        await apply(work, now: Date())
                    }
                }
                try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
            }
        }
    }

    /// One endpoint's action, with what it needs to do it.
    struct Work: Sendable {
        var record: ProvisionedConcurrencyRecord
        var endpoint: Endpoint
        var driver: any TargetDriver
        var action: ProvisionedConcurrencyPlanner.Action
    }

    /// The actions due at `now`, endpoint by endpoint.
    func due(now: Date) async -> [Work] {
        do {
            let records = try await registry.perform { try $0.provisionedConcurrencies() }
            guard !records.isEmpty else { return [] }
            try await drivers.refresh()
            let endpoints = Dictionary(try await registry.perform { try $0.endpoints() }.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
            return records.compactMap { record in
                let action = ProvisionedConcurrencyPlanner.step(record.intent, status: record.status, now: now).action
                guard action != .none, let endpoint = endpoints[record.endpoint],
                      let driver = drivers[endpoint.target], driver.unavailableReason == nil else { return nil }
                return Work(record: record, endpoint: endpoint, driver: driver, action: action)
            }
        } catch {
            logger.error("provisioned concurrency: reading the registry failed", metadata: ["error": "\(error)"])
            return []
        }
    }

    /// Does `work.action` on the target and stores the outcome, with an audit event when something changed or failed.
    func apply(_ work: Work, now: Date) async {
        let name = work.record.endpoint
        let previous = work.record.status
        var status: ProvisionedConcurrencyStatus
        var event: (kind: String, message: String)?
        do {
            let config: ProvisionedConcurrencyConfig?
            switch work.action {
            case .put(let count): config = try await work.driver.setProvisionedConcurrency(count, on: work.endpoint)
            case .delete: config = try await work.driver.setProvisionedConcurrency(0, on: work.endpoint)
            case .check: config = try await work.driver.provisionedConcurrency(of: work.endpoint)
            case .none: return
            }
            status = ProvisionedConcurrencyPlanner.answered(work.action, config: config, previous: previous, now: now)
            switch work.action {
            case .put(let count):
                event = ("provisioned.applied", "provisioned concurrency of \(name): \(previous.applied) → \(count) environments on the alias (\(config?.status ?? "asked"))")
            case .delete:
                event = ("provisioned.removed", "provisioned concurrency of \(name) removed (was \(previous.applied))")
            case .check where status.platformStatus != previous.platformStatus:
                event = ("provisioned.status", "provisioned concurrency of \(name): \(status.available ?? 0) of \(status.applied) environments \(status.platformStatus ?? "gone")")
            default:
                break
            }
            if let error = status.lastError { event = ("provisioned.failed", "provisioned concurrency of \(name): \(error); next try in \(Format.duration(seconds: Int64(ProvisionedConcurrencyPlanner.retries.pause(afterFailures: status.failures))))") }
        } catch {
            status = ProvisionedConcurrencyPlanner.failed(previous, error: "\(error)", now: now)
            let pause = Int64(ProvisionedConcurrencyPlanner.retries.pause(afterFailures: status.failures))
            event = ("provisioned.failed", "provisioned concurrency of \(name): \(error); try \(status.failures), next in \(Format.duration(seconds: pause))")
            logger.warning("provisioned concurrency failed", metadata: ["endpoint": "\(name)", "error": "\(error)"])
        }
        do {
            try await registry.perform { [status, event] in try $0.recordProvisioned(endpoint: name, status: status, event: event, now: now) }
        } catch {
            logger.error("provisioned concurrency: recording failed", metadata: ["endpoint": "\(name)", "error": "\(error)"])
        }
    }
}
