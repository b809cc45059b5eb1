import Foundation

/// When an endpoint's cost today passes its `daily_budget`: one `budget.exceeded` event per endpoint and UTC
/// day, written by the daemon, so an on-call notification fires once, not at every check.
public enum BudgetAlarm {
    public static let kind = "budget.exceeded"

    /// The endpoints of `burn` whose cost today (traffic and keep-warm pings, since midnight UTC) is over their
    /// daily budget and that have no alarm yet today (`alarmedToday`), with the line the audit log gets.
    public static func due(_ burn: [EndpointBurn], alarmedToday: Set<String>) -> [(endpoint: String, message: String)] {
        burn.compactMap { endpoint in
            guard let budget = endpoint.dailyBudgetMicros, !alarmedToday.contains(endpoint.endpoint) else { return nil }
            let today = endpoint.burn.today.totalMicros
            guard today > budget else { return nil }
            return (endpoint.endpoint, "\(endpoint.endpoint) has cost \(Format.dollars(micros: today)) today (UTC), over its daily budget of \(Format.dollars(micros: budget))")
        }
    }

    /// Midnight UTC of the day of `now`.
    public static func dayStart(_ now: Date) -> Date {
        Date(timeIntervalSince1970: TimeInterval(Int64(now.timeIntervalSince1970.rounded(.down)) / 86_400 * 86_400))
    }
}
