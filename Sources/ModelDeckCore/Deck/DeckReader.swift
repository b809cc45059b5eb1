import Crypto
import Foundation
import Yams

/// Reads a deck file strictly: malformed YAML says where, unknown fields are refused (a typo such as
/// `memroy:` must not be silently ignored), and every value is parsed with its unit.
///
/// Written over Yams' node tree rather than `Codable`, because `Codable` drops unknown keys and loses
/// line numbers.
public struct DeckReader {
    /// The name errors use for the file (`fixtures/decks/example.yaml`).
    public let sourceName: String
    /// Folder that relative artifact paths are resolved against.
    public let baseDirectory: String
    /// The environment the deck's `${VARIABLES}` are checked in: an http target's headers and the notifications'
    /// secrets must be set when the deck is applied (their values are never stored).
    public let environment: [String: String]

    public init(sourceName: String, baseDirectory: String, environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.sourceName = sourceName
        self.baseDirectory = baseDirectory
        self.environment = environment
    }

    /// Reads the deck at `path`.
    public static func read(path: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> Deck {
        // Refuse a huge file (or a device such as /dev/zero, which never ends) before reading it.
        if let size = (try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int64, size > YAMLBudget.maxBytes {
            throw ModelDeckError("deck \(path) is \(Format.bytes(size)), over the limit of \(Format.bytes(Int64(YAMLBudget.maxBytes))) for a YAML file")
        }
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            let reason = FileManager.default.fileExists(atPath: path) ? "it cannot be read" : "no such file"
            throw ModelDeckError("cannot read deck \(path): \(reason)")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw ModelDeckError("\(path): not UTF-8 text")
        }
        let folder = URL(fileURLWithPath: path).standardizedFileURL.deletingLastPathComponent().path
        return try DeckReader(sourceName: path, baseDirectory: folder, environment: environment).parse(text)
    }

    public func parse(_ text: String) throws -> Deck {
        let root: Node
        try YAMLBudget.check(text, name: sourceName)
        do {
            guard let node = try Yams.compose(yaml: text) else {
                throw ModelDeckError("\(sourceName): the deck is empty")
            }
            root = node
        } catch let error as YamlError {
            throw ModelDeckError(describe(error))
        }
        let top = try mapping(root, what: "the deck", allowed: ["apiVersion", "targets", "models", "endpoints", "notifications"])
        if let api = top["apiVersion"] {
            let value = try string(api, what: "apiVersion")
            guard value == "modeldeck/v1" else {
                throw error(at: api, "apiVersion '\(value)' is not supported; use modeldeck/v1")
            }
        }
        var deck = Deck()
        for node in try sequence(top["targets"], what: "targets") {
            deck.targets.append(Declared(try target(node), at: location(node)))
        }
        for node in try sequence(top["models"], what: "models") {
            let (model, versions) = try model(node)
            deck.models.append(Declared(model, at: location(node)))
            deck.versions += versions
        }
        for node in try sequence(top["endpoints"], what: "endpoints") {
            deck.endpoints.append(Declared(try endpoint(node), at: location(node)))
        }
        for node in try sequence(top["notifications"], what: "notifications") {
            deck.notifications.append(Declared(try notification(node), at: location(node)))
        }
        return deck
    }

    // MARK: - Declarations

    func target(_ node: Node) throws -> Target {
        let fields = try mapping(node, what: "a target", allowed: nil)
        let name = try requiredName(fields, in: node, what: "target")
        guard let kindNode = fields["kind"] else { throw error(at: node, "target '\(name)' has no kind; use one of \(TargetKind.names)") }
        let kindText = try string(kindNode, what: "kind")
        guard let kind = TargetKind(rawValue: kindText) else {
            throw error(at: kindNode, "target '\(name)': unknown kind '\(kindText)'; use one of \(TargetKind.names)")
        }
        let descriptor = kind.descriptor
        try checkFields(node, allowed: ["name", "kind", "region"] + descriptor.configKeyNames, what: "target '\(name)' (\(kind.rawValue))")
        var config: [String: String] = [:]
        for key in descriptor.configKeys {
            guard let value = fields[key.name] else { continue }
            config[key.name] = key.isMapping ? try lines(value, what: "target '\(name)': \(key.name)") : try string(value, what: key.name)
        }
        let region = try fields["region"].map { try string($0, what: "region") }
        let target = Target(name: name, kind: kind, region: region, config: config)
        // The kind's descriptor checks every setting (required ones present, each value well formed): the first
        // problem is refused where it is, so a Lambda target without role_arn never reaches the daemon.
        if let problem = descriptor.problems(in: target).first {
            throw error(at: problem.key.flatMap { fields[$0] } ?? node, problem.message)
        }
        if let problem = descriptor.checkEnvironment(target, environment) { throw error(at: node, problem) }
        // A target priced as a platform it names must name one, with a region and architecture, the price table
        // has. (An AWS target in a region the table lacks is fine: its burn just shows as not priced.)
        if case .configured(let key) = descriptor.pricing, let priceAs = fields[key] {
            _ = try at(priceAs) {
                do { return try TargetPricing.rates(for: target, table: try PriceTable.load()) } catch let error as ModelDeckError {
                    throw ModelDeckError("target '\(name)': \(error.message)")
                }
            }
        }
        return target
    }

    func model(_ node: Node) throws -> (Model, [Declared<ModelVersion>]) {
        let fields = try mapping(node, what: "a model", allowed: nil)
        let name = try requiredName(fields, in: node, what: "model")
        try checkFields(node, allowed: ["name", "description", "versions"], what: "model '\(name)'")
        let model = Model(name: name, description: try fields["description"].map { try string($0, what: "description") })
        var versions: [Declared<ModelVersion>] = []
        for versionNode in try sequence(fields["versions"], what: "versions of model '\(name)'") {
            versions.append(Declared(try version(versionNode, model: name), at: location(versionNode)))
        }
        return (model, versions)
    }

    func version(_ node: Node, model: String) throws -> ModelVersion {
        let fields = try mapping(node, what: "a version", allowed: nil)
        guard let versionNode = fields["version"] else { throw error(at: node, "a version of model '\(model)' has no 'version' field") }
        let label = try string(versionNode, what: "version")
        try checkIdentifier(label, at: versionNode, what: "version")
        let id = "version '\(model)@\(label)'"
        try checkFields(node, allowed: ["version", "artifact", "digest", "size", "unzipped_size", "command", "workdir", "image",
                                          "memory", "gpus", "gpu", "timeout", "notes", "env"], what: id)

        let artifact = try fields["artifact"].map { try string($0, what: "artifact") }
        var digest = try fields["digest"].map { try string($0, what: "digest") }
        if let given = digest, let node = fields["digest"] {
            let hex = given.hasPrefix("sha256:") ? String(given.dropFirst(7)) : given
            guard hex.count == 64, hex.allSatisfy({ $0.isHexDigit }) else {
                throw error(at: node, "\(id): digest '\(given)' is not sha256:<64 hex digits>")
            }
            digest = "sha256:" + hex.lowercased()
        }
        var size = try fields["size"].map { node in try at(node) { try Quantity.bytes(try string(node, what: "size"), what: "\(id) size") } }
        var artifactLocation = artifact
        if let artifact, !artifact.contains("://") {
            let path = artifact.hasPrefix("/") ? artifact : baseDirectory + "/" + artifact
            let resolved = URL(fileURLWithPath: path).standardizedFileURL.path
            artifactLocation = resolved
            let artifactNode = fields["artifact"]!
            let (fileDigest, fileSize) = try at(artifactNode) { try DeckReader.sha256(ofFileAt: resolved, what: id) }
            if let digest, digest != fileDigest {
                throw error(at: fields["digest"]!, "\(id): artifact \(artifact) has digest \(fileDigest), the deck says \(digest)")
            }
            if let size, size != fileSize {
                throw error(at: fields["size"]!, "\(id): artifact \(artifact) is \(fileSize) bytes, the deck says \(size)")
            }
            digest = fileDigest
            size = fileSize
        }
        guard let digest else {
            throw error(at: node, "\(id) needs a digest (sha256:…) or a local artifact file to compute it from")
        }
        guard let size else { throw error(at: node, "\(id) needs a size when its artifact is not a local file") }

        var command: [String]?
        if let commandNode = fields["command"] {
            switch commandNode {
            case .sequence(let items):
                command = try items.map { try string($0, what: "command") }
            default:
                command = try string(commandNode, what: "command").split(separator: " ").map(String.init)
            }
            if command?.isEmpty != false { throw error(at: commandNode, "\(id): command is empty") }
        }
        let image = try fields["image"].map { try string($0, what: "image") }
        var workdir: String?
        if command != nil {
            let given = try fields["workdir"].map { try string($0, what: "workdir") } ?? "."
            workdir = URL(fileURLWithPath: given.hasPrefix("/") ? given : baseDirectory + "/" + given).standardizedFileURL.path
        }
        guard let memoryNode = fields["memory"] else { throw error(at: node, "\(id) has no memory; say what it needs, e.g. memory: 512MB") }
        let memory = try at(memoryNode) { try Quantity.megabytes(try string(memoryNode, what: "memory"), what: "\(id) memory") }
        guard memory > 0 else { throw error(at: memoryNode, "\(id): memory must be more than 0 MB") }

        var gpus = 0
        if let gpuNode = fields["gpus"] {
            gpus = try integer(gpuNode, what: "\(id) gpus", range: 0...64)
        } else if let gpuNode = fields["gpu"] {
            gpus = try boolean(gpuNode, what: "\(id) gpu") ? 1 : 0
        }
        let timeout = try fields["timeout"].map { node in
            try at(node) { try Quantity.seconds(try string(node, what: "timeout"), what: "\(id) timeout") }
        }
        let unzipped = try fields["unzipped_size"].map { node in
            try at(node) { try Quantity.bytes(try string(node, what: "unzipped_size"), what: "\(id) unzipped_size") }
        }
        let environment = try fields["env"].map { try self.environment($0, what: id) }
        return ModelVersion(model: model, version: label, artifact: artifactLocation, digest: digest, sizeBytes: size,
                            unzippedSizeBytes: unzipped, command: command, workdir: workdir, image: image, memoryMB: memory, gpus: gpus,
                            timeoutSeconds: timeout, notes: try fields["notes"].map { try string($0, what: "notes") },
                            environment: environment)
    }

    /// `env: {NAME: value}`: names as a shell takes them, at most 64, values of one line up to 4 KB; the
    /// contract's own names (`PORT`, `HOST`, `MODEL_*`, `MODELDECK_*`, `TMPDIR`) are ModelDeck's to set.
    func environment(_ node: Node, what: String) throws -> [String: String] {
        guard case .mapping(let pairs) = node else { throw error(at: node, "\(what): env must map names to values, e.g. env: {LOG_LEVEL: info}") }
        guard pairs.count <= 64 else { throw error(at: node, "\(what): env has \(pairs.count) variables, over the limit of 64") }
        let reserved: Set<String> = ["PORT", "HOST", "TMPDIR", "TMP", "TEMP", "PATH"]
        var environment: [String: String] = [:]
        for (key, value) in pairs {
            let name = try string(key, what: "env name")
            let first = name.unicodeScalars.first
            guard let first, name.count <= 128, first == "_" || (first.isASCII && first.properties.isAlphabetic),
                  name.unicodeScalars.allSatisfy({ $0 == "_" || ($0.isASCII && $0.properties.isAlphabetic) || ("0"..."9").contains($0) }) else {
                throw error(at: key, "\(what): env name '\(name)' must be letters, digits and '_', not starting with a digit")
            }
            guard !reserved.contains(name), !name.hasPrefix("MODEL_"), !name.hasPrefix("MODELDECK_") else {
                throw error(at: key, "\(what): env name '\(name)' is set by ModelDeck (PORT, HOST, PATH, TMPDIR, MODEL_*, MODELDECK_*)")
            }
            let text = try string(value, what: "env \(name)")
            guard text.utf8.count <= 4_096, !text.contains("\0"), !text.contains(where: \.isNewline) else {
                throw error(at: value, "\(what): env \(name) must be one line of at most 4 KB")
            }
            environment[name] = text
        }
        return environment
    }
}
