import Foundation

extension TargetKind {
    /// An endpoint someone else runs: ModelDeck observes and pings it, but cannot deploy to it.
    public static let http = TargetKind(declaring: "http")
}

/// An HTTP endpoint someone else runs — Google Cloud Run, Knative or KServe, Cortex, Verta, Modal, an in-house
/// server: anything with a URL. Nothing is deployed there (`deploy` and `rollback` are refused before anything is
/// written); the daemon probes it every `probe_interval` with a synthetic request, recorded apart from user
/// traffic and pings, and keep-warm pings it. Its probes and pings cost what the platform named by `price_as`
/// charges (Google Cloud Run's request-based prices are in the price table), else nothing.
///
/// Header values are never stored: a deck names environment variables (`Authorization: "Bearer ${RUN_TOKEN}"`),
/// which `apply` requires to be set and the daemon reads when it starts.
public enum HTTPTarget {
    /// The probe methods: a probe is a request the endpoint can answer without side effects (or, for a model,
    /// a small inference with `probe_body`).
    static let methods = ["GET", "HEAD", "POST", "PUT"]

    public static let descriptor = TargetDescriptor(
        kind: .http,
        summary: "an HTTP endpoint someone else runs (observed and pinged only)",
        limits: TargetLimits(memoryMB: 0...Int(Int32.max)),
        packaging: .none,
        configKeys: [
            ConfigKey("url", meaning: "where the endpoint answers, http:// or https://", required: true) { value in
                guard let url = URLComponents(string: value), ["http", "https"].contains(url.scheme?.lowercased() ?? ""),
                      let host = url.host, !host.isEmpty, url.user == nil, url.password == nil,
                      value.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value != 0x7F }) else {
                    return "must be an http:// or https:// URL with a host and no user or password (headers carry credentials)"
                }
                return nil
            },
            ConfigKey("probe_method", meaning: "the HTTP method of probes and pings", default: "GET") { value in
                methods.contains(value) ? nil : "must be one of \(methods.joined(separator: ", "))"
            },
            ConfigKey("probe_body", meaning: "the body of probes and pings (a small request the model answers)") { value in
                value.utf8.count <= 65_536 ? nil : "must be at most 64 KB"
            },
            ConfigKey("probe_content_type", meaning: "the Content-Type of probe_body", default: "application/json",
                      check: ConfigChecks.token(max: 128)),
            ConfigKey("headers", meaning: "headers of probes and pings, each value read from environment variables: {Authorization: 'Bearer ${TOKEN}'}",
                      isMapping: true) { value in
                HeaderTemplate.problem(inLines: value)
            },
            ConfigKey("probe_interval", meaning: "how often the daemon probes the endpoint", default: "30s") { value in
                duration(value, in: 1...3_600)
            },
            ConfigKey("probe_timeout", meaning: "how long a probe waits for an answer before it counts as failed", default: "10s") { value in
                duration(value, in: 1...900)
            },
            ConfigKey("cold_start_over", meaning: "a probe or ping slower than this counts as a cold start") { value in
                (try? Quantity.milliseconds(value)).map { $0 >= 1 } == true ? nil : "must be a duration such as 2s or 800ms"
            },
            ConfigKey("cold_start_header", meaning: "a response header the platform sets on an answer that waited for a cold start",
                      check: HeaderTemplate.checkName),
            ConfigKey("price_as", meaning: "the platform of the price table whose prices the probes and pings are priced at",
                      check: ConfigChecks.token(max: 64)),
            ConfigKey("architecture", meaning: "the architecture the probes and pings are priced at (with price_as)", default: "x86_64",
                      check: ConfigChecks.architecture),
            ConfigKey("cpu", meaning: "vCPUs of one instance, for platforms that price vCPU time (with price_as)", default: "1") { value in
                Decimal(string: value, locale: Locale(identifier: "en_US_POSIX")).map { $0 > 0 && $0 <= 64 } == true
                    && value.allSatisfy({ $0.isASCIIDigit || $0 == "." }) ? nil : "must be a number of vCPUs from 0.08 to 64, such as 1 or 0.5"
            },
        ],
        needsRegion: false,
        splitsTraffic: false,
        pricing: .configured(key: "price_as"),
        isRemote: true,
        metrics: .probes,
        controlsDeployments: false,
        checkEnvironment: { target, environment in
            guard let lines = target.config["headers"] else { return nil }
            for header in HeaderTemplate.parse(lines: lines) {
                if let missing = header.variables.first(where: { environment[$0] == nil }) {
                    return "target \(target.label): header \(header.name) reads $\(missing), which is not set; export it before apply and before the daemon starts (header values are never stored)"
                }
            }
            return nil
        }
    )

    static func duration(_ value: String, in range: ClosedRange<Int64>) -> String? {
        guard let seconds = try? Quantity.seconds(value), range.contains(seconds) else {
            return "must be a duration from \(Format.duration(seconds: range.lowerBound)) to \(Format.duration(seconds: range.upperBound))"
        }
        return nil
    }
}

/// One header of an http target's probes: its name, and a value made of text and `${VARIABLE}` references read
/// from the environment (`Bearer ${RUN_TOKEN}`). Only the template is stored; the value exists in the daemon's
/// memory alone.
public struct HeaderTemplate: Equatable, Sendable {
    public enum Part: Equatable, Sendable {
        case text(String)
        case variable(String)
    }

    public var name: String
    public var parts: [Part]

    public var variables: [String] { parts.compactMap { if case .variable(let name) = $0 { name } else { nil } } }

