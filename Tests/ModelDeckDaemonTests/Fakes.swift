import Foundation
import Logging
import ModelDeckCore
import ModelDeckTargets
import Synchronization
@testable import ModelDeckDaemon

/// A target driver that does what a test tells it: routes by remembering, fails or hangs on demand, and
/// says what it was asked.
final class FakeDriver: TargetDriver {
    struct State {
        /// What it was last made to route, per endpoint.
        var routed: [String: [String: Int]] = [:]
        /// What the platform says it routes, when someone changed it by hand (else `routed`).
        var changedByHand: [String: [String: Int]] = [:]
        var setWeightsCalls: [(endpoint: String, weights: [String: Int])] = []
        var liveWeightsCalls = 0
        /// liveWeights fails this many more times.
        var liveWeightsFailures = 0
        /// setWeights fails this many more times.
        var failures = 0
        /// setWeights waits (until cancelled) on these endpoints.
        var hanging: Set<String> = []
        var hung = 0
        var cancelled = 0
        var pings: [(endpoint: String, version: String, count: Int)] = []
        var pingFailures = 0
        /// Set: the target cannot be driven, and says why.
        var unavailable: String?
        /// What `collectMetrics` answers, and the versions it was asked about.
        var measured = PlatformMetrics()
        var collectedFor: [[String]] = []
        /// The probes sent, by endpoint, and what each answers.
        var probes: [String] = []
        var probeAnswer = PingResult(status: 200, coldStart: false, milliseconds: 7)
        /// Asked at each `setWeights` (what the registry records then, say); its answers are kept in order.
        var observe: (@Sendable (_ endpoint: String) -> [String: Int])?
        var observed: [[String: Int]] = []
    }

    let target: Target
    let isRemote: Bool
    /// False by default: what it routes is changed by hand in tests, like a platform's.
    let routesByRegistry: Bool
    let state = Mutex(State())

    convenience init(target: String, remote: Bool, routesByRegistry: Bool = false) {
        self.init(Target(name: target, kind: .local), remote: remote, routesByRegistry: routesByRegistry)
    }

    /// A fake driver of `target` as declared (a kind priced by its own settings, say).
    init(_ target: Target, remote: Bool, routesByRegistry: Bool = false) {
        self.target = target
        isRemote = remote
        self.routesByRegistry = routesByRegistry
    }

    var unavailableReason: String? { state.withLock { $0.unavailable } }
    var collectsPlatformMetrics: Bool { isRemote }

    func provision(_ version: ModelVersion, on endpoint: Endpoint) async throws {}

    func setWeights(_ weights: [String: Int], on settings: Endpoint, versions: [String: ModelVersion]) async throws {
        let endpoint = settings.name
        if let observe = state.withLock({ $0.observe }) {
            let seen = observe(endpoint)
            state.withLock { $0.observed.append(seen) }
        }
        let (fail, hang) = state.withLock { state -> (Bool, Bool) in
            state.setWeightsCalls.append((endpoint, weights))
            if state.failures > 0 {
                state.failures -= 1
                return (true, false)
            }
            return (false, state.hanging.contains(endpoint))
        }
        if fail { throw ModelDeckError("throttled by the fake platform") }
        if hang {
            state.withLock { $0.hung += 1 }
            do { try await Task.sleep(for: .seconds(3_600)) } catch {
                state.withLock { $0.cancelled += 1 }
                throw error
            }
        }
        state.withLock { state in
            state.routed[endpoint] = weights.filter { $0.value > 0 }
            state.changedByHand[endpoint] = nil
        }
    }

    func liveWeights(of settings: Endpoint, versions: [String: ModelVersion]) async throws -> [String: Int] {
        let endpoint = settings.name
        return try state.withLock { state in
            state.liveWeightsCalls += 1
            if state.liveWeightsFailures > 0 {
                state.liveWeightsFailures -= 1
                throw ModelDeckError("the fake platform cannot be read")
            }
            return state.changedByHand[endpoint] ?? state.routed[endpoint] ?? [:]
        }
    }

    func collectMetrics(of endpoint: Endpoint, versions: [ModelVersion], from: Date, to: Date) async throws -> PlatformMetrics {
        state.withLock { state in
            state.collectedFor.append(versions.map(\.id).sorted())
            return state.measured
        }
    }

    func probe(_ version: ModelVersion, of endpoint: Endpoint) async throws -> PingResult {
        state.withLock { state in
            state.probes.append(endpoint.name)
            return state.probeAnswer
        }
    }

    func ping(_ version: ModelVersion, of endpoint: Endpoint, count: Int) async throws -> [PingResult] {
        try state.withLock { state in
            state.pings.append((endpoint.name, version.id, count))
            if state.pingFailures > 0 {
                state.pingFailures -= 1
                throw ModelDeckError("nothing answers")
            }
        }
        return (0..<count).map { _ in PingResult(status: 200, coldStart: false, milliseconds: 5) }
    }
}

/// The drivers of a test: one fake per target.
struct FakeDrivers: DriverSource {
    let drivers: [String: FakeDriver]

    subscript(target: String) -> (any TargetDriver)? { drivers[target] }

    func refresh() async throws {}
}

/// A registry with two endpoints of one model in two versions: `a` on a target answered at once, `b` on one
/// whose calls are remote (a cloud platform).
struct Fixture {
    let folder: String
    let registry: Registry
    let here: FakeDriver
    let there = FakeDriver(target: "there", remote: true)
    var drivers: FakeDrivers { FakeDrivers(drivers: ["here": here, "there": there]) }

    /// `hereRoutesByRegistry`: `here` routes by the registry's traffic table, like the local kind's gateway.
    init(hereRoutesByRegistry: Bool = false) throws {
        here = FakeDriver(target: "here", remote: false, routesByRegistry: hereRoutesByRegistry)
        folder = NSTemporaryDirectory() + "modeldeck-daemon-test-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let deck = folder + "/deck.yaml"
        try """
        apiVersion: modeldeck/v1
        targets:
          - name: here
            kind: local
          - name: there
            kind: local
        models:
          - name: m
            versions:
              - {version: v1, digest: "sha256:\(String(repeating: "a", count: 64))", size: 1MB, command: ["true"], memory: 128MB}
              - {version: v2, digest: "sha256:\(String(repeating: "b", count: 64))", size: 1MB, command: ["true"], memory: 128MB}
        endpoints:
          - name: a
            model: m
            target: here
            memory: 256MB
            traffic: {v1: 100}
          - name: b
            model: m
            target: there
            memory: 256MB
            traffic: {v1: 100}
        """.write(toFile: deck, atomically: true, encoding: .utf8)
        registry = try Registry(path: folder + "/registry.sqlite")
        try DeckApplier.apply(try DeckReader.read(path: deck), to: registry, source: "test")
    }

    func cleanUp() { try? FileManager.default.removeItem(atPath: folder) }

    var logger: Logger { Logger(label: "test") }
}

/// Polls `condition` (a background step finishing) for up to 10 s of real time.
func eventually(_ condition: () async throws -> Bool) async rethrows -> Bool {
    for _ in 0..<1_000 {
        if try await condition() { return true }
        try? await Task.sleep(for: .milliseconds(10))
    }
    return try await condition()
}
