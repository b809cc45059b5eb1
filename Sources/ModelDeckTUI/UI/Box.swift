/// A bordered box drawn over whatever is below it: dialogs and the help page.
public enum Box {
    /// One line inside a box: text and its role.
    public typealias Line = (text: String, role: Role)

    /// Draws `lines` in a box `width` columns wide, centred; returns the top row and left column of its inside.
    @discardableResult
    public static func draw(title: String, lines: [Line], width: Int, into screen: inout Screen) -> (row: Int, column: Int) {
        let width = max(10, min(width, screen.width - 2))
        let height = min(lines.count + 2, screen.height - 2)
        let top = max(0, (screen.height - height) / 2)
        let left = max(0, (screen.width - width) / 2)
        let inner = width - 4
        for row in top..<(top + height) {
            let edge = row == top || row == top + height - 1
            let (leftEdge, fill, rightEdge) = row == top ? ("┌", "─", "┐") : row == top + height - 1 ? ("└", "─", "┘") : ("│", " ", "│")
            screen.put(leftEdge + String(repeating: fill, count: width - 2) + rightEdge, row: row, column: left, role: edge ? .title : .normal)
            if !edge {
                screen.put("│", row: row, column: left, role: .title)
                screen.put("│", row: row, column: left + width - 1, role: .title)
            }
        }
        screen.put(" \(title) ", row: top, column: left + 2, role: .title, maxWidth: width - 4)
        for (index, line) in lines.prefix(height - 2).enumerated() {
            screen.put(line.text, row: top + 1 + index, column: left + 2, role: line.role, maxWidth: inner)
        }
        return (top + 1, left + 2)
    }

    /// Splits `text` into lines of at most `width` columns at spaces (a word longer than a line is cut).
    public static func wrap(_ text: String, width: Int) -> [String] {
        guard width > 0 else { return [] }
        var lines: [String] = []
        var current = ""
        for word in text.split(separator: " ", omittingEmptySubsequences: false) {
            let candidate = current.isEmpty ? String(word) : current + " " + word
            if Screen.columns(of: candidate) <= width {
                current = candidate
            } else {
                if !current.isEmpty { lines.append(current) }
                current = Screen.fit(String(word), columns: width)
            }
        }
        if !current.isEmpty || lines.isEmpty { lines.append(current) }
        return lines
    }
}
