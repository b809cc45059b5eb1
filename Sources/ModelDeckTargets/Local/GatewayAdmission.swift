import Foundation

/// Which requests the local gateway answers at all, decided from the request line and headers alone,
/// before a body is read or an instance is taken.
///
/// - **Off loopback a token is required** (`MODELDECK_GATEWAY_TOKEN`, `Authorization: Bearer …`), as the
///   export API requires its own: anyone who can reach the port could otherwise run the models.
/// - **On loopback, the Host must be a loopback name.** A web page the engineer visits can point its own
///   domain at 127.0.0.1 (DNS rebinding) and then call the gateway as same-origin; its requests still
///   carry that domain in `Host`, so they are refused. (Off loopback the token already stops them.)
/// - **No cross-site "simple" POSTs to invoke.** A browser sends a POST from any page without asking
///   first when its content type is `text/plain`, `application/x-www-form-urlencoded` or
///   `multipart/form-data` (the CORS-safelisted types; Fetch standard, "CORS-safelisted request-header").
///   Invoke takes those, or no content type, only with the `X-ModelDeck-Client` header, which a browser
///   would have to ask the gateway about first (and is never told yes). JSON and every other type pass.
/// - The daemon's keep-warm pings carry its warmup secret and pass all three.
public struct GatewayAdmission: Sendable {
    public var listensOnLoopback: Bool
    public var token: String?
    public var warmupSecret: String

    public init(listensOnLoopback: Bool, token: String?, warmupSecret: String) {
        self.listensOnLoopback = listensOnLoopback
        self.token = token
        self.warmupSecret = warmupSecret
    }

    /// A refused request's status and one-line reason.
    public struct Refusal: Equatable, Sendable {
        public var status: Int
        public var reason: String
    }

    /// `localhost`, `::1`, or a dotted IPv4 address in 127.0.0.0/8 — four numbers, so `127.0.0.1.evil.example`
    /// (a name an attacker can point anywhere) is not loopback.
    public static func isLoopback(_ host: String) -> Bool {
        if host == "localhost" || host == "::1" || host == "[::1]" { return true }
        let parts = host.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4 && parts[0] == "127"
            && parts.allSatisfy { part in (1...3).contains(part.count) && part.allSatisfy(\.isASCII) && UInt8(part) != nil }
    }

    /// `Host` without its port: `127.0.0.1:8765` → `127.0.0.1`, `[::1]:8765` → `[::1]`.
    public static func hostName(_ header: String) -> String {
        let value = header.lowercased()
        if value.hasPrefix("[") { return value.split(separator: "]").first.map { $0 + "]" } ?? value }
        return value.split(separator: ":").first.map(String.init) ?? value
    }

    /// The media type of a `Content-Type` value: lowercased, without its parameters and the spaces around it
    /// (`Application/JSON; charset=utf-8` → `application/json`). Without Foundation: it runs for every request.
    public static func mediaType(_ value: String?) -> String {
        guard let value else { return "" }
        let blank: (UInt8) -> Bool = { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") }
        let bare = value.utf8.prefix { $0 != UInt8(ascii: ";") }.drop(while: blank)
        let end = bare.lastIndex { !blank($0) }.map { bare.index(after: $0) } ?? bare.startIndex
        return String(decoding: bare[..<end], as: UTF8.self).lowercased()
    }

    /// Nil when the request may go on.
    public func check(host: String?, authorization: String?, contentType: String?, clientHeader: Bool,
                      warmupSecret given: String?, isInvoke: Bool) -> Refusal? {
        if WarmupSecret.matches(given, warmupSecret) { return nil }
        if let token, !token.isEmpty {
            let bearer = authorization.flatMap { $0.hasPrefix("Bearer ") ? String($0.dropFirst(7)) : nil }
            guard WarmupSecret.matches(bearer, token) else {
                return Refusal(status: 401, reason: "this gateway needs Authorization: Bearer $MODELDECK_GATEWAY_TOKEN")
            }
        } else if !listensOnLoopback {
            return Refusal(status: 401, reason: "this gateway listens off loopback and has no token; set MODELDECK_GATEWAY_TOKEN")
        }
        if listensOnLoopback {
            guard let host, Self.isLoopback(Self.hostName(host)) else {
                return Refusal(status: 421, reason: "Host '\(host ?? "")' is not this gateway; it answers localhost, 127.0.0.1 and [::1] only")
            }
        }
        if isInvoke && !clientHeader {
            let type = Self.mediaType(contentType)
            if type.isEmpty || ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data"].contains(type) {
                return Refusal(status: 415, reason: "invoke needs Content-Type: application/json (or another non-form type), "
                               + "or the header X-ModelDeck-Client for \(type.isEmpty ? "a body without a type" : type)")
            }
        }
        return nil
    }
}
