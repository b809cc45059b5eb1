import Foundation
import Testing
@testable import ModelDeckCore

struct KeepWarmTests {
    let t0 = Date(timeIntervalSince1970: 1_800_000_000)

    /// Idle gaps of `minutes`, `times` times each.
    func histogram(_ gaps: [(minutes: Double, times: Int)]) -> IdleTimeHistogram {
        var histogram = IdleTimeHistogram()
        for (minutes, times) in gaps {
            for _ in 0..<times { histogram.record(idleSeconds: Int64(minutes * 60)) }
        }
        return histogram
    }

    @Test func idleTimesComeFromGapsBetweenBusyBuckets() {
        let starts: [Int64] = [0, 10, 20, 320, 330, 930]
        let histogram = IdleTimeHistogram.from(busyBucketStarts: starts, bucketSeconds: 10)
        #expect(histogram.count == 2)
        #expect(histogram.bins[4] == 1)   // 290 s
        #expect(histogram.bins[9] == 1)   // 590 s
    }

    @Test func aConcentratedHistogramIsRepresentativeAndAFlatOneIsNot() {
        #expect(histogram([(10, 30)]).isRepresentative)
        #expect(!histogram([(10, 5)]).isRepresentative) // too few
        #expect(!histogram((0..<240).map { (Double($0), 1) }).isRepresentative) // flat
        #expect(!histogram([(10, 5), (300, 10)]).isRepresentative) // mostly out of range
    }

    @Test func windowsAreThePercentilesWithTheirMargins() throws {
        let windows = try #require(histogram([(10, 95), (20, 5)]).windows)
        #expect(windows.prewarmSeconds == 540)   // 5th percentile bin 10 → 600 s less 10%
        #expect(windows.keepAliveSeconds == 1_386) // 99th percentile bin 20 → 1,260 s plus 10%
    }

