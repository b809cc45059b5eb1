import ArgumentParser
import Foundation
import ModelDeckCore

struct GetCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "get",
        abstract: "List targets, models, versions, endpoints, deployments or events.")

    enum Resource: String, ExpressibleByArgument, CaseIterable {
        case targets, models, versions, endpoints, deployments, events
    }

    @Argument(help: ArgumentHelp("What to list: \(Resource.allCases.map(\.rawValue).joined(separator: ", ")).", valueName: "resource"))
    var resource: Resource

    @Option(name: [.customShort("o"), .long], help: "Output format: table, json or yaml.")
    var output: OutputFormat = .table

    @Option(help: ArgumentHelp("Only this endpoint (deployments, events).", valueName: "name"), completion: endpointCompletion)
    var endpoint: String?

    @Option(help: "Most recent rows to show (deployments, events; default 50, and every event with --since).")
    var limit: Int?

    @Option(help: ArgumentHelp("Events at or after this time: a date (2026-11-01), a UTC time (2026-11-01T12:00:00Z) or an age (7d, 12h). For archiving: `get events --since 2026-11-01 -o json`.", valueName: "time"))
    var since: String?

    @OptionGroup var registry: RegistryOptions

    func run() throws {
        if let limit, limit <= 0 { throw ModelDeckError("--limit \(limit) must be at least 1") }
        if since != nil, resource != .events { throw ModelDeckError("--since applies to events only, not \(resource.rawValue)") }
        let from = try since.map { try Self.time($0, now: Date()) }
        let limit = self.limit
        let opened = try registry.open()
        try opened.read { db in
            switch resource {
            case .targets: try Output.print(Listings.targets(db), as: output, table: Listings.table)
            case .models: try Output.print(Listings.models(db), as: output, table: Listings.table)
            case .versions: try Output.print(Listings.versions(db), as: output, table: Listings.table)
            case .endpoints: try Output.print(Listings.endpoints(db), as: output, table: Listings.table)
            case .deployments:
                try Output.print(Listings.deployments(db, endpoint: endpoint, limit: limit ?? 50), as: output, table: Listings.table)
            case .events:
                if let from {
                    try Output.print(AuditLog.events(db, since: from, endpoint: endpoint, limit: limit), as: output, table: Listings.table)
                } else {
                    try Output.print(Listings.events(db, endpoint: endpoint, limit: limit ?? 50), as: output, table: Listings.table)
                }
            }
        }
    }

    /// `--since`: a date or UTC time (ISO 8601), or an age before `now` (a duration such as 7d).
    static func time(_ text: String, now: Date) throws -> Date {
        if let date = ISO8601DateFormatter().date(from: text) { return date }
        let day = ISO8601DateFormatter()
        day.formatOptions = [.withFullDate]
        if let date = day.date(from: text) { return date }
        guard let seconds = try? Quantity.seconds(text, what: "--since") else {
            throw ModelDeckError("--since '\(text)' is neither a date (2026-11-01), a UTC time (2026-11-01T12:00:00Z) nor an age (7d, 12h)")
        }
        return now.addingTimeInterval(-TimeInterval(seconds))
    }
}
