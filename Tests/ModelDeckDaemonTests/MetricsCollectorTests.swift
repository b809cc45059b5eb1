import Foundation
import ModelDeckCore
import ModelDeckTargets
import Testing
@testable import ModelDeckDaemon

/// The daemon, not the driver, prices and stores what a platform measured.
struct MetricsCollectorTests {
    @Test func aPlatformsFiguresArePricedAndStoredAsBucketsAndCollectedAgainWithoutDoubling() async throws {
        let fixture = try Fixture()
        defer { fixture.cleanUp() }
        let minute: Int64 = 1_800_000_000 / 60 * 60
        var figures = PeriodFigures()
        figures.invocations = 40
        figures.errors = 2
        figures.maximum = 100
        figures.sum = 1_600
        let key = MetricBucket.Key(endpoint: "b", version: "m@v1", start: minute, width: 60)
        fixture.there.state.withLock { $0.measured = PlatformMetrics(periods: [.init(key: key, figures: figures, memoryMB: 512)]) }
        // A ping already recorded a warmup in that minute: collecting keeps it.
        var warm = MetricBucket()
        warm.warmups = 1
        try fixture.registry.merge([key: warm])

        var collector = MetricsCollector(registry: fixture.registry, drivers: fixture.drivers, logger: fixture.logger)
        collector.prices = .standard
        let now = Date(timeIntervalSince1970: TimeInterval(minute + 120))
        await collector.collect(now: now, lookBack: 900)
        await collector.collect(now: now, lookBack: 900)

        let stored = try #require(try fixture.registry.bucket(at: key))
        #expect(stored.requests == 40 && stored.errors == 2 && stored.warmups == 1)
        // The fake target is local, priced as nothing: no cost. Figures collected twice are replaced, not added.
        #expect(stored.latency.count == 40)
        // Only the remote target is asked, and only about the versions that serve.
        #expect(fixture.there.state.withLock { $0.collectedFor } == [["m@v1"], ["m@v1"]])
        #expect(fixture.here.state.withLock { $0.collectedFor }.isEmpty)
    }
}
