import Foundation
import ModelDeckCore
import Testing
@testable import ModelDeckTUI

struct ActionTests {
    let fleet = [
        Fixtures.endpoint("sentiment", production: true,
                          traffic: [VersionWeight(version: "m@v1", weight: 90), VersionWeight(version: "m@v2", weight: 10)]),
        Fixtures.endpoint("zeta"),
    ]

    func dashboard(readOnly: Bool = false) -> Dashboard {
        var data = Fixtures.data(fleet)
        let version = { (id: String) in
            Listings.VersionRow(id: id, model: "m", version: String(id.split(separator: "@")[1]), digest: "sha256:0", sizeBytes: 1,
                                memoryMB: 512, gpus: 0, command: nil, image: nil, artifact: nil, createdBy: nil, createdAt: Fixtures.now)
        }
        data.versions = [version("m@v1"), version("m@v2"), version("m@v3")]
        var dashboard = Dashboard(data: data, readOnly: readOnly)
        dashboard.handle(.character("N")) // name, reversed: zeta first, so sentiment is not…
        dashboard.handle(.down)           // …and the selection moves onto it
        return dashboard
    }

    @Test func rollbackAsksTheRegistryThenConfirmsWithAReason() {
        var dashboard = dashboard()
        #expect(dashboard.focusedEndpoint == "sentiment")
        #expect(dashboard.handle(.character("r")) == [.planRollback(endpoint: "sentiment")])
        dashboard.openRollback(endpoint: "sentiment", from: "m@v2", to: "m@v1")
        var screen = Fixtures.render(&dashboard)
        #expect(screen.text.contains("Roll back sentiment"))
        #expect(screen.text.contains("from m@v2 to m@v1 at once"))
        #expect(screen.text.contains("PRODUCTION"))
        // No reason: refused, and the dialog says why.
        #expect(dashboard.handle(.enter) == [])
        screen = Fixtures.render(&dashboard)
        #expect(screen.text.contains("reason is required"))
        Fixtures.type("v2 errors", into: &dashboard)
        #expect(dashboard.handle(.enter) == [.submit(.rollback(endpoint: "sentiment", to: "m@v1", reason: "v2 errors"))])
        dashboard.succeeded("rollback #7 of sentiment requested: m@v2 → m@v1")
        screen = Fixtures.render(&dashboard)
        #expect(dashboard.dialog == nil)
        #expect(screen.line(29).contains("rollback #7 of sentiment requested"))
    }

    @Test func escapeCancelsADialogAndWritesNothing() {
        var dashboard = dashboard()
        dashboard.handle(.character("w"))
        #expect(dashboard.dialog != nil)
        #expect(dashboard.handle(.escape) == [])
        #expect(dashboard.dialog == nil)
        #expect(Fixtures.render(&dashboard).text.contains("cancelled: nothing was written"))
    }

