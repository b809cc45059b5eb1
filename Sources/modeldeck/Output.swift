import ArgumentParser
import Foundation
import ModelDeckCore
import Yams

/// `-o table|json|yaml`, as kubectl and k9s users expect.
enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case table, json, yaml
}

enum Output {
    static let json: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()

    /// Prints `rows` in `format`; `table` lays them out for people.
    static func print<Row: Encodable>(_ rows: [Row], as format: OutputFormat, table: ([Row]) -> Table) throws {
        switch format {
        case .table:
            Swift.print(table(rows).render(), terminator: "")
        case .json:
            Swift.print(String(decoding: try json.encode(rows), as: UTF8.self))
        case .yaml:
            // JSON is YAML: go through it for the same keys, then emit block style.
            let text = String(decoding: try json.encode(rows), as: UTF8.self)
            guard let node = try Yams.compose(yaml: text) else { return }
            Swift.print(try Yams.serialize(node: blockStyle(node), allowUnicode: true), terminator: "")
        }
    }

    /// Prints one document (an object, not a list) as JSON or YAML.
    static func printDocument<Value: Encodable>(_ value: Value, as format: OutputFormat) throws {
        let text = String(decoding: try json.encode(value), as: UTF8.self)
        if format == .yaml, let node = try Yams.compose(yaml: text) {
            Swift.print(try Yams.serialize(node: blockStyle(node), allowUnicode: true), terminator: "")
        } else {
            Swift.print(text)
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

/// Writes one line to stderr (the CLI's error and notice channel).
func printError(_ message: String) {
    FileHandle.standardError.write(Data((message + "\n").utf8))
}
