import Foundation
import Logging
import ModelDeckCore
import ModelDeckTargets
import Testing
@testable import ModelDeckDaemon

/// Probes of endpoints someone else runs: when each is due, and what the loop records.
struct ProbeLoopTests {
    let now = Date(timeIntervalSince1970: 1_800_000_000)

    @Test func aProbeIsDueAnIntervalAfterTheLastAndNeverTwiceAtOnce() {
        let intervals: [String: Int64] = ["never": 30, "due": 30, "early": 30, "busy": 10]
        let last = ["due": now.addingTimeInterval(-30), "early": now.addingTimeInterval(-20), "busy": now.addingTimeInterval(-60)]
        let plan = ProbeSchedule.plan(intervals: intervals, lastProbe: last, inFlight: ["busy"], now: now)
        #expect(plan.due == ["due", "never"], "never probed: at once; probed 30 s ago on a 30 s interval: now")
        #expect(plan.next == now.addingTimeInterval(10), "the early one falls due in 10 s; the busy one waits for its answer")
        #expect(ProbeSchedule.plan(intervals: [:], lastProbe: [:], inFlight: [], now: now).next == nil)
    }

    @Test func probesAreRecordedApartFromUserTrafficAndPings() async throws {
        let folder = NSTemporaryDirectory() + "modeldeck-probe-test-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let deck = folder + "/deck.yaml"
        try """
        targets:
          - {name: run, kind: http, url: 'http://127.0.0.1:9/predict', probe_interval: 1s}
        models:
          - name: m
            versions:
              - {version: v1, digest: "sha256:\(String(repeating: "a", count: 64))", size: 1MB, image: x, memory: 128MB}
        endpoints:
          - {name: observed, model: m, target: run, memory: 512MB, traffic: {v1: 100}}
        """.write(toFile: deck, atomically: true, encoding: .utf8)
        let registry = try Registry(path: folder + "/registry.sqlite")
        try DeckApplier.apply(try DeckReader.read(path: deck), to: registry, source: "test")
        let driver = FakeDriver(target: "run", remote: true)
        driver.state.withLock { $0.probeAnswer = PingResult(status: 503, coldStart: true, milliseconds: 40) }
        let loop = ProbeLoop(registry: registry, drivers: FakeDrivers(drivers: ["run": driver]), logger: Logger(label: "test"))
        let task = Task { try await loop.run() }
        defer { task.cancel() }
        let window = LiveWindow(last: 600, now: Date().addingTimeInterval(10))
        #expect(try await eventually { (try registry.liveFigures(window: window)["observed"]?.total.probes ?? 0) >= 2 })
        let figures = try #require(try registry.liveFigures(window: window)["observed"]?.total)
        #expect(figures.requests == 0 && figures.pings == 0 && figures.errors == 0, "neither user traffic nor pings")
        #expect(figures.probeErrors == figures.probes && figures.probeColdStarts == figures.probes && figures.availability == 0)
        #expect(driver.state.withLock { Set($0.probes) } == ["observed"])
    }
}
