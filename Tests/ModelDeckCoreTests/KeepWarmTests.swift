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
        // The last request counted in a bucket ending 10 s ago may have ended at its start (20 s ago): the
        // instance is kept by one ping 2 s before that instance's idle timeout runs out.
        let plan = KeepWarmPlanner.plan(policy: .adaptive, now: t0, lastInvocation: t0.addingTimeInterval(-10), lastPing: nil,
                                        idleTimeoutSeconds: 100, coldStartSeconds: 1, histogram: histogram([(10, 3)]))
        #expect(plan.nextPing == t0.addingTimeInterval(78))
        #expect(plan.reason == "adaptive, learning (3 idle times): every 1m38s")
    }

    func adaptive(now: Date, last: Date?, ping: Date?, idle: Int64 = 100, cold: Int64 = 1, histogram: IdleTimeHistogram = IdleTimeHistogram(),
                  concurrency: Int = 1) -> KeepWarmDecision {
        KeepWarmPlanner.decide(policy: .adaptive, now: now, lastInvocation: last, lastPing: ping, idleTimeoutSeconds: idle,
                               coldStartSeconds: cold, histogram: histogram, recentConcurrency: concurrency)
    }

    @Test func adaptiveRefreshesFromWhicheverCameLastThePingOrTheRequest() {
        // A ping after the request: the instance idles from the ping.
        #expect(adaptive(now: t0, last: t0.addingTimeInterval(-60), ping: t0.addingTimeInterval(-5)).nextPing == t0.addingTimeInterval(93))
        // A request after the ping (its bucket's start later than the ping): from the request.
        #expect(adaptive(now: t0, last: t0, ping: t0.addingTimeInterval(-50)).nextPing == t0.addingTimeInterval(88))
        // A ping overdue (the instance is already gone) is due at once: the planner never plans into the past
        // on purpose, the caller sends what is due.
        #expect(adaptive(now: t0, last: t0.addingTimeInterval(-300), ping: t0.addingTimeInterval(-200)).nextPing! < t0)
    }

    @Test func adaptiveKeepsAsManyInstancesAsRecentlyRanAtOnce() {
        let one = adaptive(now: t0, last: t0, ping: t0.addingTimeInterval(-50))
        let three = adaptive(now: t0, last: t0, ping: t0.addingTimeInterval(-50), concurrency: 3)
        #expect(one.concurrency == 1)
        #expect(three.concurrency == 3)
        #expect(three.reason == "adaptive, learning (0 idle times): every 1m38s ×3")
        // With several instances, the last request refreshed only one of them: the others idle since the ping.
        #expect(three.nextPing == t0.addingTimeInterval(48))
        #expect(adaptive(now: t0, last: t0, ping: nil, concurrency: 0).concurrency == 1)
        #expect(adaptive(now: t0, last: t0, ping: nil, concurrency: 10_000).concurrency == KeepWarmPlanner.maxAdaptiveConcurrency)
    }

    @Test func theRepeatsSayHowLongThePlanHoldsWithoutNews() {
        let fixed = KeepWarmPlanner.decide(policy: .fixed(everySeconds: 300, concurrency: 2), now: t0, lastInvocation: nil, lastPing: t0,
                                           idleTimeoutSeconds: 600, coldStartSeconds: 1, histogram: IdleTimeHistogram())
        #expect(fixed.repeats == KeepWarmDecision.Repeat(everySeconds: 300, lastDue: nil, plannedBefore: nil))
        let learning = adaptive(now: t0, last: t0, ping: nil)
        #expect(learning.repeats == KeepWarmDecision.Repeat(everySeconds: 98, lastDue: nil, plannedBefore: t0.addingTimeInterval(4 * 3_600)))
        let window = adaptive(now: t0, last: t0, ping: nil, idle: 60, cold: 2, histogram: histogram([(10, 50)]))
        #expect(window.repeats == KeepWarmDecision.Repeat(everySeconds: 58, lastDue: t0.addingTimeInterval(726), plannedBefore: t0.addingTimeInterval(4 * 3_600)))
        #expect(KeepWarmPlanner.decide(policy: .off, now: t0, lastInvocation: t0, lastPing: nil, idleTimeoutSeconds: 60, coldStartSeconds: 1,
                                       histogram: IdleTimeHistogram()).repeats == nil)
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
        // A request brings the pings back: one just before the instance it used (from its bucket's start) is reclaimed.
        #expect(plan(lastInvocation: t0.addingTimeInterval(-30), lastPing: t0.addingTimeInterval(-80)).nextPing == t0.addingTimeInterval(58))
    }

    @Test func adaptiveLetsTheInstanceGoColdAndPrewarmsBeforeTheNextLikelyRequest() throws {
        // Requests come every ~10 minutes; instances idle out after 1 minute.
        let learned = histogram([(10, 50)])
        let last = t0
        let plan = KeepWarmPlanner.decide(policy: .adaptive, now: t0.addingTimeInterval(30), lastInvocation: last, lastPing: nil,
                                          idleTimeoutSeconds: 60, coldStartSeconds: 2, histogram: learned)
        // Pre-warm at 540 s (600 less 10%) minus the 2 s start and the 2 s guard.
        #expect(plan.nextPing == last.addingTimeInterval(536))
        #expect(plan.plan.reason == "adaptive: warm 9m–12m6s after a request; cold until the pre-warm")
        // Once pre-warmed, one ping just before each idle timeout (58 s) until the window closes.
        let after = KeepWarmPlanner.plan(policy: .adaptive, now: last.addingTimeInterval(536), lastInvocation: last,
                                         lastPing: last.addingTimeInterval(536), idleTimeoutSeconds: 60, coldStartSeconds: 2, histogram: learned)
        #expect(after.nextPing == last.addingTimeInterval(594))
        #expect(after.reason == "adaptive: warm 9m–12m6s after a request")
        // Past the 99th percentile (660 s × 1.1 = 726 s): no more pings; scale to zero.
        let late = KeepWarmPlanner.plan(policy: .adaptive, now: last.addingTimeInterval(700), lastInvocation: last,
                                        lastPing: last.addingTimeInterval(700), idleTimeoutSeconds: 60, coldStartSeconds: 2, histogram: learned)
        #expect(late.nextPing == nil)
        #expect(late.reason.contains("past the window"))
        // With an idle timeout that outlasts the gap to the pre-warm, the instance is kept instead of let go.
        let kept = KeepWarmPlanner.decide(policy: .adaptive, now: t0, lastInvocation: last, lastPing: nil,
                                          idleTimeoutSeconds: 600, coldStartSeconds: 2, histogram: learned)
        #expect(kept.nextPing == last.addingTimeInterval(588))
        #expect(kept.rule == .window(prewarmSeconds: 540, keepAliveSeconds: 726, .ping))
    }

    @Test func adaptivePrewarmsOnlyWhenThatSavesPings() {
        // Window 540–726 s after a request. Idle timeout 400 s: kept, one ping at 388 s (400 less the 10 s
        // bucket slack and the 2 s guard, as the idle timeout counts from the bucket's start) holds the instance
        // past the window; let go, one pre-warm at 536 s does the same, cold. As many pings: the instance is kept, and no ping arrives cold.
        let learned = histogram([(10, 50)])
        let kept = adaptive(now: t0, last: t0, ping: nil, idle: 400, cold: 2, histogram: learned)
        #expect(kept.nextPing == t0.addingTimeInterval(388))
        #expect(kept.rule == .window(prewarmSeconds: 540, keepAliveSeconds: 726, .ping))
        // Idle timeout 300 s: kept, pings at 288 and 586 s; let go, one pre-warm at 536 s. One ping fewer: pre-warm.
        let letGo = adaptive(now: t0, last: t0, ping: nil, idle: 300, cold: 2, histogram: learned)
        #expect(letGo.nextPing == t0.addingTimeInterval(536))
        #expect(letGo.rule == .window(prewarmSeconds: 540, keepAliveSeconds: 726, .prewarm))
        // Kept by a ping at 388 s, the next one (at 786 s) is past the window: no more pings.
        #expect(adaptive(now: t0.addingTimeInterval(388), last: t0, ping: t0.addingTimeInterval(388), idle: 400, cold: 2,
                         histogram: learned).rule == .window(prewarmSeconds: 540, keepAliveSeconds: 726, .pastWindow))
    }

    @Test func roundsOfPingsAreCountedUpToAndIncludingTheEnd() {
        #expect(KeepWarmPlanner.pings(from: t0, through: t0.addingTimeInterval(-1), every: 60) == 0)
        #expect(KeepWarmPlanner.pings(from: t0, through: t0, every: 60) == 1)
        #expect(KeepWarmPlanner.pings(from: t0, through: t0.addingTimeInterval(59), every: 60) == 1)
        #expect(KeepWarmPlanner.pings(from: t0, through: t0.addingTimeInterval(60), every: 60) == 2)
        #expect(KeepWarmPlanner.pings(from: t0, through: t0.addingTimeInterval(3_600), every: 298) == 13)
    }

    @Test func adaptiveSendsNothingWhenTheIdleTimeoutAlreadyCoversTheWindow() {
        let plan = KeepWarmPlanner.plan(policy: .adaptive, now: t0, lastInvocation: t0, lastPing: nil,
                                        idleTimeoutSeconds: 3_600, coldStartSeconds: 1, histogram: histogram([(10, 50)]))
        #expect(plan.nextPing == nil)
        #expect(plan.reason.hasSuffix("the idle timeout covers it"))
        // Covered only if the instance outlives the window counted from the start of the last request's bucket.
        #expect(KeepWarmPlanner.plan(policy: .adaptive, now: t0, lastInvocation: t0, lastPing: nil, idleTimeoutSeconds: 736,
                                     coldStartSeconds: 1, histogram: histogram([(10, 50)])).nextPing == nil)
        #expect(KeepWarmPlanner.plan(policy: .adaptive, now: t0, lastInvocation: t0, lastPing: nil, idleTimeoutSeconds: 735,
                                     coldStartSeconds: 1, histogram: histogram([(10, 50)])).nextPing != nil)
    }

    @Test func duringACanaryBothVersionsAreWarmed() {
        #expect(KeepWarmPlanner.pings(concurrency: 4, weights: ["v1": 90, "v2": 10]) == ["v1": 4, "v2": 1])
        #expect(KeepWarmPlanner.pings(concurrency: 4, weights: ["v1": 50, "v2": 50]).values.sorted() == [2, 4])
        #expect(KeepWarmPlanner.pings(concurrency: 0, weights: ["v1": 100]).isEmpty)
    }
}
