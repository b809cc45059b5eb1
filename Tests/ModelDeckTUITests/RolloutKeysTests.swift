import Foundation
import ModelDeckCore
import Testing
@testable import ModelDeckTUI

/// The endpoint detail's keys for the deploy in flight: each opens a dialog that states the effect and asks
/// a reason, then submits the command.
struct RolloutKeysTests {
    func detail(deploying: Bool) -> Dashboard {
        var summary = Fixtures.endpoint("sentiment", traffic: [VersionWeight(version: "m@v1", weight: 80), VersionWeight(version: "m@v2", weight: 20)])
        if deploying {
            summary.deployment = Deployment(id: 4, endpoint: "sentiment", kind: .deploy, fromVersion: "m@v1", toVersion: "m@v2",
                                            strategy: "steps:20%:5m,pause,60%:5m,100%", bakeSeconds: 120, state: .shifting, step: 0,
                                            currentWeight: 20, reason: nil, actor: "alice", createdAt: Fixtures.now, updatedAt: Fixtures.now)
        }
        var dashboard = Dashboard(data: Fixtures.data([summary]))
        dashboard.handle(.enter)
        return dashboard
    }

    @Test func promoteToOneHundredStatesTheEffectAndNeedsAReason() {
        var dashboard = detail(deploying: true)
        #expect(dashboard.handle(.character("F")) == [])
        var screen = Fixtures.render(&dashboard)
        #expect(screen.text.contains("Promote to 100% the deploy on sentiment"))
        #expect(screen.text.contains("m@v2 goes to 100% of sentiment now, then bakes 2m."))
        #expect(dashboard.handle(.enter) == [])
        screen = Fixtures.render(&dashboard)
        #expect(screen.text.contains("reason is required"))
        Fixtures.type("looks good", into: &dashboard)
        #expect(dashboard.handle(.enter) == [.submit(.rollout(endpoint: "sentiment", command: .promote(full: true, skipBake: false, override: false), reason: "looks good"))])
    }

    @Test func eachKeyStepsTheDeploy() {
        let keys: [(Character, RolloutCommand)] = [("s", .pause), ("u", .resume), ("+", .promote(full: false, skipBake: false, override: false)), ("x", .abort)]
        for (key, command) in keys {
            var dashboard = detail(deploying: true)
            dashboard.handle(.character(key))
            Fixtures.type("why", into: &dashboard)
            #expect(dashboard.handle(.enter) == [.submit(.rollout(endpoint: "sentiment", command: command, reason: "why"))])
        }
    }

    @Test func withoutADeployInFlightTheKeysSaySoAndOpenNothing() {
        var dashboard = detail(deploying: false)
        #expect(dashboard.handle(.character("s")) == [])
        #expect(dashboard.dialog == nil)
        #expect(Fixtures.render(&dashboard).text.contains("sentiment has no deploy in flight to pause"))
        var readOnly = Dashboard(data: Fixtures.data([Fixtures.endpoint("e")]), readOnly: true)
        readOnly.handle(.enter)
        readOnly.handle(.character("x"))
        #expect(readOnly.dialog == nil)
    }
}
