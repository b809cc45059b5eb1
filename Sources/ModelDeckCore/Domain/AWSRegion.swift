import Foundation

/// An AWS region name and an endpoint URL, checked before anything is signed or sent.
///
/// The region goes into the host name of every call (`lambda.<region>.amazonaws.com`), with the access key
/// id and session token in its headers: `region: "attacker.invalid#"` made that host `lambda.attacker.invalid`.
/// Region names are two letters, one or more lower-case words and a number (`us-east-1`, `us-gov-west-1`,
/// `eu-isoe-west-1`; https://docs.aws.amazon.com/global-infrastructure/latest/regions/aws-regions.html).
public enum AWSRegion {
    public static func isValid(_ name: String) -> Bool {
        let parts = name.split(separator: "-", omittingEmptySubsequences: false)
        guard name.count <= 32, parts.count >= 3, parts[0].count == 2,
              let number = parts.last, (1...2).contains(number.count), number.allSatisfy({ $0.isASCII && $0.isNumber }) else { return false }
        return parts.dropLast().allSatisfy { part in !part.isEmpty && part.allSatisfy { $0.isASCII && $0.isLowercase } }
    }

    /// Throws the one-line refusal for a name that is not a region.
    public static func check(_ name: String, what: String) throws {
        guard isValid(name) else {
            throw ModelDeckError("\(what) '\(name)' is not an AWS region name (two letters, words and a number, e.g. eu-central-1)")
        }
    }

    /// An endpoint URL must be `http(s)://host[:port]` with an optional `/`: no user, path, query or fragment,
    /// which could send signed calls, credentials in their headers, somewhere other than it seems to.
    public static func checkEndpoint(_ url: String, what: String) throws {
        guard let parts = URLComponents(string: url), let scheme = parts.scheme?.lowercased(), scheme == "http" || scheme == "https",
              let host = parts.host, !host.isEmpty, parts.user == nil, parts.password == nil, parts.query == nil,
              parts.fragment == nil, parts.path.isEmpty || parts.path == "/" else {
            throw ModelDeckError("\(what) '\(url)' is not http(s)://host[:port]")
        }
    }
}
