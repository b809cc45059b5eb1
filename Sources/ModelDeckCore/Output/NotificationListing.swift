import Foundation

/// A notification entry as `modeldeck get notifications -o json|yaml` gives it: the entry's settings
/// (templates, never a secret's value) and how its deliveries stand, in one flat object.
extension NotificationState: Encodable {
    private enum CodingKeys: String, CodingKey {
        case name, destination, format, events, endpoints, production, cursor, lastSuccessAt, lastError, failingSince, failures,
             failedTotal, nextAttemptAt
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(channel.name, forKey: .name)
        try container.encode(channel.destinationSummary, forKey: .destination)
        try container.encode(channel.format.rawValue, forKey: .format)
        try container.encode(channel.events, forKey: .events)
        try container.encode(channel.endpoints, forKey: .endpoints)
        try container.encode(channel.productionOnly, forKey: .production)
        try container.encode(cursor, forKey: .cursor)
        try container.encodeIfPresent(lastSuccessAt, forKey: .lastSuccessAt)
        try container.encodeIfPresent(lastError, forKey: .lastError)
        try container.encodeIfPresent(failingSince, forKey: .failingSince)
        try container.encode(failures, forKey: .failures)
        try container.encode(failedTotal, forKey: .failedTotal)
        try container.encodeIfPresent(nextAttemptAt, forKey: .nextAttemptAt)
    }
}

extension Listings {
    /// `get notifications`: each entry, what it filters on, its cursor, last success and last error.
    public static func table(_ rows: [NotificationState]) -> Table {
        Table(headers: ["name", "format", "to", "filters", "cursor", "last success", "last error"], rows: rows.map { row in
            let channel = row.channel
            var filters: [String] = []
            if channel.productionOnly { filters.append("production") }
            if !channel.endpoints.isEmpty { filters.append(channel.endpoints.joined(separator: ",")) }
            if channel.events != NotificationChannel.defaultKinds { filters.append(channel.events.joined(separator: ",")) }
            let error = row.lastError.map { error in
                (row.failingSince.map { "failing since \(time($0)): " } ?? "") + TerminalText.sanitize(error)
            }
            return [channel.name, channel.format.rawValue, TerminalText.sanitize(channel.destinationSummary),
                    filters.isEmpty ? "on-call events" : filters.joined(separator: " "),
                    "\(row.cursor)", row.lastSuccessAt.map(time) ?? "-", error ?? "-"]
        })
    }
}
