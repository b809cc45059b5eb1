import Foundation
import ModelDeckCore

/// The default view: one row per endpoint with its live versions, deployment and figures.
enum EndpointsTable {
    static let columns: [Column] = [
        Column("NAME", width: 14, flexible: true, priority: 100, sortKey: "N"),
        Column("TARGET", width: 8, priority: 40, sortKey: "T"),
        Column("VERSIONS", width: 13, priority: 95, sortKey: "V"),
        Column("DEPLOY", width: 13, priority: 90, sortKey: "D"),
        Column("REQ/S", width: 6, alignRight: true, priority: 70, sortKey: "R"),
        Column("P50", width: 7, alignRight: true, priority: 50, sortKey: "L"),
        Column("P99", width: 7, alignRight: true, priority: 85, sortKey: "P"),
        Column("ERR%", width: 6, alignRight: true, priority: 80, sortKey: "E"),
        Column("COLD", width: 5, alignRight: true, priority: 65, sortKey: "C"),
        Column("CONC", width: 7, alignRight: true, priority: 35, sortKey: "I"),
        Column("WARM", width: 4, alignRight: true, priority: 30, sortKey: "W"),
        Column("$/H", width: 7, alignRight: true, priority: 60, sortKey: "B"),
        Column("TODAY", width: 7, alignRight: true, priority: 45, sortKey: "Y"),
        Column("P99 30M", width: 12, priority: 20),
    ]

    static func versions(_ summary: EndpointSummary) -> String {
        if summary.traffic.isEmpty { return "-" }
        if summary.traffic.count == 1 { return Cells.label(summary.traffic[0].version) }
        return summary.traffic.map { "\(Cells.label($0.version)):\($0.weight)" }.joined(separator: " ")
    }

    /// The deploy in flight, or "crash-looping" when a version's starts keep failing: that comes first, as
    /// the more urgent of the two (the detail page shows both).
    static func deployment(_ summary: EndpointSummary) -> String {
        if !summary.crashLooping.isEmpty { return "crash-looping" }
        if summary.drift != nil { return "⚠ drift" }
        guard let deployment = summary.deployment else { return "-" }
        let to = Cells.label(deployment.toVersion)
        switch deployment.kind {
        case .rollback: return "rollback→\(to)"
        case .deploy:
            switch deployment.state {
            case .shifting: return "→\(to) \(deployment.currentWeight)%\(deployment.pausedAt == nil ? "" : " ‖")"
            case .baking: return "→\(to) baking\(deployment.pausedAt == nil ? "" : " ‖")"
            case .rollingBack: return "→\(to) rolling back"
            default: return "→\(to) \(deployment.state.rawValue)"
            }
        }
    }

    static func row(_ summary: EndpointSummary) -> TableRow {
        let breaches = summary.breaches
        let name = summary.production ? "★ \(summary.name)" : summary.name
        let deployRole: Role? = !summary.crashLooping.isEmpty || summary.drift != nil ? .error
            : summary.deployment.map { $0.state == .rollingBack || $0.alarm != nil ? .error : .warning }
        let cells = [
            TableCell(name, role: !breaches.isEmpty || !summary.crashLooping.isEmpty ? .error : summary.production ? .production : nil),
            TableCell(summary.target),
            TableCell(versions(summary), role: summary.traffic.count > 1 ? .accent : nil),
            TableCell(deployment(summary), role: deployRole ?? .dim),
            TableCell(Cells.rate(summary.requestsPerSecond)),
            TableCell(Cells.milliseconds(summary.p50Milliseconds)),
            TableCell(Cells.milliseconds(summary.p99Milliseconds), role: breaches.contains(.latency) ? .error : nil),
            TableCell(Cells.percent(ppm: summary.errorRatePPM), role: breaches.contains(.errors) ? .error : nil),
            TableCell("\(summary.coldStartsLastHour)", role: summary.coldStartsLastHour > 0 ? .warning : nil),
            TableCell("\(summary.inFlight)/\(summary.maxConcurrency)"),
            TableCell("\(summary.warmInstances)", role: summary.warmInstances > 0 ? .ok : .dim),
            TableCell(Cells.dollars(summary.burnMicrosPerHour)),
            TableCell(Cells.dollars(summary.todayMicros), role: breaches.contains(.budget) ? .error : nil),
            TableCell(Charts.sparkline(summary.sparkline, width: 12), role: .accent),
        ]
        let sortValues: [SortValue] = [
            .text(summary.name), .text(summary.target), .text(versions(summary)), .text(deployment(summary)),
            .number(summary.requestsPerSecond), summary.p50Milliseconds.map(SortValue.number) ?? .missing,
            summary.p99Milliseconds.map(SortValue.number) ?? .missing, summary.errorRatePPM.map { .number(Double($0)) } ?? .missing,
            .number(Double(summary.coldStartsLastHour)), .number(Double(summary.inFlight)), .number(Double(summary.warmInstances)),
            .number(Double(summary.burnMicrosPerHour)), .number(Double(summary.todayMicros)), .missing,
        ]
        return TableRow(id: summary.name, cells: cells, sortValues: sortValues)
    }
}

