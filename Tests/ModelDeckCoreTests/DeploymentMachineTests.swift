import Foundation
import Testing
@testable import ModelDeckCore

struct DeploymentMachineTests {
    let t0 = Date(timeIntervalSince1970: 1_800_000_000)
    let slo = SLO(p99Milliseconds: 500, errorRatePPM: 10_000)
    let gate = RollbackGate(minimumRequests: 20)
    let healthy = VersionHealth(requests: 100, errors: 0, p99Milliseconds: 80)

    func deploy(_ strategy: String, state: DeploymentState = .pending, step: Int = 0, weight: Int = 0,
                bake: Int64 = 60, from: String? = "m@v1") -> Deployment {
        Deployment(id: 1, endpoint: "e", kind: .deploy, fromVersion: from, toVersion: "m@v2", strategy: strategy,
                   bakeSeconds: bake, state: state, step: step, currentWeight: weight, stepStartedAt: t0,
                   reason: nil, actor: "alice", createdAt: t0, updatedAt: t0)
    }

    func at(_ seconds: Double, provisioned: Bool = true, health: VersionHealth? = nil) -> DeploymentObservation {
        DeploymentObservation(now: t0.addingTimeInterval(seconds), provisioned: provisioned, health: health ?? healthy)
    }

    @Test func pendingProvisionsThenTheFirstStepStarts() {
        let (provisioning, events) = DeploymentMachine.step(deploy("canary:10%:5m"), slo: slo, gate: gate, observation: at(1))
        #expect(provisioning.state == .provisioning)
        #expect(events.map(\.kind) == ["deploy.provisioning"])
        #expect(DeploymentMachine.weights(for: provisioning) == nil)

        let (waiting, none) = DeploymentMachine.step(provisioning, slo: slo, gate: gate, observation: at(2, provisioned: false))
        #expect(waiting == provisioning)
        #expect(none.isEmpty)

        let (shifting, stepEvents) = DeploymentMachine.step(provisioning, slo: slo, gate: gate, observation: at(3))
        #expect(shifting.state == .shifting)
        #expect(shifting.currentWeight == 10)
        #expect(shifting.stepStartedAt == t0.addingTimeInterval(3))
        #expect(stepEvents == [DeploymentEvent(kind: "deploy.step", message: "step 1/2: m@v2 at 10% of e for 5m")])
        #expect(DeploymentMachine.weights(for: shifting) == ["m@v2": 10, "m@v1": 90])
    }

    @Test func aCanaryWaitsItsIntervalThenGoesToOneHundredAndBakes() {
        let canary = deploy("canary:10%:5m", state: .shifting, weight: 10)
        #expect(DeploymentMachine.step(canary, slo: slo, gate: gate, observation: at(299)).0 == canary)
        let (baking, events) = DeploymentMachine.step(canary, slo: slo, gate: gate, observation: at(300))
        #expect(baking.state == .baking)
        #expect(baking.currentWeight == 100)
        #expect(events.first?.message == "step 2/2: m@v2 at 100% of e; baking 1m")
        #expect(DeploymentMachine.weights(for: baking) == ["m@v2": 100])
        #expect(DeploymentMachine.step(baking, slo: slo, gate: gate, observation: at(359)).0 == baking)
        let (done, doneEvents) = DeploymentMachine.step(baking, slo: slo, gate: gate, observation: at(360))
        #expect(done.state == .succeeded)
        #expect(doneEvents.map(\.kind) == ["deploy.succeeded"])
    }

    @Test func linearTakesEveryStepInOrder() {
        var current = deploy("linear:25%:1m", state: .provisioning)
        var weights: [Int] = []
        var seconds = 0.0
        while current.state != .succeeded {
            let (next, _) = DeploymentMachine.step(current, slo: slo, gate: gate, observation: at(seconds))
            if next.currentWeight != current.currentWeight { weights.append(next.currentWeight) }
            current = next
            seconds += 30
        }
        #expect(weights == [25, 50, 75, 100])
    }

    @Test func allAtOnceGoesStraightToBaking() {
        let (baking, _) = DeploymentMachine.step(deploy("all-at-once", state: .provisioning), slo: slo, gate: gate, observation: at(1))
        #expect(baking.state == .baking)
        #expect(baking.currentWeight == 100)
    }

