import Foundation
import Testing
@testable import ModelDeckCore

/// The provisioned-concurrency planner (what the daemon does next) and its replay in `simulate`.
struct ProvisionedConcurrencyPlannerTests {
    let monday8 = Date(timeIntervalSince1970: 1_764_576_000)  // Monday 2025-12-01 08:00 UTC
    typealias Planner = ProvisionedConcurrencyPlanner

    func cron(_ text: String) throws -> Cron { try Cron(parsing: text) }

    @Test func anIntentOnATargetWithNothingIsPutAndOffIsDeleted() {
        #expect(Planner.step(ProvisionedConcurrency(concurrency: 3), status: .init(), now: monday8).action == .put(3))
        #expect(Planner.step(ProvisionedConcurrency(concurrency: 0), status: .init(applied: 3, platformStatus: "READY"), now: monday8).action == .delete)
        #expect(Planner.step(ProvisionedConcurrency(concurrency: 0), status: .init(), now: monday8).action == .none)
        #expect(Planner.step(ProvisionedConcurrency(concurrency: 4), status: .init(applied: 3, platformStatus: "READY"), now: monday8).action == .put(4))
    }

    @Test func anAllocationInProgressIsCheckedEveryFiveSecondsUntilReady() {
        let put = Planner.answered(.put(3), config: .init(requested: 3, available: 0, status: "IN_PROGRESS"), previous: .init(), now: monday8)
        #expect(put.applied == 3 && put.platformStatus == "IN_PROGRESS" && put.failures == 0)
        let soon = Planner.step(ProvisionedConcurrency(concurrency: 3), status: put, now: monday8.addingTimeInterval(1))
        #expect(soon.action == .none && soon.wakeAt == monday8.addingTimeInterval(5))
        #expect(Planner.step(ProvisionedConcurrency(concurrency: 3), status: put, now: monday8.addingTimeInterval(5)).action == .check)
        let ready = Planner.answered(.check, config: .init(requested: 3, available: 3, status: "READY"), previous: put, now: monday8.addingTimeInterval(5))
        #expect(Planner.step(ProvisionedConcurrency(concurrency: 3), status: ready, now: monday8.addingTimeInterval(60)) == (.none, nil))
    }

    @Test func aFailedCallWaitsAPauseThatDoublesThenTriesAgain() {
        let intent = ProvisionedConcurrency(concurrency: 3)
        let once = Planner.failed(.init(), error: "conflict", now: monday8)
        #expect(once.failures == 1 && once.lastError == "conflict" && once.applied == 0)
        #expect(once.retryAt == monday8.addingTimeInterval(5))
        #expect(Planner.step(intent, status: once, now: monday8.addingTimeInterval(4)).action == .none)
        #expect(Planner.step(intent, status: once, now: monday8.addingTimeInterval(5)).action == .put(3))
        let twice = Planner.failed(once, error: "conflict", now: monday8.addingTimeInterval(5))
        #expect(twice.retryAt == monday8.addingTimeInterval(15))
        // Success clears the failures.
        #expect(Planner.answered(.put(3), config: .init(requested: 3, available: 0, status: "IN_PROGRESS"), previous: twice, now: monday8).failures == 0)
    }

    @Test func aConfigurationThePlatformCouldNotAllocateIsPutAgainAfterAPause() {
        let failed = Planner.answered(.check, config: .init(requested: 3, available: 0, status: "FAILED", reason: "account limit"),
                                      previous: .init(applied: 3, platformStatus: "IN_PROGRESS"), now: monday8)
        #expect(failed.failures == 1 && failed.lastError?.contains("account limit") == true)
        #expect(Planner.step(ProvisionedConcurrency(concurrency: 3), status: failed, now: monday8.addingTimeInterval(1)).action == .none)
        #expect(Planner.step(ProvisionedConcurrency(concurrency: 3), status: failed, now: monday8.addingTimeInterval(5)).action == .put(3))
    }