    @Test func fixedPingsOnItsIntervalFromTheLastPing() {
        let plan = KeepWarmPlanner.plan(policy: .fixed(everySeconds: 300, concurrency: 2), now: t0, lastInvocation: nil,
                                        lastPing: t0.addingTimeInterval(-60), idleTimeoutSeconds: 600, coldStartSeconds: 1,
                                        histogram: IdleTimeHistogram())
        #expect(plan == KeepWarmPlan(nextPing: t0.addingTimeInterval(240), concurrency: 2, reason: "every 5m"))
        #expect(KeepWarmPlanner.plan(policy: .off, now: t0, lastInvocation: t0, lastPing: nil, idleTimeoutSeconds: 60,
                                     coldStartSeconds: 1, histogram: IdleTimeHistogram()).nextPing == nil)
    }

    @Test func adaptiveFallsBackWhileLearning() {
        let plan = KeepWarmPlanner.plan(policy: .adaptive, now: t0, lastInvocation: t0.addingTimeInterval(-10), lastPing: nil,
                                        idleTimeoutSeconds: 100, coldStartSeconds: 1, histogram: histogram([(10, 3)]))
        #expect(plan.nextPing == t0.addingTimeInterval(70))
        #expect(plan.reason == "adaptive, learning (3 idle times): every 1m20s")
    }

    @Test func idleTimesRunFromABucketsEndWhateverItsWidth() {
        // Two busy minutes in a row (rolled up, or from CloudWatch) are not a 50-second idle time; the gap
        // after a minute bucket is measured from that minute's end.
        let histogram = IdleTimeHistogram.from(busyBuckets: [(start: 0, width: 60), (start: 60, width: 60), (start: 420, width: 10)])
        #expect(histogram.count == 1)
        let tenSecond = IdleTimeHistogram.from(busyBucketStarts: [0, 10, 130], bucketSeconds: 10)
        #expect(tenSecond.count == 1)
        #expect(tenSecond == IdleTimeHistogram.from(busyBuckets: [(start: 0, width: 10), (start: 10, width: 10), (start: 130, width: 10)]))
    }

    @Test func adaptiveStopsPingingAnEndpointNobodyCalls() {
        func plan(lastInvocation: Date?, lastPing: Date?) -> KeepWarmPlan {
            KeepWarmPlanner.plan(policy: .adaptive, now: t0, lastInvocation: lastInvocation, lastPing: lastPing,
                                 idleTimeoutSeconds: 100, coldStartSeconds: 1, histogram: IdleTimeHistogram())
        }
        // A new endpoint gets its first ping, so its first caller finds it warm…
        #expect(plan(lastInvocation: nil, lastPing: nil).nextPing == t0)
        // …but pinging on without a request would keep it warm forever.
        let dormant = plan(lastInvocation: nil, lastPing: t0.addingTimeInterval(-80))
        #expect(dormant == KeepWarmPlan(nextPing: nil, concurrency: 0, reason: "adaptive: no request for 4h; scaled to zero until one comes"))
        #expect(plan(lastInvocation: t0.addingTimeInterval(-4 * 3_600), lastPing: t0.addingTimeInterval(-80)).nextPing == nil)
        // A request brings the pings back.
        #expect(plan(lastInvocation: t0.addingTimeInterval(-30), lastPing: t0.addingTimeInterval(-80)).nextPing == t0)
    }

    @Test func adaptiveLetsTheInstanceGoColdAndPrewarmsBeforeTheNextLikelyRequest() throws {
        // Requests come every ~10 minutes; instances idle out after 1 minute.
        let learned = histogram([(10, 50)])
        let last = t0
        let plan = KeepWarmPlanner.plan(policy: .adaptive, now: t0.addingTimeInterval(30), lastInvocation: last, lastPing: nil,
                                        idleTimeoutSeconds: 60, coldStartSeconds: 2, histogram: learned)
        // Pre-warm at 540 s (600 less 10%) minus the 2 s start.
        #expect(plan.nextPing == last.addingTimeInterval(538))
        // Once pre-warmed, pings refresh every 48 s (80% of the idle timeout) until the window closes.
        let after = KeepWarmPlanner.plan(policy: .adaptive, now: last.addingTimeInterval(538), lastInvocation: last,
                                         lastPing: last.addingTimeInterval(538), idleTimeoutSeconds: 60, coldStartSeconds: 2, histogram: learned)
        #expect(after.nextPing == last.addingTimeInterval(586))
        // Past the 99th percentile (660 s × 1.1 = 726 s): no more pings; scale to zero.
        let late = KeepWarmPlanner.plan(policy: .adaptive, now: last.addingTimeInterval(700), lastInvocation: last,
                                        lastPing: last.addingTimeInterval(700), idleTimeoutSeconds: 60, coldStartSeconds: 2, histogram: learned)
        #expect(late.nextPing == nil)
        #expect(late.reason.contains("past the window"))
    }

    @Test func adaptiveSendsNothingWhenTheIdleTimeoutAlreadyCoversTheWindow() {
        let plan = KeepWarmPlanner.plan(policy: .adaptive, now: t0, lastInvocation: t0, lastPing: nil,
                                        idleTimeoutSeconds: 3_600, coldStartSeconds: 1, histogram: histogram([(10, 50)]))
        #expect(plan.nextPing == nil)
        #expect(plan.reason.hasSuffix("the idle timeout covers it"))
    }

    @Test func duringACanaryBothVersionsAreWarmed() {
        #expect(KeepWarmPlanner.pings(concurrency: 4, weights: ["v1": 90, "v2": 10]) == ["v1": 4, "v2": 1])
        #expect(KeepWarmPlanner.pings(concurrency: 4, weights: ["v1": 50, "v2": 50]).values.sorted() == [2, 4])
        #expect(KeepWarmPlanner.pings(concurrency: 0, weights: ["v1": 100]).isEmpty)
    }
}
