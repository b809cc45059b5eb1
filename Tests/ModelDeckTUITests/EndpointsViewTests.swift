import Foundation
import ModelDeckCore
import Testing
@testable import ModelDeckTUI

struct EndpointsViewTests {
    let fleet = [
        Fixtures.endpoint("sentiment", p99: 120, rate: 12.5, production: true,
                          traffic: [VersionWeight(version: "m@v1", weight: 90), VersionWeight(version: "m@v2", weight: 10)]),
        Fixtures.endpoint("ranker", p99: 2_400, rate: 1),
        Fixtures.endpoint("batch", p99: 40, requests: 200, errors: 30, rate: 0.2),
    ]

    @Test func showsOneRowPerEndpointWithItsFigures() {
        var dashboard = Dashboard(data: Fixtures.data(fleet))
        let screen = Fixtures.render(&dashboard)
        let header = screen.line(2)
        for column in ["NAME", "VERSIONS", "DEPLOY", "REQ/S", "P50", "P99", "ERR%", "COLD", "$/H"] { #expect(header.contains(column)) }
        let sentiment = try! #require(Fixtures.row(containing: "sentiment", in: screen))
        #expect(screen.line(sentiment).contains("★ sentiment"))
        #expect(screen.line(sentiment).contains("v1:90 v2:10"))
        #expect(screen.line(sentiment).contains("12.5"))
        #expect(screen.line(sentiment).contains("120ms"))
        #expect(screen.line(try! #require(Fixtures.row(containing: "ranker", in: screen))).contains("2.4s"))
        #expect(screen.line(try! #require(Fixtures.row(containing: "batch", in: screen))).contains("15%"))
        #expect(screen.line(0).contains("daemon alive (pid 42)"))
        #expect(screen.line(0).contains("2 in trouble"))
    }

    @Test func theHeaderNamesAFailingNotificationAndSinceWhen() {
        var data = Fixtures.data(fleet)
        var dashboard = Dashboard(data: data)
        #expect(!Fixtures.render(&dashboard, width: 160).line(0).contains("notify:"))
        let since = Date(timeIntervalSince1970: 1_800_000_000 - 8 * 3_600 + 3 * 3_600 + 12 * 60) // 03:12 UTC
        data.failingNotifications = [FailingNotification(name: "slack-oncall", since: since), FailingNotification(name: "pager", since: since)]
        dashboard = Dashboard(data: data)
        #expect(Fixtures.render(&dashboard, width: 160).line(0).contains("notify: slack-oncall failing since 03:12 (+1 more)"))
    }

    @Test func rowsSortByNameFirst() {
        let dashboard = Dashboard(data: Fixtures.data(fleet))
        #expect(dashboard.rows.map(\.id) == ["batch", "ranker", "sentiment"])
    }

    @Test func sortKeysSortByTheirColumnAndAgainReverse() {
        var dashboard = Dashboard(data: Fixtures.data(fleet))
        dashboard.handle(.character("P"))
        #expect(dashboard.rows.map(\.id) == ["ranker", "sentiment", "batch"], "p99, largest first")
        dashboard.handle(.character("P"))
        #expect(dashboard.rows.map(\.id) == ["batch", "sentiment", "ranker"])
        dashboard.handle(.character("R"))
        #expect(dashboard.rows.map(\.id) == ["sentiment", "ranker", "batch"], "request rate, largest first")
        let screen = Fixtures.render(&dashboard)
        #expect(screen.line(2).contains("REQ/S↓"))
    }

    @Test func missingFiguresSortLastEitherWay() {
        var idle = Fixtures.endpoint("idle", p99: nil, requests: 0)
        idle.p50Milliseconds = nil
        var dashboard = Dashboard(data: Fixtures.data(fleet + [idle]))
        dashboard.handle(.character("P"))
        #expect(dashboard.rows.last?.id == "idle")
        dashboard.handle(.character("P"))
        #expect(dashboard.rows.last?.id == "idle")
    }

    @Test func filterNarrowsRowsAsYouTypeAndEscapeClearsIt() {
        var dashboard = Dashboard(data: Fixtures.data(fleet))
        dashboard.handle(.character("/"))
        Fixtures.type("an", into: &dashboard)
        #expect(dashboard.rows.map(\.id) == ["ranker"])
        dashboard.handle(.enter)
        let screen = Fixtures.render(&dashboard)
        #expect(screen.line(1).contains("1 of 3"))
        #expect(screen.line(1).contains("/an"))
        #expect(Fixtures.row(containing: "sentiment", in: screen) == nil)
        dashboard.handle(.escape)
        #expect(dashboard.rows.count == 3)
    }

    @Test func aFilterMatchingNothingSaysHowToClearIt() {
        var dashboard = Dashboard(data: Fixtures.data(fleet))
        dashboard.handle(.character("/"))
        Fixtures.type("zzz", into: &dashboard)
        let screen = Fixtures.render(&dashboard)
        #expect(screen.text.contains("nothing matches /zzz"))
    }

    @Test func rowsBreakingTheirSLOStandOut() {
        var dashboard = Dashboard(data: Fixtures.data(fleet))
        let screen = Fixtures.render(&dashboard)
        let ranker = try! #require(Fixtures.row(containing: "ranker", in: screen))
        let sentiment = try! #require(Fixtures.row(containing: "sentiment", in: screen))
        let batch = try! #require(Fixtures.row(containing: "batch", in: screen))
        // The selection bar sits on the first row (batch); look at the name cells of the others.
        #expect(screen.role(row: ranker, column: 0) == .error, "p99 2.4 s over a 1 s SLO")
        #expect(screen.role(row: sentiment, column: 0) == .production, "healthy production row: marked, not red")
        #expect(screen.role(row: batch, column: 0) == .selected)
        let p99Column = screen.line(2).range(of: "P99").map { screen.line(2).distance(from: screen.line(2).startIndex, to: $0.lowerBound) }!
        #expect(screen.role(row: ranker, column: p99Column + 2) == .error)
    }

    @Test func overBudgetIsATrouble() {
        let spender = Fixtures.endpoint("spender", budget: 1_000_000, today: 1_500_000)
        #expect(spender.breaches == [.budget])
        #expect(spender.budgetPercent == 150)
        let fine = Fixtures.endpoint("fine", budget: 1_000_000, today: 500_000)
        #expect(fine.breaches.isEmpty)
    }

    @Test func oneErrorOnAnIdleEndpointIsNotATrouble() {
        let quiet = Fixtures.endpoint("quiet", requests: 3, errors: 1)
        #expect(quiet.breaches.isEmpty)
    }

    @Test func movingTheSelectionFollowsTheRowAcrossRefreshes() {
        var dashboard = Dashboard(data: Fixtures.data(fleet))
        dashboard.handle(.down)
        #expect(dashboard.focusedEndpoint == "ranker")
        // A new endpoint sorts before it: the selection stays on ranker, not on the same index.
        dashboard.update(Fixtures.data(fleet + [Fixtures.endpoint("alpha")]))
        #expect(dashboard.focusedEndpoint == "ranker")
    }

    @Test func textFromOutsideIsStrippedOfEscapeSequences() {
        let hostile = Fixtures.endpoint("evil\u{1B}]0;pwned\u{07}\u{1B}[31mname")
        let event = Listings.EventRow(id: 1, at: Fixtures.now, actor: "x\u{1B}[2J", endpoint: "evil", deploymentId: nil,
                                      kind: "deploy.failed", message: "boom \u{1B}[1;1H\u{1B}[2Jcleared")
        var dashboard = Dashboard(data: Fixtures.data([hostile], events: [event]))
        var screen = Fixtures.render(&dashboard)
        #expect(!screen.text.contains("\u{1B}"))
        #expect(screen.text.contains("evilname"))
        Fixtures.type(":events", into: &dashboard)
        dashboard.handle(.enter)
        screen = Fixtures.render(&dashboard)
        #expect(screen.text.contains("boom cleared"))
        #expect(!screen.text.contains("\u{1B}"))
    }

    @Test func at80By24TheColumnsThatMatterStay() {
        var dashboard = Dashboard(data: Fixtures.data(fleet))
        let screen = Fixtures.render(&dashboard, width: 80, height: 24)
        let header = screen.line(2)
        for column in ["NAME", "VERSIONS", "DEPLOY", "REQ/S", "P99", "ERR%", "COLD", "$/H"] { #expect(header.contains(column), "\(column) at 80 columns") }
        #expect(!header.contains("P99 30M"), "the sparkline goes first")
        #expect((0..<24).allSatisfy { Screen.columns(of: screen.line($0)) <= 80 })
    }

    @Test func aSmallerTerminalSaysWhatItNeeds() {
        var dashboard = Dashboard(data: Fixtures.data(fleet))
        let screen = Fixtures.render(&dashboard, width: 70, height: 20)
        #expect(screen.text.contains("Terminal is 70×20."))
        #expect(screen.text.contains("at least 80×24"))
        #expect(dashboard.handle(.character("q")) == [.quit])
    }

    @Test func anOfflineDaemonShowsInTheHeader() {
        let since = Fixtures.now.addingTimeInterval(-60)
        var dashboard = Dashboard(data: Fixtures.data(fleet, daemon: DaemonStatus(state: .silent(since: since))))
        let screen = Fixtures.render(&dashboard)
        #expect(screen.line(0).contains("daemon offline since"))
        let column = screen.line(0).distance(from: screen.line(0).startIndex, to: screen.line(0).range(of: "daemon")!.lowerBound)
        #expect(screen.role(row: 0, column: column) == .error)
    }

    @Test func aLongListScrollsWithTheSelection() {
        let many = (0..<100).map { Fixtures.endpoint(String(format: "ep-%03d", $0)) }
        var dashboard = Dashboard(data: Fixtures.data(many))
        _ = Fixtures.render(&dashboard, width: 100, height: 24)
        dashboard.handle(.end)
        let screen = Fixtures.render(&dashboard, width: 100, height: 24)
        #expect(screen.text.contains("ep-099"))
        #expect(!screen.text.contains("ep-000"))
        dashboard.handle(.home)
        #expect(Fixtures.render(&dashboard, width: 100, height: 24).text.contains("ep-000"))
    }
}
