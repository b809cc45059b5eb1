import Foundation
import ModelDeckCore

/// The `:` command line's words and their completion.
extension Dashboard {
    /// Words `:` understands besides the resources.
    static let commandWords = Resource.allCases.map(\.rawValue) + ["help", "quit"]

    /// The one command that starts with `text`, or the longest prefix they share.
    public static func complete(_ text: String) -> String? {
        let word = text.lowercased()
        let candidates = commandWords.filter { $0.hasPrefix(word) }
        guard let first = candidates.first else { return nil }
        if candidates.count == 1 { return first }
        var prefix = first
        for candidate in candidates.dropFirst() { while !candidate.hasPrefix(prefix) { prefix.removeLast() } }
        return prefix
    }

    /// Candidates shown while typing a command.
    public static func completions(_ text: String) -> [String] {
        commandWords.filter { $0.hasPrefix(text.lowercased()) }
    }
}
