import ArgumentParser
import Foundation
import ModelDeckCore

struct GetCommand: ParsableCommand {
    static let configuration = CommandConfiguration.onCall(
        "get", abstract: "List targets, models, versions, endpoints, deployments, events, notifications or bench runs.")

    enum Resource: String, ExpressibleByArgument, CaseIterable {
        case targets, models, versions, endpoints, deployments, events, notifications, bench
    }

    @Argument(help: ArgumentHelp("What to list: \(Resource.allCases.map(\.rawValue).joined(separator: ", ")).", valueName: "resource"))
    var resource: Resource

    /// `get`'s formats: kubectl's, `wide` adding the live figures of endpoints.
    enum ListFormat: String, ExpressibleByArgument, CaseIterable {
        case table, wide, json, yaml

        var output: OutputFormat { self == .json ? .json : self == .yaml ? .yaml : .table }
    }

    @Option(name: [.customShort("o"), .long], help: "Output format: table, wide (endpoints with live figures), json or yaml.")
    var format: ListFormat = .table

    @Option(help: ArgumentHelp("Only this endpoint (deployments, events, bench).", valueName: "name"), completion: endpointCompletion)
    var endpoint: String?

    @Option(help: "Most recent rows to show (deployments, events; default 50, and every event with --since).")
    var limit: Int?

    @Option(help: ArgumentHelp("Events at or after this time: a date (2026-11-01), a UTC time (2026-11-01T12:00:00Z) or an age (7d, 12h). For archiving: `get events --since 2026-11-01 -o json`.", valueName: "time"))
    var since: String?

    @Option(help: ArgumentHelp("Endpoints: the window the live figures are read over (-o wide, json, yaml), e.g. 1m, 5m, 1h; at most 1d.",
                               valueName: "duration"))
    var window: String = "5m"

    @OptionGroup var registry: RegistryOptions

    func run() throws {
        if let limit, limit <= 0 { throw ModelDeckError("--limit \(limit) must be at least 1") }
        if since != nil, resource != .events { throw ModelDeckError("--since applies to events only, not \(resource.rawValue)") }
        let from = try since.map { try Self.time($0, now: Date()) }
        let seconds = try Quantity.milliseconds(window, what: "--window") / 1_000
        guard (1...LiveWindow.maxSeconds).contains(seconds) else {
            throw ModelDeckError("--window \(window) must be between 1s and \(Format.duration(seconds: LiveWindow.maxSeconds))")
        }
        let opened = try registry.open()
        let output = format.output
        switch resource {
        case .targets: try Output.print(opened.listTargets(), as: output, table: Listings.table)
        case .models: try Output.print(opened.listModels(), as: output, table: Listings.table)
        case .versions: try Output.print(opened.listVersions(), as: output, table: Listings.table)
        case .endpoints:
            let live = format == .table ? nil : LiveWindow(last: seconds, now: Date())
            try Output.print(opened.listEndpoints(window: live), as: output, table: format == .wide ? Listings.wideTable : Listings.table)
        case .deployments:
            try Output.print(opened.listDeployments(endpoint: endpoint, limit: limit ?? 50), as: output, table: Listings.table)
        case .notifications: try Output.print(opened.notificationStates(), as: output, table: Listings.table)
        case .bench: try Output.print(opened.benchRuns(endpoint: endpoint, limit: limit ?? 50), as: output, table: BenchTables.runs)
        case .events:
            if let from {
                try Output.print(opened.events(since: from, endpoint: endpoint, limit: limit), as: output, table: Listings.table)
            } else {
                try Output.print(opened.listEvents(endpoint: endpoint, limit: limit ?? 50), as: output, table: Listings.table)
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
