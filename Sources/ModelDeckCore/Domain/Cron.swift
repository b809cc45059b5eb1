import Foundation

/// A five-field cron expression (minute, hour, day of month, month, day of week), evaluated in UTC, as AWS
/// scheduled scaling and EventBridge take them: `*`, numbers, ranges `1-5`, lists `1,15`, steps `*/15` and
/// `8-18/2`, month and day names (`JAN`, `MON`), and day of week 0–7 with 0 and 7 both Sunday. When both
/// day fields are restricted a day matches either (Vixie cron's rule). Written here because no package in
/// reach parses cron; the grammar is small and every part of it is tested.
public struct Cron: Equatable, Sendable, CustomStringConvertible {
    public let description: String
    let minutes: Set<Int>
    let hours: Set<Int>
    let daysOfMonth: Set<Int>
    let months: Set<Int>
    let daysOfWeek: Set<Int>
    let anyDayOfMonth: Bool
    let anyDayOfWeek: Bool
    /// The hours and minutes in order, sorted once here: the keep-warm loop asks every endpoint's schedule
    /// for its previous and next firing at each pass.
    let hoursAscending: [Int]
    let minutesAscending: [Int]

    /// How far back and ahead a firing is looked for: a weekly schedule fires within 8 days.
    public static let horizonDays = 8

    public init(parsing text: String) throws {
        let fields = text.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
        guard fields.count == 5 else {
            throw ModelDeckError("cron '\(TerminalText.sanitize(text))' has \(fields.count) fields; it needs 5: minute hour day-of-month month day-of-week (UTC)")
        }
        let monthNames = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
        let dayNames = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]
        minutes = try Self.field(fields[0], name: "minute", range: 0...59)
        hours = try Self.field(fields[1], name: "hour", range: 0...23)
        daysOfMonth = try Self.field(fields[2], name: "day of month", range: 1...31)
        months = try Self.field(fields[3], name: "month", range: 1...12, names: monthNames, firstName: 1)
        daysOfWeek = Set(try Self.field(fields[4], name: "day of week", range: 0...7, names: dayNames, firstName: 0).map { $0 % 7 })
        anyDayOfMonth = fields[2] == "*" || fields[2] == "?"
        anyDayOfWeek = fields[4] == "*" || fields[4] == "?"
        description = fields.joined(separator: " ")
        hoursAscending = hours.sorted()
        minutesAscending = minutes.sorted()
    }

    private static func field(_ text: String, name: String, range: ClosedRange<Int>, names: [String] = [], firstName: Int = 0) throws -> Set<Int> {
        func refuse(_ why: String) -> ModelDeckError {
            ModelDeckError("cron \(name) '\(TerminalText.sanitize(text))': \(why) (allowed \(range.lowerBound)–\(range.upperBound))")
        }
        func value(_ token: Substring) throws -> Int {
            if let index = names.firstIndex(of: token.uppercased()) { return index + firstName }
            guard token.count <= 4, let number = Int(token), range.contains(number) else { throw refuse("'\(TerminalText.sanitize(String(token)))' is out of range") }
            return number
        }
        var result = Set<Int>()
        for part in text.split(separator: ",", omittingEmptySubsequences: false) {
            let pieces = part.split(separator: "/", omittingEmptySubsequences: false)
            guard pieces.count <= 2, let base = pieces.first, !base.isEmpty else { throw refuse("'\(TerminalText.sanitize(String(part)))' is not a value, range or step") }
            var step = 1
            if pieces.count == 2 {
                guard pieces[1].count <= 4, let parsed = Int(pieces[1]), parsed >= 1, parsed <= range.upperBound else { throw refuse("step '\(TerminalText.sanitize(String(pieces[1])))' is not a number from 1") }
                step = parsed
            }
            let bounds: ClosedRange<Int>
            if base == "*" || base == "?" {
                bounds = range
            } else if let dash = base.firstIndex(of: "-") {
                let low = try value(base[..<dash]), high = try value(base[base.index(after: dash)...])
                guard low <= high else { throw refuse("range \(low)-\(high) runs backwards") }
                bounds = low...high
            } else {
                let single = try value(base)
                bounds = single...(pieces.count == 2 ? range.upperBound : single)
            }
            result.formUnion(stride(from: bounds.lowerBound, through: bounds.upperBound, by: step))
        }
        return result
    }

    private static let utc: Calendar = {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        return calendar
    }()

    private func matches(day: DateComponents) -> Bool {
        guard let month = day.month, months.contains(month), let dom = day.day, let weekday = day.weekday else { return false }
        let domMatch = daysOfMonth.contains(dom), dowMatch = daysOfWeek.contains(weekday - 1)
        if anyDayOfMonth && anyDayOfWeek { return true }
        if anyDayOfMonth { return dowMatch }
        if anyDayOfWeek { return domMatch }
        return domMatch || dowMatch
    }

    /// The latest firing at or before `date` (to the minute), within `horizonDays`.
    public func previousFiring(atOrBefore date: Date) -> Date? { firing(from: date, forward: false) }

    /// The earliest firing strictly after `date`, within `horizonDays`.
    public func nextFiring(after date: Date) -> Date? { firing(from: date, forward: true) }

    /// Walks the matching days from `date`'s own (forwards or backwards), and in each its hours and minutes in
    /// the same direction: at most `horizonDays` × the listed hours × minutes steps.
    private func firing(from date: Date, forward: Bool) -> Date? {
        let calendar = Self.utc
        let startOfToday = calendar.startOfDay(for: date)
        for offset in 0...Self.horizonDays {
            guard let day = calendar.date(byAdding: .day, value: forward ? offset : -offset, to: startOfToday),
                  matches(day: calendar.dateComponents([.month, .day, .weekday], from: day)) else { continue }
            for h in hoursAscending.indices {
                let hour = hoursAscending[forward ? h : hoursAscending.count - 1 - h]
                for m in minutesAscending.indices {
                    let minute = minutesAscending[forward ? m : minutesAscending.count - 1 - m]
                    let firing = day.addingTimeInterval(TimeInterval(hour * 3_600 + minute * 60))
                    if forward ? firing > date : firing <= date { return firing }
                }
            }
        }
        return nil
    }
}

