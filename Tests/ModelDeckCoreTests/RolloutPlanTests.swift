import Foundation
import Testing
@testable import ModelDeckCore

/// Step plans, and the pause / resume / promote / abort / set-weight commands on a deploy in flight.
struct RolloutPlanTests {
    let t0 = Date(timeIntervalSince1970: 1_800_000_000)
    let slo = SLO(p99Milliseconds: 500, errorRatePPM: 10_000)
    let gate = RollbackGate(minimumRequests: 20)
    let healthy = VersionHealth(requests: 100, errors: 0, p99Milliseconds: 80)
    let plan = "steps:5%:2m,25%:5m,pause,50%:10m,100%"

    func deploy(_ strategy: String, state: DeploymentState = .shifting, step: Int = 0, weight: Int = 5,
                paused: Bool = false) -> Deployment {
        Deployment(id: 7, endpoint: "e", kind: .deploy, fromVersion: "m@v1", toVersion: "m@v2", strategy: strategy,
                   bakeSeconds: 60, state: state, step: step, currentWeight: weight, stepStartedAt: t0,
                   reason: nil, pausedAt: paused ? t0 : nil, actor: "alice", createdAt: t0, updatedAt: t0)
    }

    func tick(_ deployment: Deployment, at seconds: Double) -> (Deployment, [DeploymentEvent]) {
        DeploymentMachine.step(deployment, slo: slo, gate: gate,
                               observation: DeploymentObservation(now: t0.addingTimeInterval(seconds), provisioned: true, health: healthy))
    }

    func control(_ deployment: Deployment, _ command: RolloutCommand, at seconds: Double = 10,
                 waiting: String? = nil) throws -> (Deployment, [DeploymentEvent]) {
        try DeploymentMachine.control(deployment, command, actor: "bob", reason: "looks fine", gateWaitsFor: waiting,
                                      now: t0.addingTimeInterval(seconds))
    }

    // MARK: plans

