import Foundation
import Testing
@testable import ModelDeckCore

struct CronTests {
    /// 2026-11-30 is a Monday.
    func utc(_ text: String) -> Date {
        let formatter = ISO8601DateFormatter()
        return formatter.date(from: text + "Z")!
    }

    @Test func workingHoursOnWeekdays() throws {
        let cron = try Cron(parsing: "0 8 * * MON-FRI")
        #expect(cron.previousFiring(atOrBefore: utc("2026-11-30T09:30:00")) == utc("2026-11-30T08:00:00"))
        #expect(cron.previousFiring(atOrBefore: utc("2026-11-30T08:00:00")) == utc("2026-11-30T08:00:00"), "at the minute itself")
        #expect(cron.previousFiring(atOrBefore: utc("2026-11-30T07:59:59")) == utc("2026-11-27T08:00:00"), "Monday early: last Friday")
        #expect(cron.nextFiring(after: utc("2026-11-27T08:00:00")) == utc("2026-11-30T08:00:00"), "Friday's next is Monday")
        #expect(cron.nextFiring(after: utc("2026-11-30T07:00:00")) == utc("2026-11-30T08:00:00"))
    }

    @Test func stepsListsAndRanges() throws {
        let quarter = try Cron(parsing: "*/15 * * * *")
        #expect(quarter.previousFiring(atOrBefore: utc("2026-11-30T10:44:00")) == utc("2026-11-30T10:30:00"))
        #expect(quarter.nextFiring(after: utc("2026-11-30T10:45:00")) == utc("2026-11-30T11:00:00"))
        let listed = try Cron(parsing: "5,35 8-18/2 * * *")
        #expect(listed.previousFiring(atOrBefore: utc("2026-11-30T09:59:00")) == utc("2026-11-30T08:35:00"))
        #expect(listed.nextFiring(after: utc("2026-11-30T18:35:00")) == utc("2026-12-01T08:05:00"))
        let offset = try Cron(parsing: "10/20 * * * *")
        #expect(offset.nextFiring(after: utc("2026-11-30T10:31:00")) == utc("2026-11-30T10:50:00"))
    }

    @Test func dayOfWeekSevenIsSundayAndBothDayFieldsMatchEither() throws {
        #expect(try Cron(parsing: "0 0 * * 7").daysOfWeek == [0])
        #expect(try Cron(parsing: "0 0 * * SUN,SAT").daysOfWeek == [0, 6])
        #expect(try Cron(parsing: "0 0 * * 7").previousFiring(atOrBefore: utc("2026-11-30T12:00:00")) == utc("2026-11-29T00:00:00"))
        // The 1st of the month or a Monday (Vixie cron): 2026-11-30 is a Monday.
        let either = try Cron(parsing: "0 12 1 * MON")
        #expect(either.previousFiring(atOrBefore: utc("2026-11-30T13:00:00")) == utc("2026-11-30T12:00:00"))
        #expect(either.nextFiring(after: utc("2026-11-30T13:00:00")) == utc("2026-12-01T12:00:00"))
        let monthly = try Cron(parsing: "0 0 1 JAN *")
        #expect(monthly.previousFiring(atOrBefore: utc("2026-11-30T00:00:00")) == nil, "beyond the 8-day horizon")
    }

    @Test func badExpressionsNameTheFieldAndTheLimit() {
        let cases: [(String, String)] = [
            ("0 8 * *", "has 4 fields; it needs 5"),
            ("60 8 * * *", "cron minute '60': '60' is out of range (allowed 0–59)"),
            ("0 24 * * *", "cron hour '24'"),
            ("0 8 0 * *", "cron day of month '0'"),
            ("0 8 * 13 *", "cron month '13'"),
            ("0 8 * * 8", "cron day of week '8'"),
            ("0 8 * * FRI-MON", "runs backwards"),
            ("*/0 * * * *", "step '0' is not a number from 1"),
            ("0 8 * * MO\u{1B}[2J", "cron day of week 'MO'"),
            ("1,,2 * * * *", "'' is not a value"),
        ]
        for (text, expected) in cases {
            #expect(throws: ModelDeckError.self) { try Cron(parsing: text) }
            do { _ = try Cron(parsing: text) } catch {
                let message = "\(error)"
                #expect(message.contains(expected), "\(text): \(message)")
                #expect(!message.contains("\u{1B}"))
            }
        }
    }

