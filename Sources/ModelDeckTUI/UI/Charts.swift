/// Small charts made of block characters, which every UTF-8 terminal font has (braille is patchier).
public enum Charts {
    static let levels: [Character] = ["▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"]

    /// One character per value, scaled to the largest; a gap (nil) is a blank.
    public static func sparkline(_ values: [Double?], width: Int) -> String {
        let shown = Array(values.suffix(width))
        let top = shown.compactMap { $0 }.max() ?? 0
        return String(shown.map { value -> Character in
            guard let value else { return " " }
            guard top > 0 else { return levels[0] }
            return levels[min(levels.count - 1, Int(value / top * Double(levels.count - 1) + 0.5))]
        })
    }

    /// A bar chart `height` rows tall, one column per value (the newest at the right), scaled to `top`
    /// (the largest value when nil); rows are returned top first. Eighth blocks give each row 8 steps.
    public static func bars(_ values: [Double?], width: Int, height: Int, top: Double? = nil) -> [String] {
        guard height > 0, width > 0 else { return [] }
        let shown = Array(values.suffix(width))
        let scale = top ?? (shown.compactMap { $0 }.max() ?? 0)
        var lines = Array(repeating: "", count: height)
        for value in shown {
            let eighths = scale > 0 ? Int(((value ?? 0) / scale * Double(height * 8)).rounded()) : 0
            for row in 0..<height {
                let fromBottom = height - 1 - row
                let filled = eighths - fromBottom * 8
                lines[row].append(filled >= 8 ? "█" : filled <= 0 ? " " : levels[filled - 1])
            }
        }
        return lines
    }

    /// A horizontal bar of `value / top` of `width` columns, at least one block when the value is not zero.
    public static func bar(_ value: Double, top: Double, width: Int) -> String {
        guard top > 0, value > 0, width > 0 else { return "" }
        return String(repeating: "█", count: max(1, Int(value / top * Double(width))))
    }
}
