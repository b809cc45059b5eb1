import NIOHTTP1

/// The request headers the gateway reads, taken out of a request's head in one pass over its headers (the first
/// of each name, as `HTTPHeaders.first(name:)` gives). Before, eleven `first(name:)` lookups each walked every
/// header with a case-insensitive comparison; this runs for every request.
struct RequestFields: Equatable {
    var host: String?
    var authorization: String?
    var contentType: String?
    var contentLength: String?
    /// `X-ModelDeck-Client` is present (any value).
    var client = false
    /// `X-ModelDeck-Warmup-Secret`: the daemon's secret, proving a keep-warm ping or probe is its own.
    var warmupSecret: String?
    /// `X-ModelDeck-Warmup`.
    var warmup: String?
    /// `X-ModelDeck-Bench`: a bench run's token.
    var benchToken: String?
    /// `X-ModelDeck-Bench-Cold`.
    var benchCold: String?
    /// `X-ModelDeck-Version`: a ping or bench request naming its version.
    var version: String?
    /// `X-ModelDeck-Warmup-Hold-Ms`.
    var holdMilliseconds: String?

    init(_ headers: HTTPHeaders) {
        for (name, value) in headers {
            // Most headers are told apart by their length before any byte is compared.
            switch name.utf8.count {
            case 4 where Self.named(name, "host"): if host == nil { host = value }
            case 12 where Self.named(name, "content-type"): if contentType == nil { contentType = value }
            case 13 where Self.named(name, "authorization"): if authorization == nil { authorization = value }
            case 14 where Self.named(name, "content-length"): if contentLength == nil { contentLength = value }
            case 18 where Self.named(name, "x-modeldeck-client"): client = true
            case 18 where Self.named(name, "x-modeldeck-warmup"): if warmup == nil { warmup = value }
            case 19 where Self.named(name, "x-modeldeck-version"): if version == nil { version = value }
            case 17 where Self.named(name, "x-modeldeck-bench"): if benchToken == nil { benchToken = value }
            case 22 where Self.named(name, "x-modeldeck-bench-cold"): if benchCold == nil { benchCold = value }
            case 25 where Self.named(name, "x-modeldeck-warmup-secret"): if warmupSecret == nil { warmupSecret = value }
            case 26 where Self.named(name, "x-modeldeck-warmup-hold-ms"): if holdMilliseconds == nil { holdMilliseconds = value }
            default: break
            }
        }
    }

    /// Whether `name` is `lowercased` in any case (ASCII; header names are tokens). `lowercased` is lower case.
    @inline(__always)
    static func named(_ name: String, _ lowercased: StaticString) -> Bool {
        let expected = UnsafeBufferPointer(start: lowercased.utf8Start, count: lowercased.utf8CodeUnitCount)
        guard name.utf8.count == expected.count else { return false }
        var index = 0
        for byte in name.utf8 {
            // Folds A-Z to a-z; other bytes must match as they are.
            let folded = (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z")) ? byte | 0x20 : byte
            guard folded == expected[index] else { return false }
            index += 1
        }
        return true
    }
}
