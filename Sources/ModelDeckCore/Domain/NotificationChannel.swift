import Foundation

/// One `notifications:` entry of a deck: where the audit log's on-call events go (a webhook, or a command
/// that reads the event on stdin), in which format, and which events and endpoints it wants.
///
/// Secrets never live here: the URL, the headers and the command's arguments may name environment variables
/// as `${NAME}`, which are read from the environment of the process that sends (the daemon, or
/// `modeldeck notify test`) at each delivery. The registry stores the templates only.
public struct NotificationChannel: Codable, Equatable, Sendable {
    public enum Destination: Codable, Equatable, Sendable {
        /// An HTTP(S) webhook, POSTed to.
        case url(String)
        /// A program and its arguments, run with the event on stdin.
        case command([String])
    }

    /// `slack`: Slack's incoming-webhook JSON (`{"text": …}`, https://api.slack.com/messaging/webhooks).
    /// `json`: the event as `/api/v1/events` and `get events -o json` give it.
    public enum Format: String, Codable, CaseIterable, Sendable {
        case slack, json
    }

    public var name: String
    public var destination: Destination
    public var format: Format
    /// The event kinds sent; `defaultKinds` when the deck names none.
    public var events: [String]
    /// Only these endpoints' events; empty for every endpoint.
    public var endpoints: [String]
    /// Only events of production endpoints (`production: true` on the endpoint).
    public var productionOnly: Bool
    /// Extra HTTP headers (webhooks only); values may name `${VARIABLES}`.
    public var headers: [String: String]

    public init(name: String, destination: Destination, format: Format, events: [String] = NotificationChannel.defaultKinds,
                endpoints: [String] = [], productionOnly: Bool = false, headers: [String: String] = [:]) {
        self.name = name
        self.destination = destination
        self.format = format
        self.events = events
        self.endpoints = endpoints
        self.productionOnly = productionOnly
        self.headers = headers
    }

    /// What an on-call engineer needs to hear about, and what an entry gets when it names no `events`.
    public static let defaultKinds = [
        "deploy.rolled_back", "deploy.failed", "drift.detected", "budget.exceeded", "target.unavailable", "rollback.done",
    ]

    /// Every kind an entry may ask for: the on-call kinds plus the other steps of a deploy or rollback.
    public static let knownKinds = defaultKinds + [
        "deploy.requested", "deploy.alarm", "deploy.succeeded", "deploy.superseded", "rollback.requested",
    ]

    /// Whether an event of `kind` about `endpoint` (nil: about no endpoint, such as a target) is for this entry.
    /// `production` holds the names of the production endpoints.
    public func wants(kind: String, endpoint: String?, production: Set<String>) -> Bool {
        guard events.contains(kind) else { return false }
        if productionOnly { guard let endpoint, production.contains(endpoint) else { return false } }
        if !endpoints.isEmpty { guard let endpoint, endpoints.contains(endpoint) else { return false } }
        return true
    }

    /// Every `${NAME}` the entry refers to, in order of first appearance.
    public var variables: [String] {
        var texts: [String] = headers.sorted { $0.key < $1.key }.map(\.value)
        switch destination {
        case .url(let url): texts.insert(url, at: 0)
        case .command(let arguments): texts.insert(contentsOf: arguments, at: 0)
        }
        var seen: [String] = []
        for text in texts {
            for name in Self.variables(in: text) where !seen.contains(name) { seen.append(name) }
        }
        return seen
    }

    /// `destination` as a list shows it: the URL template (no secret values), or the command.
    public var destinationSummary: String {
        switch destination {
        case .url(let url): url
        case .command(let arguments): arguments.joined(separator: " ")
        }
    }

    /// The names inside `${…}` in `text`.
    static func variables(in text: String) -> [String] {
        var names: [String] = []
        var rest = Substring(text)
        while let open = rest.range(of: "${") {
            guard let close = rest[open.upperBound...].firstIndex(of: "}") else { break }
            names.append(String(rest[open.upperBound..<close]))
            rest = rest[rest.index(after: close)...]
        }
        return names
    }

