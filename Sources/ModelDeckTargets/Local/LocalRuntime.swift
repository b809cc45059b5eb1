import AsyncHTTPClient
import Foundation
import Logging
import ModelDeckCore
import NIOCore

/// The local target's serverless runtime: per endpoint, a pool of model-server processes that start on
/// demand (cold start), serve `concurrency` requests each, queue at `max_instances`, and stop when idle past
/// `idle_timeout` (scale to zero; `min_instances` stay).
public actor LocalRuntime {
    public typealias InstanceState = ModelDeckCore.InstanceState

    /// A live instance as the `instances` table shows it.
    public struct InstanceSnapshot: Sendable, Equatable {
        public let id: String
        public let endpoint: String
        public let version: String
        public let state: InstanceState
        public let inFlight: Int
        public let maxConcurrency: Int
        public let pid: Int32?
        public let port: Int
        public let coldStartMilliseconds: Int?
        public let startedAt: Date
        public let lastUsedAt: Date?
    }

    final class Instance {
        let id: String
        let endpoint: String
        let version: String
        let port: Int
        let maxConcurrency: Int
        let startedAt = Date()
        var process: ChildProcess?
        var coldStartMilliseconds: Int?
        var processStartMilliseconds: Int?
        var modelLoadMilliseconds: Int?
        var readyAt: ContinuousClock.Instant?
        /// Where requests take and give back slots; what they change is kept there, under its lock.
        private let slots: InstanceSlots

        init(id: String, endpoint: String, version: String, port: Int, maxConcurrency: Int, slots: InstanceSlots) {
            self.id = id
            self.endpoint = endpoint
            self.version = version
            self.port = port
            self.maxConcurrency = maxConcurrency
            self.slots = slots
            slots.insert(id: id, endpoint: endpoint, version: version, port: port, maxConcurrency: maxConcurrency)
        }

        var ready: Bool {
            get { slots[id]?.ready ?? false }
            set { slots.update(id) { $0.ready = newValue } }
        }
        var inFlight: Int {
            get { slots[id]?.inFlight ?? 0 }
            set { slots.update(id) { $0.inFlight = newValue } }
        }
        var lastUsed: ContinuousClock.Instant {
            get { slots[id]?.lastUsed ?? .now }
            set { slots.update(id) { $0.lastUsed = newValue } }
        }
        var lastUsedAt: Date? { slots[id]?.lastUsedAt }
    }

    private struct Waiter {
        let id: UInt64
        let version: String
        /// The endpoint as the request saw it (its weights decide whose room it may take).
        let local: LocalEndpoint
        let continuation: CheckedContinuation<Lease?, Error>
    }

    let settings: LocalRuntimeSettings
    /// Artifacts checked against their digests before a cold start.
    let artifacts = ArtifactCheck()
    /// Versions whose starts keep failing, by endpoint and version id, and when they may be started again;
    /// `since`: when the version became crash-looping.
    var backoff: [String: (state: StartBackoff, notBefore: ContinuousClock.Instant, since: Date?)] = [:]
    let http: HTTPClient
    let logger: Logger
    var instances: [String: Instance] = [:]
    /// The instances' request slots, which requests take and give back without this actor.
    let slots = InstanceSlots()
    private var waiters: [String: [Waiter]] = [:]
    private var nextWaiter: UInt64 = 0
    var stopping = false
    /// How recently dead instances ended, by instance id, for the 502 of a request that was on one.
    private var exits: [String: String] = [:]
    /// Instances being stopped, so shutdown can wait for them.
    private var stopTasks: [String: Task<Void, Never>] = [:]
    /// The `min_instances` warm-up of each endpoint, while it runs.
    var warmUps: [String: Task<Void, Never>] = [:]
    /// Called with a line for the audit log when an instance dies on its own.
    let onInstanceExit: @Sendable (_ endpoint: String, _ message: String) async -> Void
    /// Called with a line for the audit log when a version becomes crash-looping.
    let onCrashLoop: @Sendable (_ endpoint: String, _ message: String) async -> Void

    /// `wake`: signalled when an instance starts, so the gateway's housekeeping, asleep while none ran, looks after it.
    public init(settings: LocalRuntimeSettings, http: HTTPClient, logger: Logger, wake: WakeSignal? = nil,
                onCrashLoop: @escaping @Sendable (String, String) async -> Void = { _, _ in },
                onInstanceExit: @escaping @Sendable (String, String) async -> Void = { _, _ in }) {
        self.settings = settings
        self.http = http
        self.logger = logger
        self.onCrashLoop = onCrashLoop
        self.onInstanceExit = onInstanceExit
        self.wake = wake
    }

    /// See `init`.
    let wake: WakeSignal?

    // MARK: - Requests

    /// A slot on an instance of `version` for one request: a free one, else a new one (cold start), else
    /// a place in the endpoint's bounded queue. A free slot is taken without waiting for this actor.
    public nonisolated func acquire(_ local: LocalEndpoint, version: ModelVersion) async throws -> Lease {
        if let lease = slots.take(endpoint: local.endpoint.name, version: version.id) { return lease }
        return try await acquireStartingOrQueuing(local, version: version)
    }

    /// A slot on a free instance of `version`, taken under the slots' lock; nil when there is none (then
    /// `acquire` starts or queues). Never waits: the gateway's hot path calls it on an event loop.
    public nonisolated func takeFree(endpoint: String, version: String) -> Lease? {
        slots.take(endpoint: endpoint, version: version)
    }

    private func acquireStartingOrQueuing(_ local: LocalEndpoint, version: ModelVersion) async throws -> Lease {
        let endpoint = local.endpoint
        while true {
            if stopping { throw RuntimeFailure.stopping }
            if let lease = slots.take(endpoint: endpoint.name, version: version.id) { return lease }
            let pool = instances.values.filter { $0.endpoint == endpoint.name }
            if pool.count < endpoint.maxInstances {
                if let waiting = crashLoopRefusal(endpoint: endpoint.name, version: version.id) { throw waiting }
                return try await coldStart(local, version: version, reserveSlot: true)
            }
            // At max: an idle instance of another version gives way rather than leave this request waiting,
            // unless that version is within its share (`mayTakeRoom`).
            if let idle = pool.first(where: { $0.ready && $0.inFlight == 0 && mayTakeRoom(of: $0.version, for: version.id, in: local, pool: pool) }),
               slots.closeIfIdle(idle.id) {
                retire(idle, reason: "making room for \(version.id)")
                continue
            }
            if let handedOver = try await wait(local, version: version.id) {
                return handedOver
            }
        }
    }

    /// The instances of `version` that another version's requests leave alone at `max_instances`: its part of
    /// the traffic times `max_instances`, rounded up (so at least one while it takes any traffic, and a 90/10
    /// split of 4 keeps 4 and 1); none once it takes no traffic.
    static func share(of version: String, in local: LocalEndpoint) -> Int {
        let weight = local.weights[version] ?? 0
        guard weight > 0 else { return 0 }
        return (weight * local.endpoint.maxInstances + 99) / 100
    }

    /// Whether a request for `version`, at `max_instances`, may retire an idle instance of `other`: when
    /// `version` has no instance, or `other` holds more than its share. `pool`: the endpoint's instances.
    /// Without the share, two versions that split the traffic took each other's idle instances in turn, a cold
    /// start each time: the demo's 25% canary saw half its requests start cold, and the gate rolled back a
    /// good version for it.
    func mayTakeRoom(of other: String, for version: String, in local: LocalEndpoint, pool: [Instance]) -> Bool {
        guard other != version else { return false }
        var mine = 0, theirs = 0
        for instance in pool {
            if instance.version == version { mine += 1 } else if instance.version == other { theirs += 1 }
        }
        return mine == 0 || theirs > Self.share(of: other, in: local)
    }

    /// Gives the slot back; a queued request for the same version takes it over directly. Without a queued
    /// request, this actor is not involved.
    public nonisolated func release(_ lease: Lease) async {
        guard slots.release(lease) else { return }
        await handOver(lease)
    }

    /// `release` without waiting: the slot is given back at once, and only when a request is queued does a task
    /// take it to the actor. Called on an event loop by the gateway's hot path.
    public nonisolated func releaseNow(_ lease: Lease) {
        guard slots.release(lease) else { return }
        Task { await self.handOver(lease) }
    }

    private func handOver(_ lease: Lease) {
        guard let instance = instances[lease.instanceID] else {
            wakeOne(endpoint: lease.endpoint, version: nil)
            return
        }
        guard let index = waiters[lease.endpoint]?.firstIndex(where: { $0.version == instance.version }) else {
            // Nobody waits for this version: a request waiting for another one may take this instance's place
            // now that it is idle (`acquireStartingOrQueuing` retires it), rather than wait out the queue timeout.
            if instance.inFlight == 0, let queue = waiters[lease.endpoint], !queue.isEmpty {
                let pool = instances.values.filter { $0.endpoint == lease.endpoint }
                if let first = queue.first(where: { mayTakeRoom(of: instance.version, for: $0.version, in: $0.local, pool: pool) }) {
                    wakeOne(endpoint: lease.endpoint, version: first.version)
                }
            }
            return
        }
        guard let handed = slots.take(instance: instance.id) else { return }
        let waiter = waiters[lease.endpoint]!.remove(at: index)
        slots.dequeued(endpoint: lease.endpoint)
        waiter.continuation.resume(returning: handed)
    }

    /// After a request to an instance failed at the HTTP level: if its process has ended, removes it and says
    /// how it ended; nil when the process is still running.
    public func processEnded(for lease: Lease) async -> String? {
        // The socket closes a moment before the exit status is there to read.
        for _ in 0..<25 {
            if let message = exits[lease.instanceID] { return message }
            guard let instance = instances[lease.instanceID], let process = instance.process else {
                return "instance \(lease.instanceID) was stopped"
            }
            if process.exitIfEnded() != nil {
                await removeDead(instance, process: process)
                continue
            }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return nil
    }

    /// Removes an instance whose process ended on its own, remembers how, and reports it once.
    func removeDead(_ instance: Instance, process: ChildProcess) async {
        guard instances[instance.id] != nil, let exit = process.exitIfEnded() else { return }
        remove(instance)
        let message = "instance \(instance.id) of \(instance.version) (pid \(process.pid)) \(exit)"
        if exits.count > 1_000 { exits.removeAll() }
        exits[instance.id] = message
        keepLog(of: process, endpoint: instance.endpoint, version: instance.version)
        await onInstanceExit(instance.endpoint, message)
        if let readyAt = instance.readyAt, ContinuousClock.now - readyAt < StartBackoff.shortLived {
            await startFailed(endpoint: instance.endpoint, version: instance.version, reason: message)
        }
    }

    /// Stops the idle instances of `version` of `endpoint` at once (a bench's cold phase: the next request
    /// starts a new one); busy ones finish their requests. Returns how many were stopped.
    @discardableResult
    public func stopIdle(endpoint: String, version: String) -> Int {
        let idle = instances.values.filter { $0.endpoint == endpoint && $0.version == version && $0.ready && slots.closeIfIdle($0.id) }
        for instance in idle { retire(instance, reason: "made cold for a bench") }
        return idle.count
    }

    public func snapshot() -> [InstanceSnapshot] {
        instances.values.map { instance in
            let state: InstanceState = !instance.ready ? .starting : instance.inFlight > 0 ? .busy : .idle
            return InstanceSnapshot(id: instance.id, endpoint: instance.endpoint, version: instance.version, state: state,
                                    inFlight: instance.inFlight, maxConcurrency: instance.maxConcurrency,
                                    pid: instance.process?.pid, port: instance.port,
                                    coldStartMilliseconds: instance.coldStartMilliseconds,
                                    startedAt: instance.startedAt, lastUsedAt: instance.lastUsedAt)
        }.sorted { $0.id < $1.id } + crashLoopingRows()
    }

    /// Stops every instance (SIGTERM, then SIGKILL after the grace period) and refuses new requests.
    public func shutdown() async {
        stopping = true
        slots.stop()
        for (endpoint, queue) in waiters {
            slots.dequeued(endpoint: endpoint, count: queue.count)
            queue.forEach { $0.continuation.resume(throwing: RuntimeFailure.stopping) }
        }
        waiters = [:]
        // Warm-ups first, so that no instance starts after the others were stopped.
        let starting = Array(warmUps.values)
        for task in starting { task.cancel() }
        for task in starting { await task.value }
        for instance in Array(instances.values) { retire(instance, reason: "gateway stopping") }
        for task in stopTasks.values { await task.value }
    }

    // MARK: - Internals

    private func wait(_ local: LocalEndpoint, version: String) async throws -> Lease? {
        let endpoint = local.endpoint
        let queued = waiters[endpoint.name]?.count ?? 0
        guard queued < settings.queueDepth else {
            throw RuntimeFailure.queueFull(endpoint: endpoint.name, maxInstances: endpoint.maxInstances, depth: queued)
        }
        // A last look for a free slot, and counted as queued in the same step: a slot given back from now on
        // comes to this actor (`handOver`), which finds this request in the queue.
        if let lease = slots.takeOrQueue(endpoint: endpoint.name, version: version) { return lease }
        nextWaiter += 1
        let id = nextWaiter
        let timeout = settings.queueTimeout
        let timer = Task { [weak self] in
            try? await Task.sleep(for: timeout)
            await self?.expire(waiter: id, endpoint: endpoint, waited: timeout)
        }
        defer { timer.cancel() }
        return try await withCheckedThrowingContinuation { continuation in
            waiters[endpoint.name, default: []].append(Waiter(id: id, version: version, local: local, continuation: continuation))
        }
    }

    private func expire(waiter id: UInt64, endpoint: Endpoint, waited: Duration) {
        guard let index = waiters[endpoint.name]?.firstIndex(where: { $0.id == id }) else { return }
        let waiter = waiters[endpoint.name]!.remove(at: index)
        slots.dequeued(endpoint: endpoint.name)
        waiter.continuation.resume(throwing: RuntimeFailure.queueTimeout(endpoint: endpoint.name, maxInstances: endpoint.maxInstances, waited: waited))
    }

    /// Lets one queued request try again (an instance went away, so a cold start may now be possible).
    func wakeOne(endpoint: String, version: String?) {
        guard var queue = waiters[endpoint], !queue.isEmpty else { return }
        let index = version.flatMap { v in queue.firstIndex { $0.version == v } } ?? 0
        let waiter = queue.remove(at: index)
        waiters[endpoint] = queue
        slots.dequeued(endpoint: endpoint)
        waiter.continuation.resume(returning: nil)
    }

    func remove(_ instance: Instance) {
        guard instances.removeValue(forKey: instance.id) != nil else { return }
        slots.remove(id: instance.id)
        wakeOne(endpoint: instance.endpoint, version: nil)
    }

    /// Takes an instance out of the pool at once and stops its process in the background.
    func retire(_ instance: Instance, reason: String) {
        remove(instance)
        guard let process = instance.process else { return }
        logger.info("stopping instance", metadata: ["instance": "\(instance.id)", "reason": "\(reason)"])
        let grace = settings.stopGrace
        let logPath = process.logPath
        stopTasks[instance.id] = Task {
            await process.stop(grace: grace)
            try? FileManager.default.removeItem(atPath: logPath)
            try? FileManager.default.removeItem(atPath: logPath + ".1")
            try? FileManager.default.removeItem(atPath: logPath.replacingOccurrences(of: ".log", with: ".tmp"))
            self.stopFinished(instance.id)
        }
    }

    private func stopFinished(_ id: String) { stopTasks[id] = nil }

}