enum VersionsTable {
    static let columns: [Column] = [
        Column("VERSION", width: 18, flexible: true, priority: 100, sortKey: "N"),
        Column("MODEL", width: 12, priority: 60, sortKey: "M"),
        Column("MEMORY", width: 9, alignRight: true, priority: 50, sortKey: "R"),
        Column("SIZE", width: 9, alignRight: true, priority: 40, sortKey: "S"),
        Column("DIGEST", width: 14, priority: 30),
        Column("CREATED", width: 14, priority: 70, sortKey: "A"),
        Column("BY", width: 10, priority: 20),
    ]

    static func row(_ version: Listings.VersionRow) -> TableRow {
        TableRow(id: version.id, cells: [
            TableCell(version.id), TableCell(version.model), TableCell(Format.megabytes(version.memoryMB)),
            TableCell(Format.bytes(version.sizeBytes)), TableCell(String(version.digest.prefix(14)), role: .dim),
            TableCell(Cells.stamp(version.createdAt)), TableCell(version.createdBy ?? "-"),
        ], sortValues: [.text(version.id), .text(version.model), .number(Double(version.memoryMB)),
                        .number(Double(version.sizeBytes)), .missing, .number(version.createdAt.timeIntervalSince1970), .missing])
    }
}

enum DeploymentsTable {
    static let columns: [Column] = [
        Column("ID", width: 5, alignRight: true, priority: 100, sortKey: "I"),
        Column("ENDPOINT", width: 14, flexible: true, priority: 95, sortKey: "N"),
        Column("KIND", width: 8, priority: 60, sortKey: "K"),
        Column("FROM→TO", width: 12, priority: 90),
        Column("STRATEGY", width: 14, priority: 40),
        Column("STATE", width: 12, priority: 85, sortKey: "S"),
        Column("WEIGHT", width: 6, alignRight: true, priority: 50),
        Column("BY", width: 8, priority: 20),
        Column("UPDATED", width: 14, priority: 55, sortKey: "A"),
        Column("REASON", width: 20, flexible: true, priority: 30),
    ]

    static func row(_ d: Listings.DeploymentRow) -> TableRow {
        let role: Role = switch d.state {
        case "rolled_back", "failed", "rolling_back": .error
        case "succeeded": .ok
        case "cancelled": .dim
        default: .warning
        }
        let fromTo = "\(d.fromVersion.map(Cells.label) ?? "-")→\(Cells.label(d.toVersion))"
        return TableRow(id: "\(d.id)", cells: [
            TableCell("#\(d.id)"), TableCell(d.endpoint), TableCell(d.kind), TableCell(fromTo), TableCell(d.strategy),
            TableCell(d.state, role: role), TableCell("\(d.weight)%"), TableCell(d.actor), TableCell(Cells.stamp(d.updatedAt)),
            TableCell(d.alarm ?? d.reason ?? "", role: d.alarm != nil ? .error : .dim),
        ], sortValues: [.number(Double(d.id)), .text(d.endpoint), .text(d.kind), .missing, .missing, .text(d.state),
                        .missing, .missing, .number(d.updatedAt.timeIntervalSince1970), .missing])
    }
}

enum TargetsTable {
    static let columns: [Column] = [
        Column("NAME", width: 14, flexible: true, priority: 100, sortKey: "N"),
        Column("KIND", width: 20, priority: 90, sortKey: "K"),
        Column("REGION", width: 14, priority: 70, sortKey: "R"),
        Column("MEMORY", width: 18, priority: 50),
        Column("SETTINGS", width: 24, flexible: true, priority: 40),
    ]

    static func row(_ t: Listings.TargetRow) -> TableRow {
        let settings = t.config.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        return TableRow(id: t.name, cells: [
            TableCell(t.name), TableCell(t.kind), TableCell(t.region ?? "-"),
            TableCell("\(Format.grouped(Int64(t.memoryMB.first ?? 0)))–\(Format.megabytes(t.memoryMB.last ?? 0))"),
            TableCell(settings.isEmpty ? "-" : settings, role: .dim),
        ], sortValues: [.text(t.name), .text(t.kind), .text(t.region ?? ""), .missing, .missing])
    }
}

enum EventsTable {
    static let columns: [Column] = [
        Column("ID", width: 5, alignRight: true, priority: 60, sortKey: "I"),
        Column("AT", width: 14, priority: 90, sortKey: "A"),
        Column("ENDPOINT", width: 12, priority: 80, sortKey: "N"),
        Column("KIND", width: 18, priority: 70, sortKey: "K"),
        Column("BY", width: 8, priority: 30),
        Column("MESSAGE", width: 20, flexible: true, priority: 100),
    ]

    static func row(_ e: Listings.EventRow) -> TableRow {
        let role: Role = e.kind.contains("rollback") || e.kind.contains("fail") || e.kind.contains("alarm") ? .warning : .normal
        return TableRow(id: "\(e.id)", cells: [
            TableCell("\(e.id)", role: .dim), TableCell(Cells.stamp(e.at)), TableCell(e.endpoint ?? "-"),
            TableCell(e.kind, role: role), TableCell(e.actor, role: .dim), TableCell(e.message),
        ], sortValues: [.number(Double(e.id)), .number(e.at.timeIntervalSince1970), .text(e.endpoint ?? ""), .text(e.kind), .missing, .missing])
    }
}
