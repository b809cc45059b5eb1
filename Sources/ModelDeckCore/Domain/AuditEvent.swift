import Foundation

/// One line of the audit log: every intent and every action, with who asked and why.
public struct AuditEvent: Codable, Equatable, Sendable {
    public var id: Int64?
    public var at: Date
    /// `$USER` for people, `daemon` for the control loop.
    public var actor: String
    public var endpoint: String?
    public var deploymentId: Int64?
    /// Dotted kind: `apply.target.created`, `deploy.requested`, `rollback.requested`, `keepwarm.changed`, …
    public var kind: String
    public var message: String

    public init(id: Int64? = nil, at: Date, actor: String, endpoint: String? = nil, deploymentId: Int64? = nil,
                kind: String, message: String) {
        self.id = id
        self.at = at
        self.actor = actor
        self.endpoint = endpoint
        self.deploymentId = deploymentId
        self.kind = kind
        self.message = message
    }
}

/// Who is asking: `$USER`, or the account name of the process owner when `USER` is unset.
public enum Actor {
    public static var current: String {
        if let user = ProcessInfo.processInfo.environment["USER"], !user.isEmpty { return user }
        if let entry = getpwuid(getuid()), let name = entry.pointee.pw_name { return String(cString: name) }
        return "uid-\(getuid())"
    }
}
