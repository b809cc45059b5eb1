import Foundation
import NIOHTTP1

/// What a request line asks the gateway for.
enum GatewayRoute: Equatable {
    case invoke(endpoint: String)
    case health
    case ready
    case notFound

    /// `POST /endpoints/{name}/invoke`, `GET /healthz`, `GET /readyz`; a query string is ignored.
    /// Read from the path's bytes: it runs for every request.
    static func of(method: HTTPMethod, uri: String) -> GatewayRoute {
        let path = uri.utf8.prefix { $0 != UInt8(ascii: "?") }
        let prefix = "/endpoints/".utf8, suffix = "/invoke".utf8
        switch method {
        case .POST where path.count > prefix.count + suffix.count && path.starts(with: prefix) && path.reversed().starts(with: suffix.reversed()):
            let name = path.dropFirst(prefix.count).dropLast(suffix.count)
            guard !name.contains(UInt8(ascii: "/")) else { return .notFound }
            let decoded = String(decoding: name, as: UTF8.self)
            return .invoke(endpoint: name.contains(UInt8(ascii: "%")) ? decoded.removingPercentEncoding ?? decoded : decoded)
        case .GET where path.elementsEqual("/healthz".utf8): return .health
        case .GET where path.elementsEqual("/readyz".utf8): return .ready
        default: return .notFound
        }
    }
}
