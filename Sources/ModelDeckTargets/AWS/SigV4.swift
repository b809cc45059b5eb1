import Crypto
import Foundation

/// AWS Signature Version 4 (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv.html).
///
/// Written by hand because there is no AWS SDK for Swift on this machine; the few API calls the AWS
/// drivers make only need this signer and an HTTP client. Tests check it against botocore's signer on
/// generated requests. Pure: the caller supplies the clock, and gets back the headers to add.
public struct SigV4Signer: Sendable {
    public let service: String
    public let region: String

    public init(service: String, region: String) {
        self.service = service
        self.region = region
    }

    /// The parts of a request that the signature covers.
    public struct Request: Sendable {
        public var method: String
        /// `host[:port]` as sent in the `Host` header (no default port).
        public var host: String
        /// The path as sent on the wire, already percent-encoded; it is encoded once more for signing
        /// (AWS wants every service but S3 double-encoded).
        public var path: String
        /// Decoded query parameters; repeated names allowed.
        public var query: [(name: String, value: String)]
        public var headers: [(name: String, value: String)]
        public var body: Data

        public init(method: String, host: String, path: String, query: [(name: String, value: String)] = [],
                    headers: [(name: String, value: String)] = [], body: Data = Data()) {
            self.method = method
            self.host = host
            self.path = path
            self.query = query
            self.headers = headers
            self.body = body
        }
    }

    /// The headers to add to `request`: `X-Amz-Date`, `X-Amz-Security-Token` for session credentials, and
    /// `Authorization`.
    public func headers(for request: Request, credentials: AWSCredentials, date: Date) -> [(name: String, value: String)] {
        let amzDate = Self.amzDate(date)
        var added = [(name: "X-Amz-Date", value: amzDate)]
        if let token = credentials.sessionToken { added.append((name: "X-Amz-Security-Token", value: token)) }

        let signed = signedHeaders(request, adding: added)
        let canonical = canonicalRequest(request, signedHeaders: signed)
        let scope = "\(amzDate.prefix(8))/\(region)/\(service)/aws4_request"
        let stringToSign = ["AWS4-HMAC-SHA256", amzDate, scope, Self.hex(SHA256.hash(data: Data(canonical.utf8)))]
            .joined(separator: "\n")

        var key = SymmetricKey(data: Data("AWS4\(credentials.secretAccessKey)".utf8))
        for part in [String(amzDate.prefix(8)), region, service, "aws4_request"] {
            key = SymmetricKey(data: Self.hmac(key, part))
        }
        let signature = Self.hex(Self.hmac(key, stringToSign))
        let names = signed.map(\.name).joined(separator: ";")
        added.append((name: "Authorization",
                      value: "AWS4-HMAC-SHA256 Credential=\(credentials.accessKeyID)/\(scope), SignedHeaders=\(names), Signature=\(signature)"))
        return added
    }

    /// Headers a proxy or HTTP client may add, drop or rewrite; signing them would break the signature
    /// (botocore's list).
    static let unsignedHeaders: Set<String> = [
        "authorization", "connection", "expect", "keep-alive", "proxy-authenticate", "proxy-authorization",
        "te", "trailer", "transfer-encoding", "upgrade", "user-agent", "x-amzn-trace-id",
    ]

    /// Lowercased names, sorted, each with its values trimmed, inner whitespace collapsed, and repeated
    /// names joined by commas in order.
    func signedHeaders(_ request: Request, adding added: [(name: String, value: String)]) -> [(name: String, value: String)] {
        // The signer's own headers replace any the caller set; the Host header is the request's host.
        let replaced = Set(added.map { $0.name.lowercased() }).union(["host"])
        let given = request.headers.filter { !replaced.contains($0.name.lowercased()) }
        var values: [String: [String]] = ["host": [request.host]]
        for header in given + added where !Self.unsignedHeaders.contains(header.name.lowercased()) {
            values[header.name.lowercased(), default: []]
                .append(header.value.split(whereSeparator: \.isWhitespace).joined(separator: " "))
        }
        return values.keys.sorted(by: Self.byteOrder).map { (name: $0, value: values[$0]!.joined(separator: ",")) }
    }

    func canonicalRequest(_ request: Request, signedHeaders signed: [(name: String, value: String)]) -> String {
        let query = request.query
            .map { (name: Self.encode($0.name), value: Self.encode($0.value)) }
            .sorted { Self.byteOrder($0.name, $1.name) || ($0.name == $1.name && Self.byteOrder($0.value, $1.value)) }
            .map { "\($0.name)=\($0.value)" }
            .joined(separator: "&")
        return [
            request.method.uppercased(),
            Self.encode(Self.normalizedPath(request.path), keepingSlashes: true),
            query,
            signed.map { "\($0.name):\($0.value)\n" }.joined(),
            signed.map(\.name).joined(separator: ";"),
            Self.hex(SHA256.hash(data: request.body)),
        ].joined(separator: "\n")
    }

    /// RFC 3986 dot segments removed and empty segments dropped, as AWS normalizes paths (not S3's).
    static func normalizedPath(_ path: String) -> String {
        var segments: [Substring] = []
        for segment in path.split(separator: "/", omittingEmptySubsequences: true) where segment != "." {
            if segment == ".." { _ = segments.popLast() } else { segments.append(segment) }
        }
        let trailing = path.hasSuffix("/") && !segments.isEmpty ? "/" : ""
        return "/" + segments.joined(separator: "/") + trailing
    }

    /// Percent-encodes everything except RFC 3986's unreserved characters, as %XX with uppercase hex.
    static func encode(_ text: String, keepingSlashes: Bool = false) -> String {
        var out = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"),
                 UInt8(ascii: "."), UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            case UInt8(ascii: "/") where keepingSlashes:
                out.append("/")
            default:
                out += String(format: "%%%02X", byte)
            }
        }
        return out
    }

    /// `yyyyMMdd'T'HHmmss'Z'` in UTC.
    static func amzDate(_ date: Date) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        return String(format: "%04d%02d%02dT%02d%02d%02dZ", c.year!, c.month!, c.day!, c.hour!, c.minute!, c.second!)
    }

    /// Sorting by UTF-8 bytes, as AWS specifies, rather than Swift's Unicode-aware string order.
    static func byteOrder(_ a: String, _ b: String) -> Bool { a.utf8.lexicographicallyPrecedes(b.utf8) }

    static func hmac(_ key: SymmetricKey, _ message: String) -> Data {
        Data(HMAC<SHA256>.authenticationCode(for: Data(message.utf8), using: key))
    }

    static func hex<Bytes: Sequence>(_ bytes: Bytes) -> String where Bytes.Element == UInt8 {
        bytes.map { String(format: "%02x", $0) }.joined()
    }
}