    @Test func aScheduleSetsTheConcurrencyWhenItsCronFiresAndWakesTheDaemonThen() throws {
        let intent = ProvisionedConcurrency(concurrency: 1)
            .setting(10, cron: try cron("0 8 * * MON-FRI"))
            .setting(0, cron: try cron("0 18 * * MON-FRI"))
        #expect(intent.summary == "1; 10 at 0 8 * * MON-FRI; 0 at 0 18 * * MON-FRI")
        #expect(intent.wanted(at: monday8).concurrency == 10)
        #expect(intent.wanted(at: monday8).nextChange == monday8.addingTimeInterval(10 * 3_600))
        #expect(intent.wanted(at: monday8.addingTimeInterval(-60)).concurrency == 0)  // Monday 07:59: Friday's 18:00 entry
        #expect(ProvisionedConcurrency(concurrency: 1).wanted(at: monday8) == (1, nil))
        #expect(intent.wanted(at: monday8.addingTimeInterval(10 * 3_600)).concurrency == 0)
        let ready = ProvisionedConcurrencyStatus(applied: 10, platformStatus: "READY")
        #expect(Planner.step(intent, status: ready, now: monday8.addingTimeInterval(3_600)) == (.none, monday8.addingTimeInterval(10 * 3_600)))
        #expect(Planner.step(intent, status: ready, now: monday8.addingTimeInterval(10 * 3_600)).action == .delete)
        // The same cron again replaces its entry; no cron replaces everything.
        #expect(intent.setting(12, cron: try cron("0 8 * * MON-FRI")).schedule.count == 2)
        #expect(intent.setting(12, cron: try cron("0 8 * * MON-FRI")).wanted(at: monday8).concurrency == 12)
        #expect(intent.setting(2, cron: nil) == ProvisionedConcurrency(concurrency: 2))
    }

    @Test func provisionedEnvironmentsArePricedPerGBSecondWhileConfigured() throws {
        let rates = try #require(try PriceTable.standard.provisionedRates(platform: "aws-lambda", region: "us-east-1", architecture: "x86_64"))
        // 2 × 1 GB × 3,600 s × $0.0000041667 = $0.03000024 (aws.amazon.com/lambda/pricing).
        #expect(rates.perHour(environments: 2, memoryMB: 1_024) == Decimal(string: "0.03000024")!)
    }
}

struct ProvisionedSimulatorTests {
    /// `KeepWarmSimulatorTests`' target with 1 GB and Lambda's provisioned prices.
    func target(idleTimeout: Int64 = 600) throws -> SimulatedTarget {
        var target = try KeepWarmSimulatorTests().target(idleTimeout: idleTimeout)
        target.memoryMB = 1_024
        target.provisionedRates = try PriceTable.standard.provisionedRates(platform: "aws-lambda", region: "us-east-1", architecture: "x86_64")
        return target
    }

    func trace(_ lines: [(seconds: Double, endpoint: String, ms: Int32)]) -> Trace { KeepWarmSimulatorTests().trace(lines) }

    @Test func requestsFindProvisionedEnvironmentsWarmAndABurstBeyondThemSpillsOverCold() throws {
        // Requests an hour apart (no on-demand instance would survive), then three at once at 3,600 s.
        let replay = trace([(0, "a", 100), (1_800, "a", 100), (3_600, "a", 100), (3_600, "a", 100), (3_600, "a", 100)])
        let one = try #require(ProvisionedSimulator.run(replay, environments: 1, target: try target()))
        #expect(one.requests == 5)
        #expect(one.coldStarts == 2)  // the burst's second and third
        #expect(one.pings == 0)
        let two = try #require(ProvisionedSimulator.run(replay, environments: 2, target: try target()))
        #expect(two.coldStarts == 1)
        // Configured for the trace's span (3,600.1 s), billed in whole 5 minutes: 3,900 s × 2 × 1 GB × $0.0000041667 = $0.0325 → 32,500 µ$.
        #expect(two.provisionedCostMicros == 32_500)
        #expect(two.totalCostMicros == two.trafficCostMicros + 32_500)
        // Four requests on provisioned environments at the lower duration price: 4 × (0.1 s × $0.0000097222 + $0.0000002);
        // one cold on demand: 2.1 s × $0.0000166667 + $0.0000002 — $0.0000398889 in all → 40 µ$.
        #expect(two.trafficCostMicros == 40)
        // Warm time: two environments for the whole span, and the spill-over instance until the end.
        #expect(two.warmInstanceSeconds == 7_200)
        // Against a platform without provisioned-concurrency prices there is nothing to replay.
        var unpriced = try target()
        unpriced.provisionedRates = nil
        #expect(ProvisionedSimulator.run(replay, environments: 1, target: unpriced) == nil)
    }
}