    @Test func deployOffersTheOtherVersionsAndChecksTheStrategy() {
        var dashboard = dashboard()
        dashboard.handle(.character("d"))
        var screen = Fixtures.render(&dashboard)
        #expect(screen.text.contains("Deploy to sentiment"))
        #expect(screen.text.contains("◀ m@v3 ▶"), "newest version first")
        dashboard.handle(.right)
        #expect(Fixtures.render(&dashboard).text.contains("◀ m@v2 ▶"))
        dashboard.handle(.left)
        dashboard.handle(.tab) // strategy
        for _ in 0..<20 { dashboard.handle(.backspace) }
        Fixtures.type("canary:200%:1m", into: &dashboard)
        dashboard.handle(.enter)
        screen = Fixtures.render(&dashboard)
        #expect(screen.text.contains("must be between 1% and 99%"))
        for _ in 0..<20 { dashboard.handle(.backspace) }
        Fixtures.type("linear:25%:1m", into: &dashboard)
        screen = Fixtures.render(&dashboard)
        #expect(screen.text.contains("25% → 50% → 75% → 100%"), "the dialog states the steps")
        dashboard.handle(.tab)
        dashboard.handle(.tab) // reason, required on production
        #expect(dashboard.handle(.enter) == [])
        Fixtures.type("retrained", into: &dashboard)
        #expect(dashboard.handle(.enter) == [.submit(.deploy(endpoint: "sentiment", version: "m@v3", strategy: "linear:25%:1m",
                                                              bake: "5m", reason: "retrained"))])
    }

    @Test func keepWarmDialogShowsOldAndNewPolicy() {
        var dashboard = dashboard()
        dashboard.handle(.character("w"))
        for _ in 0..<20 { dashboard.handle(.backspace) }
        Fixtures.type("every 2m x3", into: &dashboard)
        let screen = Fixtures.render(&dashboard)
        #expect(screen.text.contains("every 5m → every 2m ×3"))
        #expect(dashboard.handle(.enter) == [.submit(.keepWarm(endpoint: "sentiment", policy: "every 2m x3"))])
    }

    @Test func aBadKeepWarmPolicyIsRefusedInTheDialog() {
        var dashboard = dashboard()
        dashboard.handle(.character("w"))
        for _ in 0..<20 { dashboard.handle(.backspace) }
        Fixtures.type("sometimes", into: &dashboard)
        #expect(dashboard.handle(.enter) == [])
        #expect(Fixtures.render(&dashboard).text.contains("keep-warm policy 'sometimes' is not known"))
    }

    @Test func pingNamesEveryVersionTakingTraffic() {
        var dashboard = dashboard()
        dashboard.handle(.character("p"))
        let screen = Fixtures.render(&dashboard)
        #expect(screen.text.contains("to each version taking traffic: m@v1 (90%),"))
        #expect(screen.text.contains("m@v2 (10%)."))
        #expect(dashboard.handle(.enter) == [.submit(.ping(endpoint: "sentiment"))])
    }

    @Test func aFailedWriteKeepsTheDialogOpenWithTheReason() {
        var dashboard = dashboard()
        dashboard.handle(.character("p"))
        dashboard.fail("registry is locked")
        #expect(dashboard.dialog?.error == "registry is locked")
        #expect(Fixtures.render(&dashboard).text.contains("✗ registry is locked"))
    }

    @Test func aFailedRefreshKeepsTheFiguresAndSaysHowOldTheyAre() {
        var dashboard = dashboard()
        let before = Fixtures.render(&dashboard).text
        dashboard.refreshFailed("database is locked")
        let screen = Fixtures.render(&dashboard)
        #expect(screen.text.contains("cannot refresh (database is locked); figures as of \(Cells.clock(dashboard.data.loadedAt)) UTC"))
        #expect(screen.text.contains("sentiment") && before.contains("sentiment"))
    }

    @Test func readOnlyHidesEveryAction() {
        var dashboard = dashboard(readOnly: true)
        for key in ["r", "d", "w", "p"] {
            #expect(dashboard.handle(.character(Character(key))) == [])
            #expect(dashboard.dialog == nil)
        }
        let screen = Fixtures.render(&dashboard)
        #expect(screen.line(0).contains("READ-ONLY"))
        #expect(screen.line(29).contains("read-only"))
        dashboard.handle(.character("?"))
        #expect(Fixtures.render(&dashboard).text.contains("read-only: actions are off"))
        #expect(!Fixtures.render(&dashboard).text.contains("roll back to the last good version"))
    }

    @Test func actionsNeedAnEndpoint() {
        var dashboard = dashboard()
        Fixtures.type(":versions", into: &dashboard)
        dashboard.handle(.enter)
        #expect(dashboard.handle(.character("r")) == [])
        #expect(Fixtures.render(&dashboard).text.contains("actions work on endpoints"))
    }

    @Test func commandModeSwitchesViewsWithCompletion() {
        var dashboard = dashboard()
        Fixtures.type(":de", into: &dashboard)
        #expect(Fixtures.render(&dashboard).line(29).contains("tab completes: deployments"))
        dashboard.handle(.tab)
        #expect(dashboard.prompt == .command("deployments"))
        dashboard.handle(.enter)
        #expect(dashboard.resource == .deployments)
        #expect(Fixtures.render(&dashboard).line(1).contains("<deployments>"))
        Fixtures.type(":nonsense", into: &dashboard)
        dashboard.handle(.enter)
        #expect(Fixtures.render(&dashboard).text.contains("unknown view 'nonsense'"))
        dashboard.handle(.escape)
        #expect(dashboard.resource == .endpoints, "esc goes back to endpoints")
        Fixtures.type(":q", into: &dashboard)
        #expect(dashboard.handle(.enter) == [.quit])
    }

    @Test func completionStopsAtTheCommonPrefix() {
        #expect(Dashboard.complete("e") == "e", "endpoints and events share only 'e'")
        #expect(Dashboard.complete("ev") == "events")
        #expect(Dashboard.complete("x") == nil)
        #expect(Resource.matching("dp") == .deployments)
        #expect(Resource.matching("e") == nil)
    }

    @Test func enterOpensTheDetailAndEscapeComesBack() {
        var dashboard = dashboard()
        #expect(dashboard.handle(.enter) == [.loadDetail(endpoint: "sentiment")])
        var screen = Fixtures.render(&dashboard)
        #expect(screen.line(1).contains("sentiment"))
        #expect(screen.text.contains("Traffic"))
        #expect(screen.text.contains("loading the last hour"))
        var detail = EndpointDetail(name: "sentiment")
        detail.points = (0..<30).map { EndpointDetail.Point(start: Int64($0 * 10), requests: 10, p50: 20, p99: Double(100 + $0 * 10)) }
        detail.bands = [EndpointDetail.Band(label: "< 100ms", warm: 40, cold: 0), EndpointDetail.Band(label: "< 1s", warm: 2, cold: 5)]
        detail.warmP99 = 95
        detail.coldP99 = 800
        detail.versions = [EndpointDetail.VersionFigures(version: "m@v2", requests: 50, errors: 20, coldStarts: 5, warmups: 3, p99: 900)]
        detail.events = [Listings.EventRow(id: 9, at: Fixtures.now, actor: "daemon", endpoint: "sentiment", deploymentId: 3,
                                           kind: "deploy.rolled_back", message: "error rate 40% (20 of 50 requests)")]
        dashboard.update(detail)
        screen = Fixtures.render(&dashboard, width: 120, height: 50)
        #expect(screen.text.contains("warm p99 95.0ms  cold p99 800ms"))
        #expect(screen.text.contains("p99 latency, last hour"))
        #expect(screen.text.contains("█"))
        let coldRow = try! #require(Fixtures.row(containing: "< 1s", in: screen))
        #expect(screen.line(coldRow).contains(" 5"))
        let version = try! #require(Fixtures.row(containing: "m@v2", in: screen))
        #expect(screen.line(version).contains("40% errors"))
        #expect(screen.role(row: version, column: 30) == .error, "a version over the error SLO stands out")
        #expect(screen.text.contains("error rate 40% (20 of 50 requests)"))
        #expect(screen.text.contains("platform keep-alive not learned yet"))
        var hour = LiveFigures(windowSeconds: 3_600)
        hour.requests = 200
        hour.coldStarts = 3
        hour.coldP99Milliseconds = 2_400
        hour.pings = 60
        hour.pingColdStarts = 2
        detail.hour = hour
        dashboard.update(detail)
        screen = Fixtures.render(&dashboard, width: 160, height: 50)
        #expect(screen.text.contains("warm-hit 98.5% of 200 requests (3 cold, p99 2.4s)"))
        #expect(screen.text.contains("60 pings (2 arrived cold)"))
        detail.keepAlive = LearnedKeepAlive(seconds: 420, shortestColdGapSeconds: 540, contrary: 0, warmObservations: 12, coldObservations: 5)
        dashboard.update(detail)
        screen = Fixtures.render(&dashboard, width: 160, height: 50)
        #expect(screen.text.contains("warm after idle gaps up to 7m, cold from 9m"))
        #expect(!screen.text.contains("from bench run"))
        // Learned with a bench run's luke-warm curve: the run is named.
        detail.keepAlive = LearnedKeepAlive(seconds: 300, shortestColdGapSeconds: 900, contrary: 0, warmObservations: 2, coldObservations: 2,
                                            benchObservations: 4, benchRun: 17)
        dashboard.update(detail)
        screen = Fixtures.render(&dashboard, width: 200, height: 50)
        #expect(screen.text.contains("warm after idle gaps up to 5m, cold from 15m"))
        #expect(screen.text.contains("(2 warm, 2 cold gaps, last day, 4 of them from bench run #17; planned with it)"))
        // Provisioned concurrency beside the pings: asked, on the alias, ready, its price per hour, a failure in red.
        detail.provisioned = ProvisionedConcurrencyRecord(endpoint: "sentiment", intent: ProvisionedConcurrency(concurrency: 5),
                                                          status: .init(applied: 3, platformStatus: "IN_PROGRESS", available: 1,
                                                                        failures: 1, lastError: "AWS refused \u{1b}[31mit"))
        detail.provisionedMicrosPerHour = 120_000
        dashboard.update(detail)
        screen = Fixtures.render(&dashboard, width: 200, height: 50)
        let provisioned = try! #require(Fixtures.row(containing: "Provisioned", in: screen))
        #expect(screen.line(provisioned).contains("5 asked · 3 on the alias (1 ready, IN_PROGRESS)"))
        #expect(screen.line(provisioned).contains("$0.12/h configured vs pings"))
        #expect(screen.line(provisioned).contains("AWS refused"))
        #expect(!screen.text.contains("\u{1b}"))
        dashboard.handle(.escape)
        #expect(dashboard.page == .table)
    }

    @Test func theDetailOfAnEndpointThatWentAwayClosesWithANote() {
        var dashboard = dashboard()
        dashboard.handle(.enter)
        dashboard.update(Fixtures.data([Fixtures.endpoint("zeta")]))
        #expect(dashboard.page == .table)
        #expect(Fixtures.render(&dashboard).text.contains("sentiment is no longer in the registry"))
    }
}
