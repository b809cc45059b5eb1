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

    private func target(_ node: Node) throws -> Target {
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

    private func model(_ node: Node) throws -> (Model, [Declared<ModelVersion>]) {
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

    private func version(_ node: Node, model: String) throws -> ModelVersion {
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
    private func environment(_ node: Node, what: String) throws -> [String: String] {
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

    private func endpoint(_ node: Node) throws -> EndpointDeclaration {
        let fields = try mapping(node, what: "an endpoint", allowed: nil)
        let name = try requiredName(fields, in: node, what: "endpoint")
        let what = "endpoint '\(name)'"
        try checkFields(node, allowed: ["name", "model", "target", "memory", "concurrency", "min_instances",
                                          "max_instances", "idle_timeout", "slo", "daily_budget", "keep_warm",
                                          "traffic", "production", "rollout", "gate"], what: what)
        guard let modelNode = fields["model"] else { throw error(at: node, "\(what) has no model") }
        guard let targetNode = fields["target"] else { throw error(at: node, "\(what) has no target") }
        guard let memoryNode = fields["memory"] else { throw error(at: node, "\(what) has no memory, e.g. memory: 512MB") }
        var endpoint = Endpoint(
            name: name, model: try string(modelNode, what: "model"), target: try string(targetNode, what: "target"),
            memoryMB: try at(memoryNode) { try Quantity.megabytes(try string(memoryNode, what: "memory"), what: "\(what) memory") })
        var declared: Set<EndpointSetting> = [.memory]
        if let n = fields["concurrency"] {
            endpoint.concurrency = try integer(n, what: "\(what) concurrency", range: 1...10_000)
            declared.insert(.concurrency)
        }
        if let n = fields["min_instances"] {
            endpoint.minInstances = try integer(n, what: "\(what) min_instances", range: 0...10_000)
            declared.insert(.minInstances)
        }
        if let n = fields["max_instances"] {
            endpoint.maxInstances = try integer(n, what: "\(what) max_instances", range: 1...10_000)
            declared.insert(.maxInstances)
        }
        if endpoint.minInstances > endpoint.maxInstances {
            throw error(at: fields["min_instances"] ?? node, "\(what): min_instances \(endpoint.minInstances) is more than max_instances \(endpoint.maxInstances)")
        }
        if let n = fields["idle_timeout"] {
            endpoint.idleTimeoutSeconds = try at(n) { try Quantity.seconds(try string(n, what: "idle_timeout"), what: "\(what) idle_timeout") }
            declared.insert(.idleTimeout)
        }
        if let sloNode = fields["slo"] {
            let slo = try mapping(sloNode, what: "\(what) slo", allowed: ["p99", "error_rate"])
            if let n = slo["p99"] {
                endpoint.slo.p99Milliseconds = try at(n) { try Quantity.milliseconds(try string(n, what: "p99"), what: "\(what) slo p99") }
                guard endpoint.slo.p99Milliseconds > 0 else { throw error(at: n, "\(what): slo p99 must be more than 0ms") }
                declared.insert(.sloP99)
            }
            if let n = slo["error_rate"] {
                endpoint.slo.errorRatePPM = try at(n) { try Quantity.ppm(try string(n, what: "error_rate"), what: "\(what) slo error_rate") }
                declared.insert(.sloErrorRate)
            }
        }
        if let n = fields["daily_budget"] {
            endpoint.dailyBudgetMicros = try at(n) { try Quantity.microdollars(try string(n, what: "daily_budget"), what: "\(what) daily_budget") }
            declared.insert(.dailyBudget)
        }
        if let n = fields["keep_warm"] {
            (endpoint.keepWarm, endpoint.keepWarmSchedule) = try keepWarm(n, what: what)
            declared.insert(.keepWarm)
        }
        if let n = fields["production"] {
            endpoint.production = try boolean(n, what: "\(what) production")
            declared.insert(.production)
        }
        if let n = fields["rollout"] {
            let text = try string(n, what: "\(what) rollout")
            _ = try at(n) { try DeploymentStrategy.rollout(parsing: text) }
            endpoint.rollout = text
            declared.insert(.rollout)
        }
        if let gateNode = fields["gate"] {
            endpoint.gate = try gate(gateNode, what: what)
            declared.insert(.gate)
        }

        var traffic: [String: Int] = [:]
        if let trafficNode = fields["traffic"] {
            guard case .mapping(let pairs) = trafficNode else {
                throw error(at: trafficNode, "\(what): traffic must map versions to weights, e.g. traffic: {v1: 90, v2: 10}")
            }
            for (key, value) in pairs {
                let version = try string(key, what: "version")
                guard traffic[version] == nil else { throw error(at: key, "\(what): version '\(version)' appears twice in traffic") }
                traffic[version] = try integer(value, what: "\(what) weight for '\(version)'", range: 0...100)
            }
            let sum = traffic.values.reduce(0, +)
            guard sum == 100 else {
                throw error(at: trafficNode, "\(what): traffic weights sum to \(sum), they must sum to 100")
            }
        }
        return EndpointDeclaration(endpoint: endpoint, traffic: traffic, declared: declared)
    }

    /// A `notifications:` entry: a webhook `url` or a `command`, a `format`, optional `events`, `endpoints`
    /// and `production` filters, and `headers`. `${NAME}`s must be set in the environment now.
    private func notification(_ node: Node) throws -> NotificationChannel {
        let fields = try mapping(node, what: "a notification", allowed: nil)
        let name = try requiredName(fields, in: node, what: "notification")
        let what = "notification '\(name)'"
        try checkFields(node, allowed: ["name", "url", "command", "format", "events", "endpoints", "production", "headers"], what: what)
        let destination: NotificationChannel.Destination
        switch (fields["url"], fields["command"]) {
        case (let url?, nil): destination = .url(try string(url, what: "\(what) url"))
        case (nil, let command?):
            if case .sequence(let items) = command {
                destination = .command(try items.map { try string($0, what: "\(what) command") })
            } else {
                destination = .command(try string(command, what: "\(what) command").split(separator: " ").map(String.init))
            }
        case (_?, _?): throw error(at: node, "\(what) has both url and command; give one")
        case (nil, nil): throw error(at: node, "\(what) has no url or command; give a webhook url or a command to run")
        }
        guard let formatNode = fields["format"] else {
            throw error(at: node, "\(what) has no format; use \(NotificationChannel.Format.allCases.map(\.rawValue).joined(separator: " or "))")
        }
        let formatText = try string(formatNode, what: "\(what) format")
        guard let format = NotificationChannel.Format(rawValue: formatText) else {
            throw error(at: formatNode, "\(what): format '\(formatText)' is not \(NotificationChannel.Format.allCases.map(\.rawValue).joined(separator: " or "))")
        }
        var channel = NotificationChannel(name: name, destination: destination, format: format)
        if let eventsNode = fields["events"] {
            channel.events = try sequence(eventsNode, what: "\(what) events").map { try string($0, what: "\(what) event kind") }
            guard !channel.events.isEmpty else { throw error(at: eventsNode, "\(what): events is empty; leave it out for the on-call kinds") }
        }
        if let endpointsNode = fields["endpoints"] {
            channel.endpoints = try sequence(endpointsNode, what: "\(what) endpoints").map { try string($0, what: "\(what) endpoint") }
        }
        if let productionNode = fields["production"] {
            channel.productionOnly = try boolean(productionNode, what: "\(what) production")
        }
        if let headersNode = fields["headers"] {
            guard case .mapping(let pairs) = headersNode else {
                throw error(at: headersNode, "\(what): headers must map names to values, e.g. headers: {Authorization: \"Bearer ${TOKEN}\"}")
            }
            for (key, value) in pairs {
                channel.headers[try string(key, what: "\(what) header name")] = try string(value, what: "\(what) header")
            }
        }
        if case .command = destination, let headersNode = fields["headers"] {
            throw error(at: headersNode, "\(what): headers apply to a webhook url, not to a command")
        }
        if let problem = channel.problem(environment: environment) { throw error(at: node, problem) }
        return channel
    }

    private func keepWarm(_ node: Node, what: String) throws -> (KeepWarmPolicy, [ScheduledConcurrency]) {
        if case .scalar = node {
            switch try string(node, what: "keep_warm") {
            case "off", "false": return (.off, [])
            case "adaptive": return (.adaptive, [])
            case let other:
                throw error(at: node, "\(what): keep_warm '\(other)' is not off, adaptive or a mapping {mode: fixed, every: 5m, concurrency: 1}")
            }
        }
        let fields = try mapping(node, what: "\(what) keep_warm", allowed: ["mode", "every", "concurrency", "schedule"])
        let mode = try fields["mode"].map { try string($0, what: "mode") } ?? (fields["every"] != nil ? "fixed" : "off")
        if mode != "fixed", let schedule = fields["schedule"] {
            throw error(at: schedule, "\(what): keep_warm schedule needs mode fixed (a concurrency per schedule for fixed pings)")
        }
        switch mode {
        case "off": return (.off, [])
        case "adaptive": return (.adaptive, [])
        case "fixed":
            guard let every = fields["every"] else { throw error(at: node, "\(what): keep_warm fixed needs every, e.g. every: 5m") }
            let seconds = try at(every) { try Quantity.seconds(try string(every, what: "every"), what: "\(what) keep_warm every") }
            guard seconds >= 1 else { throw error(at: every, "\(what): keep_warm every must be at least 1s") }
            let concurrency = try fields["concurrency"].map { try integer($0, what: "\(what) keep_warm concurrency", range: 1...1_000) } ?? 1
            var schedule: [ScheduledConcurrency] = []
            let entries = try sequence(fields["schedule"], what: "\(what) keep_warm schedule")
            guard entries.count <= 24 else { throw error(at: fields["schedule"]!, "\(what): keep_warm schedule has \(entries.count) entries; at most 24") }
            for entry in entries {
                let parts = try mapping(entry, what: "\(what) keep_warm schedule entry", allowed: ["cron", "concurrency"])
                guard let cronNode = parts["cron"], let countNode = parts["concurrency"] else {
                    throw error(at: entry, "\(what): each keep_warm schedule entry needs cron and concurrency, e.g. {cron: \"0 8 * * MON-FRI\", concurrency: 10}")
                }
                let cron = try at(cronNode) { try Cron(parsing: try string(cronNode, what: "cron")) }
                schedule.append(ScheduledConcurrency(cron: cron, concurrency: try integer(countNode, what: "\(what) keep_warm schedule concurrency", range: 0...1_000)))
            }
            return (.fixed(everySeconds: seconds, concurrency: concurrency), schedule)
        default:
            throw error(at: fields["mode"]!, "\(what): keep_warm mode '\(mode)' is not off, fixed or adaptive")
        }
    }

    // MARK: - Node helpers

    private func location(_ node: Node) -> String {
        guard let mark = node.mark else { return sourceName }
        return "\(sourceName):\(mark.line):\(mark.column)"
    }

    private func error(at node: Node, _ message: String) -> ModelDeckError {
        ModelDeckError("\(location(node)): \(message)")
    }

    /// Runs `body`, prefixing any error it throws with the node's position.
    /// `gate: {tolerance: 20%, slack: 100ms, confidence: 95%, min_requests: 50, on_low_traffic: wait|fail|promote, deadline: 10m}`.
    private func gate(_ node: Node, what: String) throws -> RollbackGate {
        let fields = try mapping(node, what: "\(what) gate", allowed: ["tolerance", "slack", "confidence", "min_requests", "on_low_traffic", "deadline"])
        var gate = RollbackGate()
        if let n = fields["tolerance"] {
            let ppm = try at(n) { try Quantity.ppm(try string(n, what: "tolerance"), what: "\(what) gate tolerance") }
            gate.tolerance = Double(ppm) / 1_000_000
        }
        if let n = fields["slack"] {
            gate.slackMilliseconds = try at(n) { try Quantity.milliseconds(try string(n, what: "slack"), what: "\(what) gate slack") }
        }
        if let n = fields["confidence"] {
            let ppm = try at(n) { try Quantity.ppm(try string(n, what: "confidence"), what: "\(what) gate confidence") }
            guard (500_000...999_999).contains(ppm) else { throw error(at: n, "\(what): gate confidence must be from 50% to 99.9999%") }
            gate.confidence = Double(ppm) / 1_000_000
        }
        if let n = fields["min_requests"] {
            gate.minimumRequests = Int64(try integer(n, what: "\(what) gate min_requests", range: 1...1_000_000))
        }
        if let n = fields["on_low_traffic"] {
            let text = try string(n, what: "on_low_traffic")
            guard let action = LowTrafficAction(rawValue: text) else {
                throw error(at: n, "\(what): gate on_low_traffic '\(text)' is not wait, fail or promote")
            }
            gate.onLowTraffic = action
        }
        if let n = fields["deadline"] {
            gate.lowTrafficDeadlineSeconds = try at(n) { try Quantity.seconds(try string(n, what: "deadline"), what: "\(what) gate deadline") }
        }
        return gate
    }

    private func at<T>(_ node: Node, _ body: () throws -> T) throws -> T {
        do { return try body() } catch let error as ModelDeckError { throw self.error(at: node, error.message) }
    }

    private func mapping(_ node: Node, what: String, allowed: [String]?) throws -> [String: Node] {
        guard case .mapping(let pairs) = node else { throw error(at: node, "\(what) must be a mapping of fields") }
        var fields: [String: Node] = [:]
        for (key, value) in pairs {
            let name = try string(key, what: "field name")
            guard fields[name] == nil else { throw error(at: key, "field '\(name)' appears twice in \(what)") }
            fields[name] = value
        }
        if let allowed { try checkFields(node, allowed: allowed, what: what) }
        return fields
    }

    /// Refuses the first field (in document order) that is not in `allowed`, pointing at its key.
    private func checkFields(_ node: Node, allowed: [String], what: String) throws {
        guard case .mapping(let pairs) = node else { return }
        for (key, _) in pairs {
            let name = try string(key, what: "field name")
            if !allowed.contains(name) {
                throw error(at: key, "unknown field '\(name)' in \(what); known fields: \(allowed.joined(separator: ", "))")
            }
        }
    }

    private func sequence(_ node: Node?, what: String) throws -> [Node] {
        guard let node else { return [] }
        if case .scalar(let scalar) = node, scalar.tag == Tag(.null) || scalar.string.isEmpty || scalar.string == "~" || scalar.string == "null" { return [] }
        guard case .sequence(let items) = node else { throw error(at: node, "\(what) must be a list (items start with '- ')") }
        return Array(items)
    }

    /// A mapping of single values as one `key: value` a line, in the deck's order.
    private func lines(_ node: Node, what: String) throws -> String {
        guard case .mapping(let pairs) = node else { throw error(at: node, "\(what) must be a mapping, e.g. {Name: value}") }
        return try pairs.map { key, value in
            let text = try string(value, what: what)
            guard !text.contains(where: \.isNewline) else { throw error(at: value, "\(what): a value must be one line") }
            return "\(try string(key, what: what)): \(text)"
        }.joined(separator: "\n")
    }

    private func string(_ node: Node, what: String) throws -> String {
        guard case .scalar(let scalar) = node else { throw error(at: node, "\(what) must be a single value, not a list or mapping") }
        return scalar.string
    }

    private func integer(_ node: Node, what: String, range: ClosedRange<Int>) throws -> Int {
        let text = try string(node, what: what)
        guard let value = Int(text) else { throw error(at: node, "\(what) '\(text)' is not a whole number") }
        guard range.contains(value) else {
            throw error(at: node, "\(what) \(value) is outside \(range.lowerBound)–\(Format.grouped(Int64(range.upperBound)))")
        }
        return value
    }

    private func boolean(_ node: Node, what: String) throws -> Bool {
        switch try string(node, what: what).lowercased() {
        case "true", "yes", "on": return true
        case "false", "no", "off": return false
        case let other: throw error(at: node, "\(what) '\(other)' is not true or false")
        }
    }

    private func requiredName(_ fields: [String: Node], in node: Node, what: String) throws -> String {
        guard let nameNode = fields["name"] else { throw error(at: node, "a \(what) has no name") }
        let name = try string(nameNode, what: "name")
        try checkIdentifier(name, at: nameNode, what: "\(what) name")
        return name
    }

    /// Names end up in URLs, process environments and terminal cells: keep them to a safe alphabet.
    private func checkIdentifier(_ name: String, at node: Node, what: String) throws {
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")
        guard !name.isEmpty, name.count <= 63, name.allSatisfy(allowed.contains), name.first != "-", name.first != "." else {
            throw error(at: node, "\(what) '\(name)' must be 1–63 letters, digits, '-', '_' or '.', not starting with '-' or '.'")
        }
    }

    private func describe(_ error: YamlError) -> String {
        switch error {
        case .scanner(let context, let problem, let mark, _), .parser(let context, let problem, let mark, _),
             .composer(let context, let problem, let mark, _):
            let while_ = context.map { " (\($0.text) at line \($0.mark.line))" } ?? ""
            return "\(sourceName):\(mark.line):\(mark.column): malformed YAML: \(problem)\(while_)"
        case .reader(let problem, let offset, _, _):
            return "\(sourceName): malformed YAML: \(problem)\(offset.map { " at byte \($0)" } ?? "")"
        case .duplicatedKeysInMapping(let duplicates, let context):
            return "\(sourceName):\(context.mark.line):\(context.mark.column): key '\(duplicates.joined(separator: "', '"))' appears twice"
        default:
            return "\(sourceName): malformed YAML: \(error)"
        }
    }

    /// `sha256:<hex>` and size of a file, read in 1 MB chunks so large artifacts do not fill memory.
    public static func sha256(ofFileAt path: String, what: String) throws -> (digest: String, size: Int64) {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw ModelDeckError("\(what): artifact \(path) does not exist")
        }
        guard !isDirectory.boolValue else { throw ModelDeckError("\(what): artifact \(path) is a folder; point at a file (zip or weights)") }
        guard let handle = FileHandle(forReadingAtPath: path) else { throw ModelDeckError("\(what): cannot read artifact \(path)") }
        defer { try? handle.close() }
        var hasher = SHA256()
        var size: Int64 = 0
        while let chunk = try handle.read(upToCount: 1 << 20), !chunk.isEmpty {
            hasher.update(data: chunk)
            size += Int64(chunk.count)
        }
        let hex = hasher.finalize().map { String(format: "%02x", $0) }.joined()
        return ("sha256:" + hex, size)
    }
}
