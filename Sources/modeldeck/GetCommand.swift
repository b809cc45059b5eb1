import ArgumentParser
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

    @Option(help: "Most recent rows to show (deployments, events).")
    var limit: Int = 50

    @OptionGroup var registry: RegistryOptions

    func run() throws {
        guard limit > 0 else { throw ModelDeckError("--limit \(limit) must be at least 1") }
        let opened = try registry.open()
        try opened.read { db in
            switch resource {
            case .targets: try Output.print(Listings.targets(db), as: output, table: Listings.table)
            case .models: try Output.print(Listings.models(db), as: output, table: Listings.table)
            case .versions: try Output.print(Listings.versions(db), as: output, table: Listings.table)
            case .endpoints: try Output.print(Listings.endpoints(db), as: output, table: Listings.table)
            case .deployments:
                try Output.print(Listings.deployments(db, endpoint: endpoint, limit: limit), as: output, table: Listings.table)
            case .events:
                try Output.print(Listings.events(db, endpoint: endpoint, limit: limit), as: output, table: Listings.table)
            }
        }
    }
}
