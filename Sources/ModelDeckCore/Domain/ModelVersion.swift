/// A model: a name that versions hang off.
public struct Model: Codable, Equatable, Sendable {
    public var name: String
    public var description: String?

    public init(name: String, description: String? = nil) {
        self.name = name
        self.description = description
    }
}

/// One immutable version of a model: its artifact, how to run it, and what it needs.
///
/// Once registered a version never changes (a database trigger enforces it); a different artifact is a new
/// version. Its id is `model@version`, e.g. `sentiment@v2`.
public struct ModelVersion: Codable, Equatable, Sendable {
    public var model: String
    public var version: String
    /// Where the artifact lives: a local path or a URI (s3://…).
    public var artifact: String?
    /// `sha256:<64 hex digits>` of the artifact.
    public var digest: String
    /// The artifact's size in bytes (the zip or the image, as the target receives it).
    public var sizeBytes: Int64
    /// A zip package's unpacked size, when known (Lambda limits it to 250 MB).
    public var unzippedSizeBytes: Int64?
    /// The command that serves the model over HTTP on `$PORT` (local target, Lambda custom runtime).
    public var command: [String]?
    /// Folder the command runs in (the deck's folder unless the deck says otherwise).
    public var workdir: String?
    /// The container image that serves the model (SageMaker, Fargate, Lambda images).
    public var image: String?
    /// Memory the model needs, in MB.
    public var memoryMB: Int
    /// GPUs the model needs; 0 for none.
    public var gpus: Int
    /// The longest one request may take, in seconds, when the model states it.
    public var timeoutSeconds: Int64?
    public var notes: String?
    /// Environment variables the version declares (`env:` in the deck), given to its model processes on the
    /// local target next to the contract's own (which win); part of what the version is.
    public var environment: [String: String]?
    /// Who registered it; metadata, not part of what makes two declarations the same version.
    public var createdBy: String?

    public init(model: String, version: String, artifact: String? = nil, digest: String, sizeBytes: Int64,
                unzippedSizeBytes: Int64? = nil, command: [String]? = nil, workdir: String? = nil, image: String? = nil, memoryMB: Int,
                gpus: Int = 0, timeoutSeconds: Int64? = nil, notes: String? = nil, environment: [String: String]? = nil,
                createdBy: String? = nil) {
        self.model = model
        self.version = version
        self.artifact = artifact
        self.digest = digest
        self.sizeBytes = sizeBytes
        self.unzippedSizeBytes = unzippedSizeBytes
        self.command = command
        self.workdir = workdir
        self.image = image
        self.memoryMB = memoryMB
        self.gpus = gpus
        self.timeoutSeconds = timeoutSeconds
        self.notes = notes
        self.environment = environment
        self.createdBy = createdBy
    }

    public var id: String { ModelVersion.id(model: model, version: version) }

    public static func id(model: String, version: String) -> String { "\(model)@\(version)" }

    /// Splits `model@version`; a bare `version` is taken to belong to `defaultModel`.
    public static func parse(_ text: String, defaultModel: String) -> (model: String, version: String) {
        if let at = text.firstIndex(of: "@") {
            return (String(text[..<at]), String(text[text.index(after: at)...]))
        }
        return (defaultModel, text)
    }
}
