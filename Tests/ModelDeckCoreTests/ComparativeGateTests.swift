import Foundation
import Testing
@testable import ModelDeckCore

/// The gate that compares the new version with the one it replaces, and waits for evidence at low traffic.
struct ComparativeGateTests {
    let t0 = Date(timeIntervalSince1970: 1_800_000_000)
    let slo = SLO(p99Milliseconds: 1_000, errorRatePPM: 500_000)

    /// Standard normal table values: P(Z > 1.645) = 0.05, P(Z > 1.96) = 0.025, P(Z > 2.326) = 0.01.
    @Test func theNormalTailMatchesTheTable() {
        #expect(abs(ProportionTest.upperTail(1.6449) - 0.05) < 0.0001)
        #expect(abs(ProportionTest.upperTail(1.9600) - 0.025) < 0.0001)
        #expect(abs(ProportionTest.upperTail(2.3263) - 0.01) < 0.0001)
        #expect(abs(ProportionTest.upperTail(0) - 0.5) < 1e-12)
    }

    /// 30 errors in 1,000 against 15 in 1,000: pooled p = 0.0225, z = 0.015 / √(0.0225 · 0.9775 · 0.002) = 2.2617,
    /// p = 0.0119 — higher at 95% confidence, not at 99%.
    @Test func twoProportionZTestAgainstAWorkedExample() throws {
        let test = try #require(ProportionTest(events: 30, of: 1_000, versus: 15, of: 1_000))
        #expect(abs(test.z - 2.2617) < 0.0001)
        #expect(abs(test.pValue - 0.0119) < 0.0001)
        #expect(test.higher(atConfidence: 0.95))
        #expect(!test.higher(atConfidence: 0.99))
        // 3 in 100 against 2 in 100 is no evidence: z = 0.453, p = 0.325.
        let close = try #require(ProportionTest(events: 3, of: 100, versus: 2, of: 100))
        #expect(abs(close.pValue - 0.3253) < 0.0001)
        #expect(!close.higher(atConfidence: 0.95))
        #expect(ProportionTest(events: 0, of: 100, versus: 0, of: 100) == nil)
        #expect(ProportionTest(events: 1, of: 0, versus: 0, of: 100) == nil)
    }

