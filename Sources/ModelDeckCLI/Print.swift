import Foundation
import ModelDeckCore

/// Writes one line to stderr (the CLI's error and notice channel), sanitized: errors quote decks, traces,
/// the registry and remote answers.
public func printError(_ message: String) {
    FileHandle.standardError.write(Data((TerminalText.sanitizeLines(message) + "\n").utf8))
}

/// Shadows `Swift.print` for the whole CLI (this module and those importing it), so every line a command prints is sanitized (names, regions,
/// notes and reasons come from decks and the registry) without each call site having to remember it.
/// JSON and YAML output call `Swift.print` on purpose, after escaping (see `Output`).
public func print(_ items: Any..., separator: String = " ", terminator: String = "\n") {
    Swift.print(TerminalText.sanitizeLines(items.map { "\($0)" }.joined(separator: separator)), terminator: terminator)
}