    /// `text` with every `${NAME}` replaced by its value in `environment`; a name that is not set is refused.
    public static func resolve(_ text: String, environment: [String: String], what: String) throws -> String {
        var result = ""
        var rest = Substring(text)
        while let open = rest.range(of: "${"), let close = rest[open.upperBound...].firstIndex(of: "}") {
            result += rest[..<open.lowerBound]
            let name = String(rest[open.upperBound..<close])
            guard let value = environment[name], !value.isEmpty else {
                throw ModelDeckError("\(what): environment variable \(name) is not set")
            }
            result += value
            rest = rest[rest.index(after: close)...]
        }
        return result + rest
    }

    /// A variable name as a shell takes it.
    static func isVariableName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, name.count <= 128,
              first == "_" || (first.isASCII && first.properties.isAlphabetic) else { return false }
        return name.unicodeScalars.allSatisfy { $0 == "_" || ($0.isASCII && $0.properties.isAlphabetic) || ("0"..."9").contains($0) }
    }

    /// The first problem of an entry, in one line, with `environment` the one it will be sent from:
    /// a malformed URL, an unknown event kind, a variable that is not set.
    public func problem(environment: [String: String]) -> String? {
        let what = "notification '\(name)'"
        for kind in events where !Self.knownKinds.contains(kind) {
            let hint = NearestName.nearest(to: kind, in: Self.knownKinds).map { "did you mean '\($0)'? " } ?? ""
            return "\(what): unknown event kind '\(kind)'; \(hint)known: \(Self.knownKinds.joined(separator: ", "))"
        }
        for name in variables {
            guard Self.isVariableName(name) else {
                return "\(what): '${\(name)}' is not an environment variable name (letters, digits and '_')"
            }
            guard let value = environment[name], !value.isEmpty else {
                return "\(what): environment variable \(name) is not set (secrets are read from the environment, never stored)"
            }
        }
        if case .url(let template) = destination {
            let resolved = (try? Self.resolve(template, environment: environment, what: what)) ?? template
            guard let url = URL(string: resolved), let scheme = url.scheme?.lowercased(), ["http", "https"].contains(scheme),
                  let host = url.host, !host.isEmpty else {
                return "\(what): url '\(template)' is not an http:// or https:// URL with a host"
            }
        }
        if case .command(let arguments) = destination, arguments.first?.isEmpty != false {
            return "\(what): command is empty"
        }
        for (header, _) in headers where header.isEmpty || !header.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }) {
            return "\(what): header name '\(header)' must be letters, digits and '-'"
        }
        return nil
    }
}

/// What goes out for one audit event, in an entry's format.
public enum NotificationPayload {
    /// The body sent for `event`: Slack's incoming-webhook JSON, or the event as the API gives it.
    public static func body(for event: Listings.EventRow, format: NotificationChannel.Format) -> Data {
        switch format {
        case .json:
            // Encoding a row of strings, numbers and dates cannot fail.
            return try! APIJSON.encoder.encode(event)
        case .slack:
            let text = ":rotating_light: *\(escape(event.kind))*" + (event.endpoint.map { " on `\(escape($0))`" } ?? "")
                + ": \(escape(event.message))\n_event \(event.id), \(APIJSON.timestamp(event.at)) UTC, by \(escape(event.actor))_"
            return try! APIJSON.encoder.encode(["text": text])
        }
    }

    /// Slack's text escapes: `&`, `<` and `>` only (https://api.slack.com/reference/surfaces/formatting#escaping).
    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
    }
}

/// JSON as the read-only API writes it: snake_case keys, ISO 8601 dates, sorted keys.
public enum APIJSON {
    public static var encoder: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys]
        return encoder
    }

    static func timestamp(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withFullDate, .withTime, .withColonSeparatorInTime, .withDashSeparatorInDate]
        return formatter.string(from: date).replacingOccurrences(of: "T", with: " ")
    }
}

/// Capped exponential backoff: `first`, then twice as long after each failure in a row, never over `cap`.
public struct RetrySchedule: Equatable, Sendable {
    public var first: TimeInterval
    public var cap: TimeInterval

    public init(first: TimeInterval, cap: TimeInterval) {
        self.first = first
        self.cap = max(first, cap)
    }

    /// The pause before the next try after `failures` failures in a row (at least one).
    public func pause(afterFailures failures: Int) -> TimeInterval {
        min(cap, first * pow(2, Double(min(max(failures, 1), 40) - 1)))
    }
}