    @Test func aVersionTwiceAsSlowInsideTheSLOFailsTheRelativeGateNamingBothP99s() throws {
        let gate = RollbackGate(minimumRequests: 20, tolerance: 0.2, slackMilliseconds: 30)
        let new = VersionHealth(requests: 40, errors: 0, p99Milliseconds: 400)
        let old = VersionHealth(requests: 160, errors: 0, p99Milliseconds: 200)
        let alarm = try #require(gate.alarm(for: new, version: "m@v2", baseline: old, baselineVersion: "m@v1", slo: slo))
        #expect(alarm == "m@v2 warm p99 400 ms is over m@v1's 200 ms × 1.20 = 240 ms (40 and 160 requests over the same window)")
        // Twice as slow but within the slack (8 ms against 4 ms): noise, no alarm.
        #expect(gate.alarm(for: VersionHealth(requests: 40, errors: 0, p99Milliseconds: 8), version: "m@v2",
                           baseline: VersionHealth(requests: 160, errors: 0, p99Milliseconds: 4), baselineVersion: "m@v1", slo: slo) == nil)
        // Within the tolerance: no alarm; nor below the minimum of requests.
        #expect(gate.alarm(for: VersionHealth(requests: 40, errors: 0, p99Milliseconds: 239), version: "m@v2", baseline: old, baselineVersion: "m@v1", slo: slo) == nil)
        #expect(gate.alarm(for: VersionHealth(requests: 19, errors: 0, p99Milliseconds: 900), version: "m@v2", baseline: old, baselineVersion: "m@v1", slo: slo) == nil)
        // The SLO stays a ceiling, named first.
        let ceiling = gate.alarm(for: VersionHealth(requests: 40, errors: 0, p99Milliseconds: 1_200), version: "m@v2", baseline: old, baselineVersion: "m@v1", slo: slo)
        #expect(ceiling == "m@v2 warm p99 1200 ms over 40 requests is over the SLO of 1000 ms")
    }

    @Test func aHigherErrorRateFailsByTheTestWithBothVersionsFigures() throws {
        let gate = RollbackGate(minimumRequests: 20, confidence: 0.95)
        let alarm = try #require(gate.alarm(for: VersionHealth(requests: 1_000, errors: 30, p99Milliseconds: 50), version: "m@v2",
                                            baseline: VersionHealth(requests: 1_000, errors: 15, p99Milliseconds: 50), baselineVersion: "m@v1", slo: slo))
        #expect(alarm == "m@v2 error rate 3% (30 of 1000) is higher than m@v1's 1.5% (15 of 1000): one-sided two-proportion z-test z = 2.26, p = 0.0119 < 0.05 at 95% confidence")
        let strict = RollbackGate(minimumRequests: 20, confidence: 0.99)
        #expect(strict.alarm(for: VersionHealth(requests: 1_000, errors: 30, p99Milliseconds: 50), version: "m@v2",
                             baseline: VersionHealth(requests: 1_000, errors: 15, p99Milliseconds: 50), baselineVersion: "m@v1", slo: slo) == nil)
    }

    @Test func coldStartsPastWhatItsInstancesNeedAreCompared() {
        let gate = RollbackGate(minimumRequests: 20, expectedColdStarts: 4)
        let old = VersionHealth(requests: 400, errors: 0, p99Milliseconds: 50, coldStarts: 1)
        // Four instances started: expected of a new version.
        #expect(gate.alarm(for: VersionHealth(requests: 100, errors: 0, p99Milliseconds: 50, coldStarts: 4), version: "m@v2", baseline: old, baselineVersion: "m@v1", slo: slo) == nil)
        let alarm = gate.alarm(for: VersionHealth(requests: 100, errors: 0, p99Milliseconds: 50, coldStarts: 20), version: "m@v2", baseline: old, baselineVersion: "m@v1", slo: slo)
        #expect(alarm?.hasPrefix("m@v2 cold starts 20 of 100 requests (16 past the 4 its instances need) are more than m@v1's 1 of 400") == true, "\(alarm ?? "")")
    }

    // MARK: low traffic

    func canary(step: Int = 0) -> Deployment {
        Deployment(id: 1, endpoint: "e", kind: .deploy, fromVersion: "m@v1", toVersion: "m@v2", strategy: "canary:10%:5m",
                   bakeSeconds: 60, state: .shifting, step: step, currentWeight: 10, stepStartedAt: t0,
                   reason: nil, actor: "alice", createdAt: t0, updatedAt: t0)
    }

    func tick(_ gate: RollbackGate, at seconds: Double, requests: Int64) -> (Deployment, [DeploymentEvent]) {
        DeploymentMachine.step(canary(), slo: slo, gate: gate, observation: DeploymentObservation(
            now: t0.addingTimeInterval(seconds), provisioned: true,
            health: VersionHealth(requests: requests, errors: 0, p99Milliseconds: 50),
            baseline: VersionHealth(requests: requests * 9, errors: 0, p99Milliseconds: 50)))
    }

    @Test func aStepWaitsForEvidenceThenTheLowTrafficActionDecides() {
        let waitGate = RollbackGate(minimumRequests: 50, onLowTraffic: .wait, lowTrafficDeadlineSeconds: 600)
        #expect(waitGate.waitingFor(VersionHealth(requests: 12, errors: 0, p99Milliseconds: nil)) == "12 of 50 requests")
        #expect(waitGate.waitingFor(VersionHealth(requests: 50, errors: 0, p99Milliseconds: nil)) == nil)
        // Time is up but only 12 requests: the step waits, before the deadline and (wait) after it.
        #expect(tick(waitGate, at: 300, requests: 12).0 == canary())
        #expect(tick(waitGate, at: 100_000, requests: 12).0 == canary())
        // With the evidence, it steps on.
        #expect(tick(waitGate, at: 301, requests: 50).0.currentWeight == 100)

        var fail = waitGate
        fail.onLowTraffic = .fail
        #expect(tick(fail, at: 899, requests: 12).0 == canary())
        let (failed, failEvents) = tick(fail, at: 900, requests: 12)
        #expect(failed.state == .rollingBack)
        #expect(failed.alarm == "not enough evidence: m@v2 had 12 of 50 requests 10m after its step's time (on_low_traffic: fail)")
        #expect(failEvents.map(\.kind) == ["deploy.alarm"])

        var promote = waitGate
        promote.onLowTraffic = .promote
        let (promoted, events) = tick(promote, at: 900, requests: 12)
        #expect(promoted.state == .baking)
        #expect(events.map(\.kind) == ["deploy.low_traffic", "deploy.step"])
    }
}
