import Foundation
import ModelDeckCore

/// The tables `:` switches between, as k9s has one view per resource.
public enum Resource: String, CaseIterable, Sendable {
    case endpoints, versions, deployments, targets, events, bench

    public var title: String { rawValue.prefix(1).uppercased() + rawValue.dropFirst() }

    public var columns: [Column] {
        switch self {
        case .endpoints: EndpointsTable.columns
        case .versions: VersionsTable.columns
        case .deployments: DeploymentsTable.columns
        case .targets: TargetsTable.columns
        case .events: EventsTable.columns
        case .bench: BenchTable.columns
        }
    }

    /// The column a view starts sorted by, and in which direction.
    public var defaultSort: (column: Int, ascending: Bool) {
        switch self {
        case .deployments, .events, .bench: (0, false)
        default: (0, true)
        }
    }

    public func rows(_ data: DashboardData) -> [TableRow] {
        switch self {
        case .endpoints: data.endpoints.map(EndpointsTable.row)
        case .versions: data.versions.map(VersionsTable.row)
        case .deployments: data.deployments.map(DeploymentsTable.row)
        case .targets: data.targets.map(TargetsTable.row)
        case .events: data.events.map(EventsTable.row)
        case .bench: data.benchRuns.map(BenchTable.row)
        }
    }

    /// `:depl` → deployments; also the singular and k9s-like short names.
    public static func matching(_ text: String) -> Resource? {
        let word = text.trimmingCharacters(in: .whitespaces).lowercased()
        guard !word.isEmpty else { return nil }
        let aliases: [String: Resource] = ["ep": .endpoints, "endpoint": .endpoints, "v": .versions, "version": .versions,
                                           "dp": .deployments, "deploy": .deployments, "deployment": .deployments,
                                           "t": .targets, "target": .targets, "ev": .events, "event": .events, "b": .bench, "benchmark": .bench]
        if let alias = aliases[word] { return alias }
        let candidates = allCases.filter { $0.rawValue.hasPrefix(word) }
        return candidates.count == 1 ? candidates[0] : nil
    }
}

/// How figures look in the tables: short, fixed-width friendly, "-" for nothing measured.
enum Cells {
    static func milliseconds(_ value: Double?) -> String {
        guard let value else { return "-" }
        if value >= 10_000 { return String(format: "%.0fs", value / 1_000) }
        if value >= 1_000 { return String(format: "%.1fs", value / 1_000) }
        if value >= 100 { return String(format: "%.0fms", value) }
        return String(format: "%.1fms", value)
    }

    static func rate(_ perSecond: Double) -> String {
        if perSecond == 0 { return "0" }
        if perSecond >= 100 { return String(format: "%.0f", perSecond) }
        if perSecond >= 0.1 { return String(format: "%.1f", perSecond) }
        return String(format: "%.2f", perSecond)
    }

    static func percent(ppm: Int64?) -> String {
        guard let ppm else { return "-" }
        if ppm == 0 { return "0%" }
        if ppm >= 100_000 { return String(format: "%.0f%%", Double(ppm) / 10_000) }
        return String(format: "%.1f%%", Double(ppm) / 10_000)
    }

    /// Dollars rounded to what a glance needs: `$0.42`, `$12.30`, `<$0.01` for a non-zero fraction of a cent.
    static func dollars(_ micros: Int64) -> String {
        if micros == 0 { return "$0" }
        if micros < 10_000 { return "<$0.01" }
        return Format.dollars(micros: (micros + 5_000) / 10_000 * 10_000)
    }

    static func time(_ date: Date, now: Date) -> String {
        let seconds = Int64(now.timeIntervalSince(date).rounded())
        if seconds < 0 { return "in \(Format.duration(seconds: -seconds))" }
        if seconds < 60 { return "\(seconds)s ago" }
        if seconds < 3_600 { return "\(seconds / 60)m ago" }
        if seconds < 86_400 { return "\(seconds / 3_600)h\(seconds % 3_600 / 60)m ago" }
        return "\(seconds / 86_400)d ago"
    }

    /// `08:05:09` UTC.
    /// `03:12` UTC.
    static func hoursMinutes(_ date: Date) -> String {
        let t = utc(date)
        return String(format: "%02d:%02d", t.tm_hour, t.tm_min)
    }

    static func clock(_ date: Date) -> String {
        let t = utc(date)
        return String(format: "%02d:%02d:%02d", t.tm_hour, t.tm_min, t.tm_sec)
    }

    /// `11-23 08:05:09` UTC.
    static func stamp(_ date: Date) -> String {
        let t = utc(date)
        return String(format: "%02d-%02d %02d:%02d:%02d", t.tm_mon + 1, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec)
    }

    /// Calendar fields in UTC; gmtime_r rather than a DateFormatter per cell (tables format thousands of dates).
    private static func utc(_ date: Date) -> tm {
        var seconds = time_t(date.timeIntervalSince1970.rounded(.down))
        var fields = tm()
        gmtime_r(&seconds, &fields)
        return fields
    }

    /// `sentiment@v2` → `v2` when the model is the endpoint's own.
    static func label(_ versionID: String) -> String {
        versionID.split(separator: "@", maxSplits: 1).last.map(String.init) ?? versionID
    }
}
