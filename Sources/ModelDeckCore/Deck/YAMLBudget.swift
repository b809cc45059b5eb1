import CYaml
import Foundation

/// Bounds the work a YAML document can cause before Yams builds it: its size in bytes, and the number of
/// nodes it stands for once every alias is expanded.
///
/// An alias repeats a whole anchored node, so nine lines of aliases can stand for a billion nodes (the
/// "billion laughs" attack; CVE-2019-11253 is the Kubernetes instance). Yams composes an alias by sharing
/// the node, which is cheap — until the node is a mapping key: Yams hashes every key to find duplicates,
/// and hashing walks the expanded tree, so `apply` would never finish. This pass reads libyaml's events
/// (the same parser Yams uses, through the CYaml module Yams ships), adds up each node's expanded size,
/// and stops at the limit. Hand-written because neither Yams nor libyaml has such a limit; go-yaml's
/// fix (v2.2.8, `allowedAliasRatio`) is the same idea.
public enum YAMLBudget {
    /// Larger than any deck, theme or price table we know of (a deck of 10,000 endpoints is about 1 MB).
    public static let maxBytes = 16 << 20
    /// Nodes after alias expansion: ten times a 10,000-endpoint deck.
    public static let maxExpandedNodes = 2_000_000

    /// Throws when `text` is larger than `maxBytes` or expands to more than `maxExpandedNodes` nodes.
    /// Syntax errors are left to Yams, which reports them with their line and column.
    public static func check(_ text: String, name: String, maxBytes: Int = maxBytes, maxExpandedNodes: Int = maxExpandedNodes) throws {
        let bytes = text.utf8.count
        guard bytes <= maxBytes else {
            throw ModelDeckError("\(name) is \(Format.bytes(Int64(bytes))), over the limit of \(Format.bytes(Int64(maxBytes))) for a YAML file")
        }
        var utf8 = Array(text.utf8)
        utf8.append(0)
        var parser = yaml_parser_t()
        guard yaml_parser_initialize(&parser) == 1 else { return }
        defer { yaml_parser_delete(&parser) }
        try utf8.withUnsafeBufferPointer { buffer in
            yaml_parser_set_input_string(&parser, buffer.baseAddress, bytes)
            // Expanded size of each anchored node, and of each container still open.
            var anchored: [String: Int] = [:]
            var open: [(anchor: String?, size: Int)] = []
            var total = 0
            func add(_ size: Int) throws {
                total += size
                if !open.isEmpty { open[open.count - 1].size += size }
                guard total <= maxExpandedNodes else {
                    throw ModelDeckError("\(name): its aliases expand to more than \(Format.grouped(Int64(maxExpandedNodes))) nodes, "
                                         + "the limit; write the values out or use fewer aliases")
                }
            }
            func anchor(_ pointer: UnsafeMutablePointer<yaml_char_t>?) -> String? {
                pointer.map { String(cString: UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self)) }
            }
            while true {
                var event = yaml_event_t()
                guard yaml_parser_parse(&parser, &event) == 1 else { return }
                defer { yaml_event_delete(&event) }
                switch event.type {
                case YAML_STREAM_END_EVENT:
                    return
                case YAML_SCALAR_EVENT:
                    if let name = anchor(event.data.scalar.anchor) { anchored[name] = 1 }
                    try add(1)
                case YAML_ALIAS_EVENT:
                    // An undefined alias is Yams' error to report; count it as one node.
                    try add(anchor(event.data.alias.anchor).flatMap { anchored[$0] } ?? 1)
                case YAML_SEQUENCE_START_EVENT:
                    try add(1)
                    open.append((anchor(event.data.sequence_start.anchor), 0))
                case YAML_MAPPING_START_EVENT:
                    try add(1)
                    open.append((anchor(event.data.mapping_start.anchor), 0))
                case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT:
                    guard let closed = open.popLast() else { continue }
                    // The container's own node went to its parent when it opened; its frame holds its children.
                    if let name = closed.anchor { anchored[name] = closed.size + 1 }
                    if !open.isEmpty { open[open.count - 1].size += closed.size }
                default:
                    continue
                }
            }
        }
    }
}
