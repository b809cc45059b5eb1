import Foundation

extension Listings {
    /// A notification entry as `modeldeck get notifications` lists it: where it sends, what it wants, and how
    /// its deliveries stand.
    public struct NotificationRow: Codable, Sendable {
        public var name: String
        public var destination: String
        public var format: String
        public var events: [String]
        public var endpoints: [String]
        public var production: Bool
        /// The last audit event id delivered or passed over.
        public var cursor: Int64
        public var lastSuccessAt: Date?
        public var lastError: String?
        public var failingSince: Date?
        public var failures: Int
        public var failedTotal: Int64
        public var nextAttemptAt: Date?

        public init(_ state: NotificationState) {
            name = state.channel.name
            destination = state.channel.destinationSummary
            format = state.channel.format.rawValue
            events = state.channel.events
            endpoints = state.channel.endpoints
            production = state.channel.productionOnly
            cursor = state.cursor
            lastSuccessAt = state.lastSuccessAt
            lastError = state.lastError
            failingSince = state.failingSince
            failures = state.failures
            failedTotal = state.failedTotal
            nextAttemptAt = state.nextAttemptAt
        }
    }

    public static func table(_ rows: [NotificationRow]) -> Table {
        Table(headers: ["name", "format", "to", "filters", "cursor", "last success", "last error"], rows: rows.map { row in
            var filters: [String] = []
            if row.production { filters.append("production") }
            if !row.endpoints.isEmpty { filters.append(row.endpoints.joined(separator: ",")) }
            if row.events != NotificationChannel.defaultKinds { filters.append(row.events.joined(separator: ",")) }
            let error = row.lastError.map { error in
                (row.failingSince.map { "failing since \(time($0)): " } ?? "") + TerminalText.sanitize(error)
            }
            return [row.name, row.format, TerminalText.sanitize(row.destination), filters.isEmpty ? "on-call events" : filters.joined(separator: " "),
                    "\(row.cursor)", row.lastSuccessAt.map(time) ?? "-", error ?? "-"]
        })
    }
}

extension Registry {
    /// The notification entries as `get notifications` lists them.
    public func listNotifications() throws -> [Listings.NotificationRow] {
        try notificationStates().map(Listings.NotificationRow.init)
    }
}
