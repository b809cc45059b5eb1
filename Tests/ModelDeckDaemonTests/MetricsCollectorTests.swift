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

    /// Instances billed by the hour (sagemaker-realtime): a minute the variant's instances ran costs
    /// instance_count × the type's hourly price / 60, whether or not they served anything.
    @Test func instanceMinutesArePricedByTheInstanceHourOfTheTargetsType() async throws {
        let fixture = try Fixture()
        defer { fixture.cleanUp() }
        let realtime = FakeDriver(Target(name: "there", kind: .sagemakerRealtime, region: "us-east-1",
                                         config: ["instance_type": "ml.m5.large", "instance_count": "3"]), remote: true)
        let minute: Int64 = 1_800_000_000 / 60 * 60
        var ran = PeriodFigures()
        ran.instances = 3
        ran.cpuUtilization = 12
        let key = MetricBucket.Key(endpoint: "b", version: "m@v1", start: minute, width: 60)
        realtime.state.withLock { $0.measured = PlatformMetrics(periods: [.init(key: key, figures: ran, memoryMB: 512)]) }
        var collector = MetricsCollector(registry: fixture.registry, drivers: FakeDrivers(drivers: ["here": fixture.here, "there": realtime]),
                                         logger: fixture.logger)
        collector.prices = .standard
        await collector.collect(now: Date(timeIntervalSince1970: TimeInterval(minute + 120)), lookBack: 900)
        let stored = try #require(try fixture.registry.bucket(at: key))
        // 3 × $0.115 an hour for one minute = $0.00575 → 5,750 µ$, with no request at all.
        #expect(stored.requests == 0 && stored.instances == 3 && stored.costMicros == 5_750)
        #expect(stored.cpuUtilizationPercent == 12 && stored.memoryUtilizationPercent == nil)
    }
}