    /// The value with every variable read from `environment`; a variable that is not set is an error that names it.
    public func value(environment: [String: String]) throws -> String {
        try parts.map { part in
            switch part {
            case .text(let text): return text
            case .variable(let name):
                guard let value = environment[name] else { throw ModelDeckError("header \(self.name) reads $\(name), which is not set") }
                guard !value.contains(where: { $0 == "\r" || $0 == "\n" || $0 == "\0" }) else {
                    throw ModelDeckError("header \(self.name): $\(name) holds a line break, which a header value cannot carry")
                }
                return value
            }
        }.joined()
    }

    /// Headers as a target stores them: one `Name: template` a line (what the deck's mapping becomes).
    public static func parse(lines: String) -> [HeaderTemplate] {
        lines.split(separator: "\n").compactMap { line in
            guard let colon = line.firstIndex(of: ":") else { return nil }
            let name = String(line[..<colon])
            let template = line[line.index(after: colon)...].drop { $0 == " " }
            return HeaderTemplate(name: name, parts: parts(of: String(template)) ?? [.text(String(template))])
        }
    }

    /// `Bearer ${TOKEN}` as text and variables; nil when a `${` is not closed or a name is not a variable name.
    static func parts(of template: String) -> [Part]? {
        var parts: [Part] = []
        var rest = Substring(template)
        while let open = rest.range(of: "${") {
            if open.lowerBound > rest.startIndex { parts.append(.text(String(rest[..<open.lowerBound]))) }
            guard let close = rest[open.upperBound...].firstIndex(of: "}") else { return nil }
            let name = String(rest[open.upperBound..<close])
            guard isVariableName(name) else { return nil }
            parts.append(.variable(name))
            rest = rest[rest.index(after: close)...]
        }
        if !rest.isEmpty { parts.append(.text(String(rest))) }
        return parts
    }

    static func isVariableName(_ name: String) -> Bool {
        guard let first = name.first, first == "_" || (first.isASCII && first.isLetter), name.count <= 128 else { return false }
        return name.allSatisfy { $0 == "_" || $0.isASCIIAlphanumeric }
    }

    /// RFC 9110's token characters for a field name.
    @Sendable static func checkName(_ name: String) -> String? {
        let allowed = Set("!#$%&'*+-.^_`|~")
        return !name.isEmpty && name.count <= 128 && name.allSatisfy({ $0.isASCIIAlphanumeric || allowed.contains($0) })
            ? nil : "must be a header name (letters, digits, '-')"
    }

    /// What is wrong with stored header lines, or nil.
    @Sendable static func problem(inLines lines: String) -> String? {
        let entries = lines.split(separator: "\n", omittingEmptySubsequences: false)
        guard entries.count <= 32 else { return "has \(entries.count) headers, over the limit of 32" }
        for entry in entries {
            guard let colon = entry.firstIndex(of: ":") else { return "must map header names to values, e.g. {Authorization: 'Bearer ${TOKEN}'}" }
            let name = String(entry[..<colon]), template = String(entry[entry.index(after: colon)...].drop { $0 == " " })
            if let wrong = checkName(name) { return "'\(name)' \(wrong)" }
            if ["host", "content-length", "transfer-encoding", "connection"].contains(name.lowercased()) {
                return "'\(name)' is set by the HTTP client, not by a deck"
            }
            guard let parts = parts(of: template), template.unicodeScalars.allSatisfy({ $0.value >= 0x20 && $0.value != 0x7F }) else {
                return "\(name): a value is text with ${VARIABLE} references (letters, digits, '_'), on one line"
            }
            guard parts.contains(where: { if case .variable = $0 { true } else { false } }) else {
                return "\(name): the value must come from an environment variable, e.g. 'Bearer ${TOKEN}' (header values are never stored)"
            }
        }
        return nil
    }
}

/// How the daemon probes an http target, read from its settings (already checked by the descriptor).
public struct HTTPProbe: Equatable, Sendable {
    public var url: String
    public var method: String
    public var body: String?
    public var contentType: String?
    public var headers: [HeaderTemplate]
    public var intervalSeconds: Int64
    public var timeoutSeconds: Int64
    public var coldStartOverMilliseconds: Int64?
    public var coldStartHeader: String?

    public init(target: Target) {
        url = target.setting("url") ?? ""
        method = target.setting("probe_method") ?? "GET"
        body = target.setting("probe_body")
        contentType = body == nil ? nil : target.setting("probe_content_type")
        headers = target.setting("headers").map(HeaderTemplate.parse(lines:)) ?? []
        intervalSeconds = target.setting("probe_interval").flatMap { try? Quantity.seconds($0) } ?? 30
        timeoutSeconds = target.setting("probe_timeout").flatMap { try? Quantity.seconds($0) } ?? 10
        coldStartOverMilliseconds = target.setting("cold_start_over").flatMap { try? Quantity.milliseconds($0) }
        coldStartHeader = target.setting("cold_start_header")
    }

    /// Every header's value, read from `environment` (the daemon's, when it starts).
    public func headerValues(environment: [String: String]) throws -> [(name: String, value: String)] {
        try headers.map { ($0.name, try $0.value(environment: environment)) }
    }

    /// Whether an answer waited for a cold start: the platform's header says so (any value but `false`, `0`,
    /// `no` or empty), or it took longer than `cold_start_over`.
    public func isColdStart(milliseconds: Int, headerValue: String?) -> Bool {
        if coldStartHeader != nil, let value = headerValue?.trimmingCharacters(in: .whitespaces).lowercased(),
           !["", "false", "0", "no"].contains(value) {
            return true
        }
        if let threshold = coldStartOverMilliseconds, Int64(milliseconds) > threshold { return true }
        return false
    }

    /// A probe fails when nothing answered in time (status 0) or the answer is not 2xx or 3xx: the endpoint was
    /// not available to a caller like it.
    public static func failed(status: Int) -> Bool { !(200..<400).contains(status) }
}
