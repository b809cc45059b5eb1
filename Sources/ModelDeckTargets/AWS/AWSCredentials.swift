import Foundation
import ModelDeckCore

/// An AWS access key pair, with a session token for temporary credentials.
///
/// `description` never shows the secret or the token, so credentials can be logged or put in an error
/// without leaking them.
public struct AWSCredentials: Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible {
    public let accessKeyID: String
    public let secretAccessKey: String
    public let sessionToken: String?

    public init(accessKeyID: String, secretAccessKey: String, sessionToken: String? = nil) {
        self.accessKeyID = accessKeyID
        self.secretAccessKey = secretAccessKey
        self.sessionToken = sessionToken
    }

    public var description: String {
        "AWSCredentials(accessKeyID: \(accessKeyID), secretAccessKey: <redacted>\(sessionToken == nil ? "" : ", sessionToken: <redacted>"))"
    }

    public var debugDescription: String { description }
}

/// Where the AWS drivers get credentials, region and endpoint: the standard chain of the AWS CLI and SDKs.
///
/// Environment first (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `AWS_REGION` or
/// `AWS_DEFAULT_REGION`, `AWS_ENDPOINT_URL`), then the profile named by `AWS_PROFILE` (else `default`) in
/// `~/.aws/credentials` and `~/.aws/config` (`AWS_SHARED_CREDENTIALS_FILE` and `AWS_CONFIG_FILE` move them).
/// Nothing is cached or written anywhere; it is read again each time.
public struct AWSConfiguration: Sendable, Equatable {
    public let credentials: AWSCredentials
    public let region: String
    /// Replaces the service's own endpoint, e.g. moto on loopback in tests.
    public let endpointURL: String?
    public let profile: String

    public init(credentials: AWSCredentials, region: String, endpointURL: String?, profile: String) {
        self.credentials = credentials
        self.region = region
        self.endpointURL = endpointURL
        self.profile = profile
    }

    /// Reads the chain from `environment` and the files under `home`; both are parameters so tests use neither
    /// the real environment nor the real home folder.
    public static func resolve(environment: [String: String], home: String) throws -> AWSConfiguration {
        func env(_ name: String) -> String? {
            guard let value = environment[name]?.trimmingCharacters(in: .whitespaces), !value.isEmpty else { return nil }
            return value
        }
        let profile = env("AWS_PROFILE") ?? "default"
        let credentialsPath = env("AWS_SHARED_CREDENTIALS_FILE") ?? "\(home)/.aws/credentials"
        let configPath = env("AWS_CONFIG_FILE") ?? "\(home)/.aws/config"
        let fromCredentialsFile = try INIFile.read(credentialsPath)?[profile] ?? [:]
        // The config file names every profile but the default one `[profile NAME]`.
        let configFile = try INIFile.read(configPath)
        let fromConfig = configFile?[profile == "default" ? "default" : "profile \(profile)"]
            ?? configFile?[profile] ?? [:]

        let credentials: AWSCredentials
        switch (env("AWS_ACCESS_KEY_ID"), env("AWS_SECRET_ACCESS_KEY")) {
        case let (id?, secret?):
            credentials = AWSCredentials(accessKeyID: id, secretAccessKey: secret, sessionToken: env("AWS_SESSION_TOKEN"))
        case (.some, nil):
            throw ModelDeckError("AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not; set both or neither")
        case (nil, .some):
            throw ModelDeckError("AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID is not; set both or neither")
        case (nil, nil):
            guard let file = [fromCredentialsFile, fromConfig].first(where: { $0["aws_access_key_id"] != nil }),
                  let id = file["aws_access_key_id"], let secret = file["aws_secret_access_key"]
            else {
                throw ModelDeckError("no AWS credentials: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set, and profile '\(profile)' has no aws_access_key_id and aws_secret_access_key in \(credentialsPath) or \(configPath)")
            }
            credentials = AWSCredentials(accessKeyID: id, secretAccessKey: secret, sessionToken: file["aws_session_token"])
        }

        guard let region = env("AWS_REGION") ?? env("AWS_DEFAULT_REGION") ?? fromConfig["region"] else {
            throw ModelDeckError("no AWS region: AWS_REGION and AWS_DEFAULT_REGION are not set, and profile '\(profile)' has no region in \(configPath)")
        }
        try AWSRegion.check(region, what: "AWS region")
        let endpointURL = env("AWS_ENDPOINT_URL") ?? fromConfig["endpoint_url"]
        if let endpointURL { try AWSRegion.checkEndpoint(endpointURL, what: "AWS endpoint URL") }
        return AWSConfiguration(credentials: credentials, region: region, endpointURL: endpointURL, profile: profile)
    }
}

/// The INI dialect of `~/.aws/credentials` and `~/.aws/config`: `[section]`, `key = value`, `#`/`;` comments.
/// Indented lines continue a nested setting (e.g. `s3 =` followed by its keys), which this chain ignores.
enum INIFile {
    /// Sections by name, or nil when there is no file.
    static func read(_ path: String) throws -> [String: [String: String]]? {
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw ModelDeckError("cannot read \(path) (it must be a readable UTF-8 text file)")
        }
        return parse(text)
    }

    static func parse(_ text: String) -> [String: [String: String]] {
        var sections: [String: [String: String]] = [:]
        var current: String?
        for raw in text.split(whereSeparator: \.isNewline) {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix(";") || raw.first?.isWhitespace == true { continue }
            if line.hasPrefix("["), line.hasSuffix("]") {
                let name = line.dropFirst().dropLast().split(whereSeparator: \.isWhitespace).joined(separator: " ")
                current = name
                if sections[name] == nil { sections[name] = [:] }
            } else if let current, let equals = line.firstIndex(of: "=") {
                let key = line[..<equals].trimmingCharacters(in: .whitespaces).lowercased()
                let value = line[line.index(after: equals)...].trimmingCharacters(in: .whitespaces)
                sections[current]?[key] = value
            }
        }
        return sections
    }
}
