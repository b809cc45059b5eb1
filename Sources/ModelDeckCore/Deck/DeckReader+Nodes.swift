import Crypto
import Foundation
import Yams

// Reading YAML nodes strictly: each value with its unit and range, each error with its line and column.
extension DeckReader {
    func location(_ node: Node) -> String {
        guard let mark = node.mark else { return sourceName }
        return "\(sourceName):\(mark.line):\(mark.column)"
    }

    func error(at node: Node, _ message: String) -> ModelDeckError {
        ModelDeckError("\(location(node)): \(message)")
    }

    /// Runs `body`, prefixing any error it throws with the node's position.
    /// `gate: {tolerance: 20%, slack: 100ms, confidence: 95%, min_requests: 50, on_low_traffic: wait|fail|promote, deadline: 10m}`.
    func gate(_ node: Node, what: String) throws -> RollbackGate {
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

    func at<T>(_ node: Node, _ body: () throws -> T) throws -> T {
        do { return try body() } catch let error as ModelDeckError { throw self.error(at: node, error.message) }
    }

    func mapping(_ node: Node, what: String, allowed: [String]?) throws -> [String: Node] {
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
    func checkFields(_ node: Node, allowed: [String], what: String) throws {
        guard case .mapping(let pairs) = node else { return }
        for (key, _) in pairs {
            let name = try string(key, what: "field name")
            if !allowed.contains(name) {
                throw error(at: key, "unknown field '\(name)' in \(what); known fields: \(allowed.joined(separator: ", "))")
            }
        }
    }

    func sequence(_ node: Node?, what: String) throws -> [Node] {
        guard let node else { return [] }
        if case .scalar(let scalar) = node, scalar.tag == Tag(.null) || scalar.string.isEmpty || scalar.string == "~" || scalar.string == "null" { return [] }
        guard case .sequence(let items) = node else { throw error(at: node, "\(what) must be a list (items start with '- ')") }
        return Array(items)
    }

    /// A mapping of single values as one `key: value` a line, in the deck's order.
    func lines(_ node: Node, what: String) throws -> String {
        guard case .mapping(let pairs) = node else { throw error(at: node, "\(what) must be a mapping, e.g. {Name: value}") }
        return try pairs.map { key, value in
            let text = try string(value, what: what)
            guard !text.contains(where: \.isNewline) else { throw error(at: value, "\(what): a value must be one line") }
            return "\(try string(key, what: what)): \(text)"
        }.joined(separator: "\n")
    }

    func string(_ node: Node, what: String) throws -> String {
        guard case .scalar(let scalar) = node else { throw error(at: node, "\(what) must be a single value, not a list or mapping") }
        return scalar.string
    }

    func integer(_ node: Node, what: String, range: ClosedRange<Int>) throws -> Int {
        let text = try string(node, what: what)
        guard let value = Int(text) else { throw error(at: node, "\(what) '\(text)' is not a whole number") }
        guard range.contains(value) else {
            throw error(at: node, "\(what) \(value) is outside \(range.lowerBound)–\(Format.grouped(Int64(range.upperBound)))")
        }
        return value
    }

    func boolean(_ node: Node, what: String) throws -> Bool {
        switch try string(node, what: what).lowercased() {
        case "true", "yes", "on": return true
        case "false", "no", "off": return false
        case let other: throw error(at: node, "\(what) '\(other)' is not true or false")
        }
    }

    func requiredName(_ fields: [String: Node], in node: Node, what: String) throws -> String {
        guard let nameNode = fields["name"] else { throw error(at: node, "a \(what) has no name") }
        let name = try string(nameNode, what: "name")
        try checkIdentifier(name, at: nameNode, what: "\(what) name")
        return name
    }

    /// Names end up in URLs, process environments and terminal cells: keep them to a safe alphabet.
    func checkIdentifier(_ name: String, at node: Node, what: String) throws {
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")
        guard !name.isEmpty, name.count <= 63, name.allSatisfy(allowed.contains), name.first != "-", name.first != "." else {
            throw error(at: node, "\(what) '\(name)' must be 1–63 letters, digits, '-', '_' or '.', not starting with '-' or '.'")
        }
    }

    func describe(_ error: YamlError) -> String {
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