    @Test func anErrorRateOverTheSLOWhileShiftingRollsBackWithTheFigures() {
        let canary = deploy("canary:10%:5m", state: .shifting, weight: 10)
        let (rolling, events) = DeploymentMachine.step(canary, slo: slo, gate: gate,
                                                       observation: at(30, health: VersionHealth(requests: 40, errors: 12, p99Milliseconds: 300)))
        #expect(rolling.state == .rollingBack)
        #expect(rolling.alarm == "m@v2 error rate 30% (12 of 40 requests) is over the SLO of 1%")
        #expect(events.map(\.kind) == ["deploy.alarm"])
        #expect(DeploymentMachine.weights(for: rolling) == ["m@v1": 100])
        let (rolledBack, finalEvents) = DeploymentMachine.step(rolling, slo: slo, gate: gate, observation: at(31))
        #expect(rolledBack.state == .rolledBack)
        #expect(finalEvents.map(\.kind) == ["deploy.rolled_back"])
        #expect(DeploymentMachine.weights(for: rolledBack) == ["m@v1": 100])
    }

    @Test func aSlowP99WhileBakingRollsBack() {
        let baking = deploy("canary:10%:5m", state: .baking, step: 1, weight: 100)
        let (rolling, _) = DeploymentMachine.step(baking, slo: slo, gate: gate,
                                                  observation: at(10, health: VersionHealth(requests: 50, errors: 0, p99Milliseconds: 812.4)))
        #expect(rolling.alarm == "m@v2 warm p99 812 ms over 50 requests is over the SLO of 500 ms")
    }

    @Test func tooFewRequestsDecideNothing() {
        let canary = deploy("canary:10%:5m", state: .shifting, weight: 10)
        let (next, events) = DeploymentMachine.step(canary, slo: slo, gate: gate,
                                                    observation: at(30, health: VersionHealth(requests: 19, errors: 19, p99Milliseconds: 9_000)))
        #expect(next == canary)
        #expect(events.isEmpty)
    }

    @Test func aRollbackIntentFlipsAllTrafficInOneStep() {
        let rollback = Deployment(id: 2, endpoint: "e", kind: .rollback, fromVersion: "m@v2", toVersion: "m@v1",
                                  strategy: "all-at-once", bakeSeconds: 0, reason: "errors", actor: "bob",
                                  createdAt: t0, updatedAt: t0)
        #expect(DeploymentMachine.weights(for: rollback) == nil)
        let (done, events) = DeploymentMachine.step(rollback, slo: slo, gate: gate, observation: at(1))
        #expect(done.state == .succeeded)
        #expect(events == [DeploymentEvent(kind: "rollback.done", message: "all traffic of e on m@v1 (was m@v2): errors")])
        #expect(DeploymentMachine.weights(for: done) == ["m@v1": 100])
    }

    @Test func finishedDeploymentsDoNotMove() {
        for state in [DeploymentState.succeeded, .rolledBack, .failed, .cancelled] {
            let finished = deploy("canary:10%:5m", state: state, weight: 100)
            let (next, events) = DeploymentMachine.step(finished, slo: slo, gate: gate, observation: at(10_000))
            #expect(next == finished)
            #expect(events.isEmpty)
        }
    }

    @Test func aFirstDeployHasNothingToShareTrafficWith() {
        let first = deploy("canary:10%:5m", state: .shifting, weight: 10, from: nil)
        #expect(DeploymentMachine.weights(for: first) == ["m@v2": 100])
    }
}

extension DeploymentMachineTests {
    @Test func aVersionTheTargetCannotRunFailsTheDeployWithoutTouchingTraffic() {
        let provisioning = deploy("canary:10%:5m", state: .provisioning)
        let observation = DeploymentObservation(now: t0, provisioned: false, provisionError: "python9: command not found")
        let (failed, events) = DeploymentMachine.step(provisioning, slo: slo, gate: gate, observation: observation)
        #expect(failed.state == .failed)
        #expect(events.first?.message == "cannot provision m@v2 on e: python9: command not found; traffic unchanged")
        #expect(DeploymentMachine.weights(for: failed) == nil)
    }
}
