import Foundation
import Synchronization

/// The request slots of a runtime's instances, behind one lock: a request that finds a free slot takes it
/// (and gives it back) here, without waiting for the runtime actor, which only cold starts, queues, hands
/// slots to queued requests and stops instances.
///
/// The actor keeps the instances; this keeps what a request changes (in flight, last use, ready) and how many
/// requests of each endpoint are queued in the actor. Each step that must not race a request is one locked
/// step here: take a slot, or count oneself as queued when there is none (so a release in between either
/// gives its slot to a request or sees the queue); give a slot back and learn whether anyone is queued;
/// close an idle instance before stopping it (so no request takes a slot on an instance being stopped).
final class InstanceSlots: Sendable {
    struct Slot {
        let endpoint: String
        let version: String
        let port: Int
        let maxConcurrency: Int
        var ready = false
        var inFlight = 0
        var lastUsed = ContinuousClock.now
        var lastUsedAt: Date?
    }

    private struct VersionKey: Hashable {
        var endpoint: String
        var version: String
    }

    private struct State {
        var slots: [String: Slot] = [:]
        /// Instance ids by endpoint and version.
        var byVersion: [VersionKey: Set<String>] = [:]
        /// Requests queued in the runtime actor, by endpoint.
        var queued: [String: Int] = [:]
        var stopping = false

        func inFlight(endpoint: String, version: String) -> Int {
            (byVersion[VersionKey(endpoint: endpoint, version: version)] ?? []).reduce(0) { $0 + (slots[$1]?.inFlight ?? 0) }
        }

        /// A slot on the least busy ready instance of `version` with room, taken. Every request does this under
        /// the lock: each instance id is looked up once, and its slot read in place (not copied out).
        mutating func take(endpoint: String, version: String) -> Lease? {
            let key = VersionKey(endpoint: endpoint, version: version)
            guard !stopping, let ids = byVersion[key] else { return nil }
            var best: (id: String, index: Dictionary<String, Slot>.Index)?, bestInFlight = Int.max, total = 0
            for id in ids {
                guard let index = slots.index(forKey: id) else { continue }
                let inFlight = slots.values[index].inFlight
                total += inFlight
                if inFlight < bestInFlight, slots.values[index].ready, inFlight < slots.values[index].maxConcurrency {
                    (best, bestInFlight) = ((id, index), inFlight)
                }
            }
            guard let best else { return nil }
            slots.values[best.index].inFlight += 1
            return Lease(instanceID: best.id, endpoint: endpoint, version: version, port: slots.values[best.index].port, coldStart: false,
                         inFlight: total + 1)
        }
    }

    private let state = Mutex(State())

    /// Starts tracking an instance (not ready: it takes no request until `ready`).
    func insert(id: String, endpoint: String, version: String, port: Int, maxConcurrency: Int) {
        state.withLock { state in
            state.slots[id] = Slot(endpoint: endpoint, version: version, port: port, maxConcurrency: maxConcurrency)
            state.byVersion[VersionKey(endpoint: endpoint, version: version), default: []].insert(id)
        }
    }

    func remove(id: String) {
        state.withLock { state in
            guard let slot = state.slots.removeValue(forKey: id) else { return }
            let key = VersionKey(endpoint: slot.endpoint, version: slot.version)
            state.byVersion[key]?.remove(id)
            if state.byVersion[key]?.isEmpty == true { state.byVersion[key] = nil }
        }
    }

    subscript(id: String) -> Slot? { state.withLock { $0.slots[id] } }

    func update(_ id: String, _ change: (inout Slot) -> Void) {
        state.withLock { state in
            if state.slots[id] != nil { change(&state.slots[id]!) }
        }
    }

    /// A slot on a free instance of `version`, or nil (then the runtime actor decides).
    func take(endpoint: String, version: String) -> Lease? {
        state.withLock { $0.take(endpoint: endpoint, version: version) }
    }

    /// A slot on one instance, if it is ready and has room.
    func take(instance id: String) -> Lease? {
        state.withLock { state in
            guard !state.stopping, let slot = state.slots[id], slot.ready, slot.inFlight < slot.maxConcurrency else { return nil }
            state.slots[id]!.inFlight += 1
            return Lease(instanceID: id, endpoint: slot.endpoint, version: slot.version, port: slot.port, coldStart: false,
                         inFlight: state.inFlight(endpoint: slot.endpoint, version: slot.version))
        }
    }

    /// Requests in flight on all instances of `version`.
    func inFlight(endpoint: String, version: String) -> Int {
        state.withLock { $0.inFlight(endpoint: endpoint, version: version) }
    }

    /// A slot on a free instance of `version`; when there is none, the request is counted as queued in the
    /// same locked step (the caller must then queue it, and `dequeued` it when it leaves the queue).
    func takeOrQueue(endpoint: String, version: String) -> Lease? {
        state.withLock { state in
            if let lease = state.take(endpoint: endpoint, version: version) { return lease }
            state.queued[endpoint, default: 0] += 1
            return nil
        }
    }

    func dequeued(endpoint: String, count: Int = 1) {
        state.withLock { state in
            state.queued[endpoint, default: 0] -= count
            if state.queued[endpoint, default: 0] <= 0 { state.queued[endpoint] = nil }
        }
    }

    /// Gives a slot back; true when a request of the endpoint is queued in the actor (it may take this slot),
    /// or the instance is gone (a queued request may now cold start).
    func release(_ lease: Lease) -> Bool {
        let now = ContinuousClock.now, at = Date()
        return state.withLock { state in
            // One lookup of the id, the slot changed in place: every request does this under the lock.
            guard let index = state.slots.index(forKey: lease.instanceID) else { return true }
            state.slots.values[index].inFlight -= 1
            state.slots.values[index].lastUsed = now
            state.slots.values[index].lastUsedAt = at
            return !state.queued.isEmpty && state.queued[lease.endpoint, default: 0] > 0
        }
    }

    /// Takes an idle instance out of service: true when it had no request in flight (it takes none from now
    /// on); false when a request took a slot on it in the meantime.
    func closeIfIdle(_ id: String) -> Bool {
        state.withLock { state in
            guard let slot = state.slots[id], slot.inFlight == 0 else { return false }
            state.slots[id]!.ready = false
            return true
        }
    }

    /// From now on, no slot is taken.
    func stop() { state.withLock { $0.stopping = true } }
}
