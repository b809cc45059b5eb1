import AsyncHTTPClient
import Foundation
import Logging
import ModelDeckCore
import NIOCore

/// Cold starts (a process launched and polled until healthy) and crash loops (starts that keep failing, backed
/// off), apart from the request path in `LocalRuntime.swift`.
extension LocalRuntime {
    // MARK: - Cold starts

    /// The lease of the request that started `instance` (its slot was reserved when the start began).
    func coldLease(_ instance: Instance) -> Lease {
        Lease(instanceID: instance.id, endpoint: instance.endpoint, version: instance.version, port: instance.port,
              coldStart: true, inFlight: slots.inFlight(endpoint: instance.endpoint, version: instance.version),
              processStartMilliseconds: instance.processStartMilliseconds, modelLoadMilliseconds: instance.modelLoadMilliseconds)
    }

    func coldStart(_ local: LocalEndpoint, version: ModelVersion, reserveSlot: Bool) async throws -> Lease {
        let endpoint = local.endpoint
        let port = try unusedPort()
        let id = "\(endpoint.name)-\(String(UInt32.random(in: 0...UInt32.max), radix: 16))"
        let instance = Instance(id: id, endpoint: endpoint.name, version: version.id, port: port, maxConcurrency: endpoint.concurrency,
                                slots: slots)
        if reserveSlot { instance.inFlight = 1 }
        instances[id] = instance
        wake?.signal()
        let started = ContinuousClock.now
        do {
            let process = try await launch(instance, version: version)
            instance.process = process
            let launched = ContinuousClock.now
            instance.processStartMilliseconds = (launched - started).wholeMilliseconds
            try await waitUntilHealthy(instance, process: process)
            instance.modelLoadMilliseconds = (ContinuousClock.now - launched).wholeMilliseconds
        } catch {
            if let process = instance.process {
                await process.stop(grace: .milliseconds(100))
                keepLog(of: process, endpoint: endpoint.name, version: version.id)
            }
            remove(instance)
            let reason = (error as? RuntimeFailure).map { "\($0.message)" } ?? "\(error)"
            logger.warning("cold start failed", metadata: ["endpoint": "\(endpoint.name)", "version": "\(version.id)", "reason": "\(reason)"])
            await startFailed(endpoint: endpoint.name, version: version.id, reason: reason)
            throw error as? RuntimeFailure ?? RuntimeFailure.startFailed(endpoint: endpoint.name, version: version.id, reason: reason)
        }
        if stopping || instances[id] == nil {
            retire(instance, reason: "gateway stopping")
            throw RuntimeFailure.stopping
        }
        let elapsed = ContinuousClock.now - started
        instance.coldStartMilliseconds = elapsed.wholeMilliseconds
        instance.ready = true
        instance.readyAt = .now
        instance.lastUsed = .now
        logger.info("instance ready", metadata: ["instance": "\(id)", "version": "\(version.id)", "cold_start_ms": "\(instance.coldStartMilliseconds ?? 0)"])
        if !reserveSlot { wakeOne(endpoint: endpoint.name, version: version.id) }
        return coldLease(instance)
    }

    /// A free loopback port that none of our instances holds: the kernel may hand a just-released port
    /// out again, and two instances told the same PORT would answer each other's health checks.
    func unusedPort() throws -> Int {
        let taken = Set(instances.values.map(\.port))
        for _ in 0..<20 {
            let port = try freeLoopbackPort()
            if !taken.contains(port) { return port }
        }
        throw SpawnError(message: "no free loopback port found in 20 tries")
    }