    @Test func theScheduleInForceIsTheEntryThatFiredLast() throws {
        let schedule = [ScheduledConcurrency(cron: try Cron(parsing: "0 8 * * MON-FRI"), concurrency: 10),
                        ScheduledConcurrency(cron: try Cron(parsing: "0 18 * * MON-FRI"), concurrency: 1)]
        let day = ScheduledConcurrency.inForce(schedule, at: utc("2026-11-30T12:00:00"))
        #expect(day.concurrency == 10)
        #expect(day.since == utc("2026-11-30T08:00:00"))
        #expect(day.next == utc("2026-11-30T18:00:00"))
        let night = ScheduledConcurrency.inForce(schedule, at: utc("2026-11-30T19:00:00"))
        #expect(night.concurrency == 1)
        #expect(night.next == utc("2026-12-01T08:00:00"))
        let weekend = ScheduledConcurrency.inForce(schedule, at: utc("2026-11-29T12:00:00"))
        #expect(weekend.concurrency == 1, "Friday 18:00 was the last to fire")
        #expect(ScheduledConcurrency.inForce([], at: utc("2026-11-29T12:00:00")).concurrency == nil)
    }
}

struct KeepWarmScheduleTests {
    func utc(_ text: String) -> Date { ISO8601DateFormatter().date(from: text + "Z")! }
    let schedule = [ScheduledConcurrency(cron: try! Cron(parsing: "0 8 * * MON-FRI"), concurrency: 10),
                    ScheduledConcurrency(cron: try! Cron(parsing: "0 18 * * MON-FRI"), concurrency: 0)]
    let fixed = KeepWarmPolicy.fixed(everySeconds: 300, concurrency: 2)

    @Test func theConcurrencyInForceReplacesTheBaseOneAndARaiseIsWarmedWhenItFires() {
        // Monday 08:00:30, last ping at 07:58: ten instances, due now (not at 08:03).
        let morning = KeepWarmPlanner.scheduled(fixed, schedule: schedule, now: utc("2026-11-30T08:00:30"), lastPing: utc("2026-11-30T07:58:00"))
        #expect(morning.policy == .fixed(everySeconds: 300, concurrency: 10))
        #expect(morning.firedSinceLastPing == utc("2026-11-30T08:00:00"))
        #expect(morning.nextChange == utc("2026-11-30T18:00:00"))
        // Once pinged after the firing, the interval rules again.
        let later = KeepWarmPlanner.scheduled(fixed, schedule: schedule, now: utc("2026-11-30T08:02:00"), lastPing: utc("2026-11-30T08:00:31"))
        #expect(later.firedSinceLastPing == nil)
        #expect(later.policy == .fixed(everySeconds: 300, concurrency: 10))
    }

    @Test func zeroStopsPingingUntilTheNextEntryAndNoScheduleChangesNothing() {
        let night = KeepWarmPlanner.scheduled(fixed, schedule: schedule, now: utc("2026-11-30T22:00:00"), lastPing: utc("2026-11-30T17:58:00"))
        #expect(night.policy == .off)
        #expect(night.nextChange == utc("2026-12-01T08:00:00"))
        let plain = KeepWarmPlanner.scheduled(fixed, schedule: [], now: utc("2026-11-30T22:00:00"), lastPing: nil)
        #expect(plain.policy == fixed)
        #expect(plain.nextChange == nil)
        let adaptive = KeepWarmPlanner.scheduled(.adaptive, schedule: schedule, now: utc("2026-11-30T22:00:00"), lastPing: nil)
        #expect(adaptive.policy == .adaptive)
    }

    @Test func aDeckCarriesTheScheduleIntoTheRegistryAndBadEntriesAreRefusedAtTheirLine() throws {
        let scratch = Scratch()
        defer { scratch.cleanUp() }
        let registry = try Registry(path: scratch.registryPath)
        let keepWarm = #"keep_warm: {mode: fixed, every: 5m, concurrency: 2, schedule: [{cron: "0 8 * * MON-FRI", concurrency: 10}, {cron: "0 18 * * MON-FRI", concurrency: 0}]}"#
        func deck(_ keepWarm: String) -> String { sampleDeck([("    traffic: {v1: 100}", "    \(keepWarm)\n    traffic: {v1: 100}")]) }
        let text = deck(keepWarm)
        try DeckApplier.apply(try parseDeck(text), to: registry, source: "deck.yaml", actor: "test")
        let stored = try #require(try registry.endpoints().first { !$0.keepWarmSchedule.isEmpty })
        #expect(stored.keepWarmSchedule == schedule)
        #expect(stored.keepWarm == .fixed(everySeconds: 300, concurrency: 2))

        for (entry, expected) in [(#"{cron: "0 25 * * *", concurrency: 1}"#, "cron hour '25'"),
                                  (#"{cron: "0 8 * * *"}"#, "needs cron and concurrency"),
                                  (#"{cron: "0 8 * * *", concurrency: 1001}"#, "concurrency")] {
            let bad = deck("keep_warm: {mode: fixed, every: 5m, schedule: [\(entry)]}")
            #expect { try parseDeck(bad) } throws: { "\($0)".contains(expected) && "\($0)".contains("deck.yaml:") }
        }
        let adaptive = deck(#"keep_warm: {mode: adaptive, schedule: [{cron: "0 8 * * *", concurrency: 1}]}"#)
        #expect { try parseDeck(adaptive) } throws: { "\($0)".contains("keep_warm schedule needs mode fixed") }
    }
}
