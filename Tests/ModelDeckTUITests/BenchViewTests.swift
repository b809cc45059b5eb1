import Foundation
import ModelDeckCore
import Testing
@testable import ModelDeckTUI

struct BenchViewTests {
    static func run(_ id: Int64, endpoint: String = "sentiment", partial: Bool = false) -> BenchRun {
        var figures = BenchFigures()
        var cold = BenchSample(due: .zero, latencyMicroseconds: 912_000, status: 200, coldStart: true)
        cold.processStartMs = 6
        cold.modelLoadMs = 850
        figures.cold = .init(cold)
        figures.warm = .init((1...100).map { BenchSample(due: .milliseconds($0 * 50), latencyMicroseconds: UInt64($0) * 1_000, status: 200) })
        let ramp = BenchPlan.Ramp(from: 1, to: 10, overMs: 1_000)
        figures.scale = ScaleAnalysis.figures([BenchSample(due: .milliseconds(1_200), latencyMicroseconds: 5_000, status: 200, coldStart: true, instance: "i-2")],
                                              ramp: ramp, referenceP99Ms: 99, multiple: 2)
        figures.lukeWarm = [.init(gapMs: 60_000, samples: [BenchSample(due: .zero, latencyMicroseconds: 4_000, status: 200)]),
                            .init(gapMs: 300_000, samples: [BenchSample(due: .zero, latencyMicroseconds: 900_000, status: 200, coldStart: true)])]
        figures.costMicros = 42
        return BenchRun(id: id, endpoint: endpoint, version: "sentiment@v1", target: "local", targetKind: "local", memoryMB: 256,
                        state: partial ? .partial : .finished, partial: partial, plan: BenchPlan(), figures: figures, costMicros: 42,
                        actor: "tester", startedAt: Fixtures.now)
    }

    @Test func theBenchViewListsRunsNewestFirstWithTheSeedsFigures() {
        var data = Fixtures.data([Fixtures.endpoint("sentiment"), Fixtures.endpoint("ranker")])
        data.benchRuns = [Self.run(2, endpoint: "ranker", partial: true), Self.run(1)]
        var dashboard = Dashboard(data: data)
        _ = Fixtures.type(":bench", into: &dashboard)
        dashboard.handle(.enter)
        #expect(dashboard.rows.map(\.id) == ["2", "1"])
        let screen = Fixtures.render(&dashboard, width: 160)
        for column in ["ENDPOINT", "WARM P50", "WARM P99", "COLD", "SCALE", "LUKE-WARM", "COST"] { #expect(screen.line(2).contains(column)) }
        let row = try! #require(Fixtures.row(containing: "sentiment", in: screen))
        #expect(screen.line(row).contains("912ms"))
        #expect(screen.line(row).contains("1m:0% 5m:100%"))
        #expect(screen.line(row).contains("2.0s"), "time to scale")
        #expect(screen.line(try! #require(Fixtures.row(containing: "ranker", in: screen))).contains("partial"))
    }

    @Test func theEndpointDetailShowsItsLatestBench() {
        var dashboard = Dashboard(data: Fixtures.data([Fixtures.endpoint("sentiment")]))
        _ = dashboard.handle(.enter)
        var detail = EndpointDetail(name: "sentiment")
        detail.bench = Self.run(7)
        dashboard.update(detail)
        let screen = Fixtures.render(&dashboard, width: 160, height: 60)
        #expect(screen.text.contains("Bench"))
        #expect(screen.text.contains("#7 v1 · finished"))
        #expect(screen.text.contains("912ms (process 6.0ms, model load 850ms"))
        #expect(screen.text.contains("after 5m 100% cold"))
        #expect(screen.text.contains("1 instances started"))
    }

    @Test func withoutARunTheDetailSaysHowToMakeOne() {
        var dashboard = Dashboard(data: Fixtures.data([Fixtures.endpoint("sentiment")]))
        _ = dashboard.handle(.enter)
        dashboard.update(EndpointDetail(name: "sentiment"))
        let screen = Fixtures.render(&dashboard, width: 160, height: 60)
        #expect(screen.text.contains("no bench run yet"))
    }
}