    func launch(_ instance: Instance, version: ModelVersion) async throws -> ChildProcess {
        guard let command = version.command else {
            throw RuntimeFailure.startFailed(endpoint: instance.endpoint, version: version.id, reason: "the version has no command")
        }
        do { try await artifacts.verify(version) } catch let error as ModelDeckError {
            throw RuntimeFailure.startFailed(endpoint: instance.endpoint, version: version.id, reason: error.message)
        }
        try FileManager.default.createDirectory(atPath: settings.runDirectory, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
        let temporary = settings.runDirectory + "/\(instance.id).tmp"
        try FileManager.default.createDirectory(atPath: temporary, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let environment = ModelEnvironment.make(inherited: ProcessInfo.processInfo.environment, port: instance.port,
                                                version: version, endpoint: instance.endpoint, instance: instance.id,
                                                temporaryDirectory: temporary)
        do {
            return try await ChildProcess.start(command, environment: environment, directory: version.workdir,
                                                logPath: settings.runDirectory + "/\(instance.id).log")
        } catch {
            throw RuntimeFailure.startFailed(endpoint: instance.endpoint, version: version.id, reason: "\(error)")
        }
    }

    /// Polls `GET /healthz` with a short backoff until it answers 2xx, the process exits, or the start times out.
    func waitUntilHealthy(_ instance: Instance, process: ChildProcess) async throws {
        let deadline = ContinuousClock.now + settings.startTimeout
        var delay = Duration.milliseconds(10)
        while ContinuousClock.now < deadline {
            if let exit = process.exitIfEnded() {
                let output = process.lastLogLines().joined(separator: " | ")
                throw RuntimeFailure.startFailed(endpoint: instance.endpoint, version: instance.version,
                                                 reason: "the process \(exit) before it was ready\(output.isEmpty ? "" : "; last output: \(output)")")
            }
            var request = HTTPClientRequest(url: "http://127.0.0.1:\(instance.port)/healthz")
            request.method = .GET
            if let response = try? await http.execute(request, timeout: .milliseconds(500)),
               (200..<300).contains(response.status.code) {
                return
            }
            try? await Task.sleep(for: delay)
            delay = min(delay * 2, .milliseconds(200))
        }
        let output = process.lastLogLines().joined(separator: " | ")
        throw RuntimeFailure.startFailed(endpoint: instance.endpoint, version: instance.version,
                                         reason: "not healthy within \(settings.startTimeout)\(output.isEmpty ? "" : "; last output: \(output)")")
    }

    // MARK: - Crash loops

    /// Counts a failed start (or an instance that died young); the third in a row makes the version
    /// crash-looping, which the audit log says once.
    func startFailed(endpoint: String, version: String, reason: String) async {
        let key = "\(endpoint) \(version)"
        var state = backoff[key]?.state ?? StartBackoff()
        let entered = state.fail(reason)
        backoff[key] = (state, ContinuousClock.now + state.delay, backoff[key]?.since ?? (state.isCrashLooping ? Date() : nil))
        guard entered else { return }
        logger.warning("crash-looping", metadata: ["endpoint": "\(endpoint)", "version": "\(version)", "reason": "\(reason)"])
        await onCrashLoop(endpoint, "\(version) is crash-looping: \(state.failures) starts failed in a row; starting it again "
                             + "after \(StartBackoff.firstDelay), doubling up to \(StartBackoff.maxDelay); last: \(reason)")
    }

    /// The refusal for a start of a crash-looping version before its next try is due; nil when it may start.
    func crashLoopRefusal(endpoint: String, version: String) -> RuntimeFailure? {
        guard let (state, notBefore, _) = backoff["\(endpoint) \(version)"], state.isCrashLooping else { return nil }
        let left = notBefore - ContinuousClock.now
        guard left > .zero else { return nil }
        return RuntimeFailure.startFailed(endpoint: endpoint, version: version,
                                          reason: "crash-looping (\(state.failures) starts failed in a row), next try in "
                                              + "\(left.formatted(.units(allowed: [.minutes, .seconds], width: .narrow))); last: \(state.lastReason)")
    }

    /// A `backoff` key ("<endpoint> <version>"; an endpoint name has no space) taken apart.
    static func endpointAndVersion(_ key: String) -> (endpoint: String, version: String) {
        let parts = key.split(separator: " ", maxSplits: 1).map(String.init)
        return (parts[0], parts.count > 1 ? parts[1] : "")
    }

    /// The `crash-looping` rows of the instance table: one per version that is backing off and has no
    /// instance up (one that comes up healthy clears it, though its failures still count until it has lived
    /// `StartBackoff.shortLived`). No process, no port; `startedAt` is when the crash loop began.
    func crashLoopingRows() -> [InstanceSnapshot] {
        backoff.compactMap { key, value in
            guard value.state.isCrashLooping, let since = value.since else { return nil }
            let (endpoint, version) = Self.endpointAndVersion(key)
            guard !instances.values.contains(where: { $0.endpoint == endpoint && $0.version == version && $0.ready }) else { return nil }
            return InstanceSnapshot(id: "\(endpoint) \(version) crash-looping", endpoint: endpoint, version: version, state: .crashLooping,
                                    inFlight: 0, maxConcurrency: 0, pid: nil, port: 0, coldStartMilliseconds: nil,
                                    startedAt: since, lastUsedAt: nil)
        }
    }

    /// One log per version for the last instance that failed or died (`<endpoint>@<version>.last.log`), so a
    /// crash loop leaves one file, not one per attempt.
    func keepLog(of process: ChildProcess, endpoint: String, version: String) {
        let kept = settings.runDirectory + "/\(endpoint)@\(version.split(separator: "@").last ?? "").last.log"
        try? FileManager.default.removeItem(atPath: kept)
        try? FileManager.default.moveItem(atPath: process.logPath, toPath: kept)
        try? FileManager.default.removeItem(atPath: process.logPath + ".1")
        try? FileManager.default.removeItem(atPath: process.logPath.replacingOccurrences(of: ".log", with: ".tmp"))
    }
}
