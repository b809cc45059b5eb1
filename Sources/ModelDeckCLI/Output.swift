import ArgumentParser
import Foundation
import ModelDeckCore
import Yams

/// `-o table|json|yaml`, as kubectl and k9s users expect.
public enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case table, json, yaml
}

public enum Output {
    public static let json: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()

    /// Prints `rows` in `format`; `table` lays them out for people.
    public static func print<Row: Encodable>(_ rows: [Row], as format: OutputFormat, table: ([Row]) -> Table) throws {
        switch format {
        case .table:
            Swift.print(table(rows).render(), terminator: "")
        case .json:
            Swift.print(escapingFormatCharacters(String(decoding: try json.encode(rows), as: UTF8.self)))
        case .yaml:
            // JSON is YAML: go through it for the same keys, then emit block style.
            let text = String(decoding: try json.encode(rows), as: UTF8.self)
            guard let node = try Yams.compose(yaml: text) else { return }
            Swift.print(try yaml(node, from: text), terminator: "")
        }
    }

    /// JSON for scripts stays exact, yet safe on a terminal: JSONEncoder escapes C0 controls but writes C1
    /// controls and bidi overrides raw, so those become `\uXXXX` escapes. They can only occur inside strings
    /// (JSON's own syntax is ASCII), where the escape means the same character.
    public static func escapingFormatCharacters(_ json: String) -> String {
        guard TerminalText.needsSanitizing(json.replacingOccurrences(of: "\n", with: "")) else { return json }
        var out = String.UnicodeScalarView()
        for scalar in json.unicodeScalars {
            if scalar != "\n", TerminalText.needsSanitizing(String(scalar)) {
                out.append(contentsOf: String(format: "\\u%04X", scalar.value).unicodeScalars)
            } else {
                out.append(scalar)
            }
        }
        return String(out)
    }

    /// YAML keeps Unicode as it is, unless a value holds a character `TerminalText` would strip: then libyaml
    /// is asked for ASCII, which writes every non-ASCII character as a `\u` escape in a double-quoted scalar
    /// (exact, and inert on a terminal). libyaml counts bidi overrides as printable, so it would not escape them.
    private static func yaml(_ node: Node, from text: String) throws -> String {
        let unsafe = TerminalText.needsSanitizing(text.replacingOccurrences(of: "\n", with: ""))
        return try Yams.serialize(node: blockStyle(node), allowUnicode: !unsafe)
    }

    /// Prints one document (an object, not a list) as JSON or YAML.
    public static func printDocument<Value: Encodable>(_ value: Value, as format: OutputFormat) throws {
        let text = String(decoding: try json.encode(value), as: UTF8.self)
        if format == .yaml, let node = try Yams.compose(yaml: text) {
            Swift.print(try yaml(node, from: text), terminator: "")
        } else {
            Swift.print(escapingFormatCharacters(text))
        }
    }

    private static func blockStyle(_ node: Node) -> Node {
        switch node {
        case .mapping(let mapping):
            // Keys are our own snake_case names: plain. Values stay quoted as JSON had them, so "5" stays a string.
            return .mapping(Node.Mapping(mapping.map { key, value in
                let plainKey = key.scalar.map { Node.scalar(Node.Scalar($0.string, $0.tag, .plain)) } ?? key
                return (plainKey, blockStyle(value))
            }, mapping.tag, .block))
        case .sequence(let sequence):
            return .sequence(Node.Sequence(sequence.map(blockStyle), sequence.tag, .block))
        default:
            return node
        }
    }
}
