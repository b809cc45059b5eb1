import ModelDeckCore

/// One column of a resource table.
public struct Column: Sendable {
    public var title: String
    /// Columns it needs; a flexible column gets what is left over as well.
    public var width: Int
    public var flexible: Bool
    public var alignRight: Bool
    /// When the terminal is too narrow, columns with the lowest priority go first; the first column never goes.
    public var priority: Int
    /// The upper-case key that sorts by this column (k9s style), nil when it cannot be sorted.
    public var sortKey: Character?

    public init(_ title: String, width: Int, flexible: Bool = false, alignRight: Bool = false, priority: Int = 50,
                sortKey: Character? = nil) {
        self.title = title
        self.width = width
        self.flexible = flexible
        self.alignRight = alignRight
        self.priority = priority
        self.sortKey = sortKey
    }
}

/// A value rows are sorted by: numbers as numbers, missing values last whichever the direction.
public enum SortValue: Comparable, Sendable {
    case number(Double)
    case text(String)
    case missing
}

public struct TableCell: Sendable {
    public var text: String
    /// Overrides the row's role for this cell (a p99 over the SLO in red).
    public var role: Role?

    public init(_ text: String, role: Role? = nil) {
        self.text = text
        self.role = role
    }
}

public struct TableRow: Sendable {
    /// What identifies the row across refreshes (an endpoint's name), so the selection follows it.
    public var id: String
    public var cells: [TableCell] { didSet { searchText = Self.searchText(cells) } }
    public var sortValues: [SortValue]
    public var role: Role
    /// The text a filter matches against, made once per row rather than at every key typed in the filter
    /// (joining and lower-casing 10,000 rows' cells took longer than a frame).
    private(set) var searchText: String

    public init(id: String, cells: [TableCell], sortValues: [SortValue], role: Role = .normal) {
        self.id = id
        self.cells = cells
        self.sortValues = sortValues
        self.role = role
        searchText = Self.searchText(cells)
    }

    private static func searchText(_ cells: [TableCell]) -> String { cells.map(\.text).joined(separator: " ").lowercased() }
}

/// Lays a table out on a `Screen`: chooses the columns that fit, pads and aligns cells, marks the
/// sorted column and the selected row. Pure: the same inputs draw the same cells.
public enum TableLayout {
    public static let gap = 1

    /// Indices of the columns that fit in `width`, and the width each gets.
    public static func fit(_ columns: [Column], width: Int) -> [(index: Int, width: Int)] {
        var visible = Array(columns.indices)
        func needed() -> Int { visible.reduce(0) { $0 + columns[$1].width } + gap * max(0, visible.count - 1) }
        while needed() > width, visible.count > 1 {
            let drop = visible.dropFirst().min { columns[$0].priority < columns[$1].priority }!
            visible.removeAll { $0 == drop }
        }
        var widths = visible.map { columns[$0].width }
        let spare = width - needed()
        let flexible = visible.indices.filter { columns[visible[$0]].flexible }
        if spare > 0, !flexible.isEmpty {
            for (n, position) in flexible.enumerated() {
                widths[position] += spare / flexible.count + (n < spare % flexible.count ? 1 : 0)
            }
        } else if spare < 0 {
            // Even the first column alone is too wide: it gets what there is.
            widths[0] = max(1, widths[0] + spare)
        }
        return zip(visible, widths).map { ($0, $1) }
    }

    /// Draws the header at `top` and as many rows as fit below it, starting at `offset`.
    public static func draw(columns: [Column], rows: [TableRow], into screen: inout Screen, top: Int, height: Int,
                            offset: Int, selected: Int?, sortColumn: Int?, ascending: Bool) {
        guard height > 0 else { return }
        let layout = fit(columns, width: screen.width)
        var x = 0
        for (index, width) in layout {
            var title = columns[index].title
            if index == sortColumn { title += ascending ? "↑" : "↓" }
            put(title, at: &x, width: width, right: columns[index].alignRight, row: top, role: .title, screen: &screen)
        }
        for line in 0..<(height - 1) {
            let position = offset + line
            guard position < rows.count else { break }
            let row = rows[position]
            let y = top + 1 + line
            let isSelected = position == selected
            if isSelected { screen.fill(row: y, role: .selected) }
            x = 0
            for (index, width) in layout {
                let cell = index < row.cells.count ? row.cells[index] : TableCell("")
                let role = isSelected ? Role.selected : (cell.role ?? row.role)
                put(cell.text, at: &x, width: width, right: columns[index].alignRight, row: y, role: role, screen: &screen)
            }
        }
    }

    private static func put(_ text: String, at x: inout Int, width: Int, right: Bool, row: Int, role: Role, screen: inout Screen) {
        let fitted = Screen.fit(TerminalText.sanitize(text), columns: width)
        let pad = right ? width - Screen.columns(of: fitted) : 0
        screen.put(fitted, row: row, column: x + pad, role: role, maxWidth: width - pad)
        x += width + gap
    }

    /// Rows that contain `filter` (case-insensitive; empty matches all), sorted by `column`, stable.
    /// The column's values are taken out of the rows once, then positions are sorted by them: comparing
    /// rows directly copied each row's values twice per comparison, the larger part of a sort key's time.
    public static func arrange(_ rows: [TableRow], filter: String, sortColumn: Int?, ascending: Bool) -> [TableRow] {
        let needle = filter.lowercased()
        let result = needle.isEmpty ? rows : rows.filter { $0.searchText.contains(needle) }
        guard let column = sortColumn else { return result }
        let keys = result.map { value($0, column) }
        let order = keys.indices.sorted { a, b in
            let (left, right) = (keys[a], keys[b])
            if left == right { return a < b }
            if left == .missing { return false }
            if right == .missing { return true }
            return ascending ? left < right : right < left
        }
        return order.map { result[$0] }
    }

    private static func value(_ row: TableRow, _ column: Int) -> SortValue {
        column < row.sortValues.count ? row.sortValues[column] : .missing
    }
}