/// A concurrency that takes effect each time its cron fires, until another entry of the same schedule fires
/// (AWS scheduled scaling's model): `{cron: "0 8 * * MON-FRI", concurrency: 10}` then
/// `{cron: "0 18 * * MON-FRI", concurrency: 1}` keeps ten instances warm through working hours.
public struct ScheduledConcurrency: Equatable, Sendable, Codable {
    public var cron: Cron
    public var concurrency: Int

    public init(cron: Cron, concurrency: Int) {
        self.cron = cron
        self.concurrency = concurrency
    }

    enum CodingKeys: String, CodingKey { case cron, concurrency }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        cron = try Cron(parsing: try container.decode(String.self, forKey: .cron))
        concurrency = try container.decode(Int.self, forKey: .concurrency)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(cron.description, forKey: .cron)
        try container.encode(concurrency, forKey: .concurrency)
    }

    /// The concurrency in force at `date` (the entry that fired last, the later in the list on a tie; nil
    /// when none fired within the horizon), since when, and when the next entry fires.
    public static func inForce(_ schedule: [ScheduledConcurrency], at date: Date) -> (concurrency: Int?, since: Date?, next: Date?) {
        var latest: (at: Date, concurrency: Int)?
        var next: Date?
        for entry in schedule {
            if let fired = entry.cron.previousFiring(atOrBefore: date), latest.map({ fired >= $0.at }) ?? true {
                latest = (fired, entry.concurrency)
            }
            if let coming = entry.cron.nextFiring(after: date), next.map({ coming < $0 }) ?? true { next = coming }
        }
        return (latest?.concurrency, latest?.at, next)
    }
}
