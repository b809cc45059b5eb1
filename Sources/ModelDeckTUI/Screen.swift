import Foundation
import ModelDeckCore

/// What a cell means, not its colour: a theme maps roles to colours, and monochrome terminals to
/// attributes (bold, reverse, dim), so views never name a colour.
public enum Role: String, CaseIterable, Sendable {
    case normal, header, title, selected, ok, warning, error, dim, accent, production
}

public struct Cell: Equatable, Sendable {
    /// One grapheme; "" marks the second column of a double-width character.
    public var text: String
    public var role: Role

    public static let blank = Cell(text: " ", role: .normal)
}

/// The dashboard draws into this grid; the terminal copies it to ncurses, and tests read it back as text
/// without a terminal. Every string put on it is stripped of terminal escape sequences first, so names,
/// reasons and error messages from outside cannot drive the terminal.
public struct Screen: Sendable, CustomStringConvertible {
    public let width: Int
    public let height: Int
    public private(set) var cells: [[Cell]]

    public init(width: Int, height: Int) {
        self.width = max(0, width)
        self.height = max(0, height)
        cells = Array(repeating: Array(repeating: .blank, count: self.width), count: self.height)
    }

    /// Writes `text` at (`row`, `column`), clipped to `maxWidth` columns and the screen's edge; a clipped
    /// string ends in "…" so a cut is never silent. Returns the number of columns used.
    @discardableResult
    public mutating func put(_ text: String, row: Int, column: Int, role: Role = .normal, maxWidth: Int? = nil) -> Int {
        guard row >= 0, row < height, column < width else { return 0 }
        let limit = min(maxWidth ?? width, width - max(column, 0))
        guard limit > 0 else { return 0 }
        let clean = TerminalText.sanitize(text)
        let fitted = Screen.fit(clean, columns: limit)
        var x = column
        for character in fitted {
            let cellWidth = Screen.columns(of: character)
            guard x + cellWidth <= column + limit else { break }
            if x >= 0 {
                cells[row][x] = Cell(text: String(character), role: role)
                if cellWidth == 2, x + 1 < width { cells[row][x + 1] = Cell(text: "", role: role) }
            }
            x += cellWidth
        }
        return x - column
    }

    /// Paints `role` across a whole row (selection bars, headers).
    public mutating func fill(row: Int, role: Role) {
        guard row >= 0, row < height else { return }
        for x in 0..<width { cells[row][x].role = role }
    }

    /// The text of a row, trailing spaces trimmed.
    public func line(_ row: Int) -> String {
        guard row >= 0, row < height else { return "" }
        var text = cells[row].map(\.text).joined()
        while text.hasSuffix(" ") { text.removeLast() }
        return text
    }

    /// The whole screen as text, one line per row.
    public var text: String { (0..<height).map(line).joined(separator: "\n") }

    /// The text, so a failing test prints what a person would see rather than every cell.
    public var description: String { text }

    /// The role of the cell at (`row`, `column`).
    public func role(row: Int, column: Int) -> Role { cells[row][column].role }

    // MARK: - Width

    /// Columns a character takes in a terminal: 2 for wide East Asian characters and emoji, 0 for
    /// combining marks, else 1. Decided here rather than by wcwidth(3), whose answer depends on the
    /// process locale (tests and `LANG=C` shells would get -1 for every non-ASCII character).
    public static func columns(of character: Character) -> Int {
        guard let scalar = character.unicodeScalars.first else { return 0 }
        switch scalar.properties.generalCategory {
        case .nonspacingMark, .enclosingMark, .format: return 0
        default: break
        }
        return wideRanges.contains { $0.contains(scalar.value) } ? 2 : 1
    }

    /// East Asian Wide and Fullwidth blocks, and the emoji blocks terminals draw two columns wide.
    private static let wideRanges: [ClosedRange<UInt32>] = [
        0x1100...0x115F, 0x2E80...0x303E, 0x3041...0x33FF, 0x3400...0x4DBF, 0x4E00...0x9FFF, 0xA000...0xA4CF,
        0xAC00...0xD7A3, 0xF900...0xFAFF, 0xFE30...0xFE4F, 0xFF00...0xFF60, 0xFFE0...0xFFE6,
        0x1F300...0x1F64F, 0x1F900...0x1F9FF, 0x20000...0x2FFFD, 0x30000...0x3FFFD,
    ]

    public static func columns(of text: String) -> Int { text.reduce(0) { $0 + columns(of: $1) } }

    /// `text` cut to `columns`, with "…" as its last column when it had to be cut.
    public static func fit(_ text: String, columns limit: Int) -> String {
        guard columns(of: text) > limit else { return text }
        guard limit > 1 else { return limit == 1 ? "…" : "" }
        var out = ""
        var used = 0
        for character in text {
            let width = columns(of: character)
            if used + width > limit - 1 { break }
            out.append(character)
            used += width
        }
        return out + "…"
    }
}