    @Test func aStepPlanParsesPrintsBackAndGivesItsBake() throws {
        let (steps, bake) = try RolloutStep.plan(parsing: "5%:2m,25%:5m,pause,50%:10m,100%:5m")
        #expect(steps == [.shift(percent: 5, seconds: 120), .shift(percent: 25, seconds: 300), .pause,
                          .shift(percent: 50, seconds: 600), .shift(percent: 100, seconds: 0)])
        #expect(bake == 300)
        #expect(DeploymentStrategy.steps(steps).description == plan)
        #expect(try DeploymentStrategy(parsing: plan) == .steps(steps))
        #expect(DeploymentStrategy.steps(steps).steps == [5, 25, 25, 50, 100])
        #expect(try RolloutStep.plan(parsing: "10%:1m,100%").bakeSeconds == nil)
    }

    @Test func canaryAndLinearAreShorthandsForPlans() throws {
        #expect(try DeploymentStrategy(parsing: "canary:10%:5m").plan == [.shift(percent: 10, seconds: 300), .shift(percent: 100, seconds: 0)])
        #expect(try DeploymentStrategy(parsing: "linear:50%:1m").plan == [.shift(percent: 50, seconds: 60), .shift(percent: 100, seconds: 0)])
        #expect(DeploymentStrategy.allAtOnce.plan == [.shift(percent: 100, seconds: 0)])
        #expect(try DeploymentStrategy.rollout(parsing: "canary:10%:5m").strategy == .canary(percent: 10, intervalSeconds: 300))
        #expect(try DeploymentStrategy.rollout(parsing: "10%:5m,100%:2m").bakeSeconds == 120)
    }

    @Test(arguments: [
        ("5%:2m,50%:10m", "step plan '5%:2m,50%:10m' ends at 50%, not 100%; end it with 100% (the bake runs there), e.g. 5%:2m,25%:5m,pause,50%:10m,100%"),
        ("5%:2m,120%:1m,100%", "step plan '5%:2m,120%:1m,100%': step 120% is over 100%"),
        ("50%:2m,25%:5m,100%", "step plan '50%:2m,25%:5m,100%': step 25% comes after 50%; weights may only go up"),
        ("10%,100%", "step plan '10%,100%': step '10%' needs a duration longer than 0s, e.g. 10%:5m"),
        ("100%,pause", "step plan '100%,pause': 100% must be the last step (the bake runs there)"),
        ("10%:5m,half,100%", "step plan '10%:5m,half,100%': step 'half' is not PERCENT%:DURATION or pause; e.g. 5%:2m,25%:5m,pause,50%:10m,100%"),
        ("", "step plan is empty; list the steps, e.g. 5%:2m,25%:5m,pause,50%:10m,100%"),
        ("0%:1m,100%", "step plan '0%:1m,100%': step 0% must be at least 1%"),
    ])
    func badPlansAreRefusedWithOneLine(_ text: String, _ message: String) {
        #expect(throws: ModelDeckError(message)) { try RolloutStep.plan(parsing: text) }
    }

    @Test func aPlanWalksItsStepsAndWaitsAtThePause() {
        let provisioning = deploy(plan, state: .provisioning, weight: 0)
        var (current, events) = tick(provisioning, at: 0)
        #expect(current.currentWeight == 5)
        #expect(events.map(\.message) == ["step 1/5: m@v2 at 5% of e for 2m"])
        #expect(tick(current, at: 119).0 == current)
        (current, events) = tick(current, at: 120)
        #expect(current.currentWeight == 25)
        (current, events) = tick(current, at: 420)
        #expect(current.step == 2)
        #expect(current.currentWeight == 25)
        #expect(current.pausedAt == t0.addingTimeInterval(420))
        #expect(events.map(\.message) == ["step 3/5: pause, m@v2 holds 25% of e until resume or promote"])
        #expect(DeploymentMachine.weights(for: current) == ["m@v2": 25, "m@v1": 75])
        // A pause step waits for a person, however long.
        #expect(tick(current, at: 1_000_000).0 == current)
        // The gate still watches a paused deploy.
        let bad = DeploymentMachine.step(current, slo: slo, gate: gate, observation: DeploymentObservation(
            now: t0.addingTimeInterval(500), provisioned: true, health: VersionHealth(requests: 40, errors: 20, p99Milliseconds: 50)))
        #expect(bad.0.state == .rollingBack)
    }

    // MARK: control

    @Test func resumePastAPauseStepStartsTheNextStep() throws {
        let paused = deploy(plan, step: 2, weight: 25, paused: true)
        let (resumed, events) = try control(paused, .resume, at: 30)
        #expect(resumed.step == 3)
        #expect(resumed.currentWeight == 50)
        #expect(resumed.pausedAt == nil)
        #expect(resumed.stepStartedAt == t0.addingTimeInterval(30))
        #expect(events.map(\.kind) == ["deploy.resumed", "deploy.step"])
    }

    @Test func pauseHoldsTheWeightAndTheClockThenResumeRestartsTheStep() throws {
        let running = deploy(plan, step: 1, weight: 25)
        let (paused, events) = try control(running, .pause)
        #expect(paused.pausedAt == t0.addingTimeInterval(10))
        #expect(paused.pauseNote == "paused by bob: looks fine")
        #expect(events == [DeploymentEvent(kind: "deploy.paused", message: "pause e with m@v2 at 25%: looks fine")])
        #expect(tick(paused, at: 10_000).0 == paused)
        #expect(throws: ModelDeckError("deployment #7 (m@v2, shifting) is already paused (paused by bob: looks fine); resume or promote it")) {
            try control(paused, .pause)
        }
        let (resumed, _) = try control(paused, .resume, at: 100)
        #expect(resumed.pausedAt == nil)
        #expect(resumed.currentWeight == 25)
        #expect(resumed.stepStartedAt == t0.addingTimeInterval(100))
        #expect(throws: ModelDeckError("deployment #7 (m@v2, shifting) is not paused; there is nothing to resume")) {
            try control(resumed, .resume)
        }
    }

    @Test func promoteGoesToTheNextStepOrToOneHundred() throws {
        let running = deploy(plan, step: 0, weight: 5)
        let (next, events) = try control(running, .promote(full: false, skipBake: false, override: false))
        #expect(next.currentWeight == 25)
        #expect(events.map(\.kind) == ["deploy.promoted", "deploy.step"])
        let (full, _) = try control(running, .promote(full: true, skipBake: false, override: false))
        #expect(full.state == .baking)
        #expect(full.currentWeight == 100)
        let (done, doneEvents) = try control(running, .promote(full: true, skipBake: true, override: false))
        #expect(done.state == .succeeded)
        #expect(doneEvents.map(\.kind) == ["deploy.promoted", "deploy.step", "deploy.succeeded"])
        #expect(DeploymentMachine.weights(for: done) == ["m@v2": 100])
        // Promoting out of a pause step leaves the pause.
        let (past, _) = try control(deploy(plan, step: 2, weight: 25, paused: true), .promote(full: false, skipBake: false, override: false))
        #expect(past.pausedAt == nil)
        #expect(past.currentWeight == 50)
    }

    @Test func promoteWhileBakingNeedsSkipBake() throws {
        let baking = deploy(plan, state: .baking, step: 4, weight: 100)
        #expect(throws: ModelDeckError("deployment #7 (m@v2, baking) already sends 100% to m@v2 and bakes; add --skip-bake to end the bake now")) {
            try control(baking, .promote(full: true, skipBake: false, override: false))
        }
        #expect(try control(baking, .promote(full: false, skipBake: true, override: false)).0.state == .succeeded)
    }

    @Test func promotePastAWaitingGateNeedsOverrideAndIsRecordedAsOne() throws {
        let running = deploy(plan, step: 0, weight: 5)
        #expect(throws: ModelDeckError("deployment #7 (m@v2, shifting): the gate has not passed, it waits for 12 of 50 requests; add --override to promote without that evidence")) {
            try control(running, .promote(full: false, skipBake: false, override: false), waiting: "12 of 50 requests")
        }
        let (next, events) = try control(running, .promote(full: false, skipBake: false, override: true), waiting: "12 of 50 requests")
        #expect(next.currentWeight == 25)
        #expect(events.map(\.kind) == ["deploy.promoted", "deploy.override", "deploy.step"])
        #expect(events[1].message == "override of the gate on e (it waited for 12 of 50 requests) by bob: looks fine")
    }

    @Test func abortRollsBack() throws {
        let (aborted, events) = try control(deploy(plan, step: 1, weight: 25), .abort)
        #expect(aborted.state == .rollingBack)
        #expect(aborted.alarm == "aborted by bob: looks fine")
        #expect(events.map(\.kind) == ["deploy.aborted"])
        #expect(DeploymentMachine.weights(for: aborted) == ["m@v1": 100])
        #expect(tick(aborted, at: 20).0.state == .rolledBack)
    }

    @Test func setWeightMovesTheSplitAndPausesThePlan() throws {
        let (set, events) = try control(deploy(plan, step: 1, weight: 25), .setWeight(version: "m@v1", percent: 90))
        #expect(set.currentWeight == 10)
        #expect(set.pausedAt != nil)
        #expect(DeploymentMachine.weights(for: set) == ["m@v2": 10, "m@v1": 90])
        #expect(events.map(\.kind) == ["deploy.weight_set"])
        #expect(tick(set, at: 100_000).0 == set)
        // Resume puts the plan's weight back.
        #expect(try control(set, .resume).0.currentWeight == 25)
        #expect(throws: ModelDeckError("m@v9 takes no part in deployment #7 (m@v2, shifting); name m@v2 or m@v1")) {
            try control(set, .setWeight(version: "m@v9", percent: 10))
        }
    }

    @Test func nothingToSteerIsRefused() {
        for state in [DeploymentState.succeeded, .rolledBack, .failed, .rollingBack] {
            #expect(throws: ModelDeckError("endpoint 'e' has no deploy in flight to promote")) {
                try control(deploy(plan, state: state), .promote(full: false, skipBake: false, override: false))
            }
        }
        #expect(throws: ModelDeckError("deployment #7 (m@v2, provisioning) takes no traffic yet; there is nothing to promote")) {
            try control(deploy(plan, state: .provisioning, weight: 0), .promote(full: false, skipBake: false, override: false))
        }
    }
}
