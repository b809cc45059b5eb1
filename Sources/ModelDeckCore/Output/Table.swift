/// A plain text table as `kubectl get` prints it: upper-case headers, columns aligned, three spaces apart.
/// Every cell is sanitized: the table shows text that came from outside.
public struct Table: Sendable {
    public var headers: [String]
    public var rows: [[String]]

    public init(headers: [String], rows: [[String]]) {
        self.headers = headers
        self.rows = rows
    }

    public func render() -> String {
        let cells = [headers.map { $0.uppercased() }] + rows.map { $0.map(TerminalText.sanitize) }
        var widths = Array(repeating: 0, count: headers.count)
        for row in cells {
            for (index, cell) in row.enumerated() where index < widths.count {
                widths[index] = max(widths[index], cell.count)
            }
        }
        return cells.map { row in
            row.enumerated().map { index, cell in
                index == row.count - 1 ? cell : cell + String(repeating: " ", count: widths[index] - cell.count)
            }.joined(separator: "   ")
        }.joined(separator: "\n") + "\n"
    }
}
