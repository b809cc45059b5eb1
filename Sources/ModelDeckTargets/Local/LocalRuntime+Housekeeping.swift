import Foundation
import ModelDeckCore

/// Housekeeping (idle instances reclaimed, dead ones removed, `min_instances` started), apart from the request
/// path in `LocalRuntime.swift`.
extension LocalRuntime {
    /// Stops instances idle past their endpoint's idle timeout (keeping `min_instances` of the versions that
    /// take traffic), removes dead ones, starts instances up to `min_instances`, and stops instances of
    /// endpoints no longer served. A version that no longer takes traffic keeps its idle instances until the
    /// idle timeout, as Lambda keeps an old version's environments: a rollback to it finds them warm, and a
    /// version short of room takes theirs (`acquire`).
    ///
    /// Returns when a pass next has something to do without a request or a change of `endpoints`
    /// (`HousekeepingSchedule.nextDue`); nil when nothing runs.
    @discardableResult
    public func maintain(_ endpoints: [String: LocalEndpoint]) async -> ContinuousClock.Instant? {
        for instance in Array(instances.values) where instance.ready {
            if let process = instance.process, process.exitIfEnded() != nil { await removeDead(instance, process: process) }
        }
        let now = ContinuousClock.now
        // A version no longer served (rolled back, or its endpoint gone) is not started again: its crash loop ends.
        backoff = backoff.filter { key, _ in
            let (endpoint, version) = Self.endpointAndVersion(key)
            return endpoints[endpoint]?.weights[version] != nil
        }
        for instance in instances.values {
            if let process = instance.process { process.capLog(at: settings.maxLogBytes) }
            if let readyAt = instance.readyAt, now - readyAt >= StartBackoff.shortLived {
                backoff["\(instance.endpoint) \(instance.version)"] = nil
            }
        }
        // Ready instances of versions that take traffic, per endpoint: counted once, not per instance (a fleet has thousands).
        var warm: [String: Int] = [:]
        for instance in instances.values where instance.ready && endpoints[instance.endpoint]?.weights[instance.version] != nil {
            warm[instance.endpoint, default: 0] += 1
        }
        // When each idle instance that stays can be reclaimed (a busy one's release records an invocation, which
        // wakes housekeeping).
        var reclaimable: [ContinuousClock.Instant] = []
        for instance in Array(instances.values) where instance.ready && instance.inFlight == 0 {
            guard let local = endpoints[instance.endpoint] else {
                if slots.closeIfIdle(instance.id) { retire(instance, reason: "endpoint no longer served") }
                continue
            }
            let timeout: Duration = .seconds(local.endpoint.idleTimeoutSeconds)
            let idle = now - instance.lastUsed >= timeout
            if !idle { reclaimable.append(instance.lastUsed + timeout) }
            if local.weights[instance.version] == nil {
                if idle, slots.closeIfIdle(instance.id) {
                    retire(instance, reason: "\(instance.version) no longer takes traffic, idle for \(local.endpoint.idleTimeoutSeconds)s")
                }
                continue
            }
            if idle, warm[instance.endpoint, default: 0] > local.endpoint.minInstances, slots.closeIfIdle(instance.id) {
                retire(instance, reason: "idle for \(local.endpoint.idleTimeoutSeconds)s")
                warm[instance.endpoint, default: 0] -= 1
            }
        }
        for local in endpoints.values where local.endpoint.minInstances > 0 && !stopping {
            let pool = instances.values.filter { $0.endpoint == local.endpoint.name }
            let count = pool.filter { local.weights[$0.version] != nil }.count
            guard count < local.endpoint.minInstances,
                  let primary = TrafficSplit.primary(of: local.weights), let version = local.versions[primary],
                  crashLoopRefusal(endpoint: local.endpoint.name, version: version.id) == nil else { continue }
            // Idle instances of versions without traffic give way to the ones min_instances asks for.
            var room = local.endpoint.maxInstances - pool.count
            for old in pool where room < local.endpoint.minInstances - count
                && local.weights[old.version] == nil && old.ready && old.inFlight == 0 && slots.closeIfIdle(old.id) {
                retire(old, reason: "making room for \(version.id)")
                room += 1
            }
            // One warm-up per endpoint at a time: a pass that comes while instances are still starting does not
            // start them again. Kept, so that a shutdown cancels and awaits it.
            guard warmUps[local.endpoint.name] == nil else { continue }
            let name = local.endpoint.name, needed = local.endpoint.minInstances - count
            warmUps[name] = Task {
                await withTaskGroup(of: Void.self) { group in
                    for _ in 0..<needed { group.addTask { _ = try? await self.coldStart(local, version: version, reserveSlot: false) } }
                }
                self.warmUpFinished(name)
            }
        }
        return HousekeepingSchedule.nextDue(now: now, reclaimable: reclaimable, startRetries: backoff.values.map(\.notBefore),
                                            live: !instances.isEmpty || !warmUps.isEmpty, reapInterval: settings.maintenanceInterval)
    }

    func warmUpFinished(_ endpoint: String) { warmUps[endpoint] = nil }
}
