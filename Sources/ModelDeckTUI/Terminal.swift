import CNcurses
import Foundation

/// The one place that talks to ncurses: start and end the terminal, copy a `Screen` to it, read keys.
/// Everything else draws into `Screen`, so it can be tested without a terminal.
public final class Terminal {
    public enum Key: Equatable, Sendable {
        case character(Character)
        case up, down, left, right, pageUp, pageDown, home, end, enter, escape, backspace, tab, resize
    }

    private var pairs: [Role: Int32] = [:]
    private var attributes: [Role: Int32] = [:]
    /// What the theme became on this terminal (for the header and tests of degradation).
    public private(set) var resolved: Theme.Resolved

    /// Takes over the terminal (alternate screen, raw keys so ctrl-c is ours to handle, keypad keys,
    /// hidden cursor) and sets up `theme` for as many colours as the terminal has.
    public init(theme: Theme, noColor: Bool) {
        _ = md_set_locale()
        initscr()
        raw()
        noecho()
        keypad(md_stdscr(), true)
        curs_set(0)
        set_escdelay(25)
        var colorCount = 0
        if !noColor && !theme.monochrome && has_colors() {
            start_color()
            use_default_colors()
            colorCount = Int(md_colors())
        }
        resolved = theme.resolve(colorCount: colorCount, noColor: noColor)
        if let colors = resolved.colors {
            for (index, role) in Role.allCases.enumerated() {
                guard let pair = colors[role] else { continue }
                init_pair(Int16(index + 1), pair.foreground, pair.background)
                pairs[role] = Int32(index + 1)
            }
        }
        for role in Role.allCases {
            let flags = (resolved.attributes[role] ?? []).reduce(UInt32(0)) { $0 | Self.flag($1) }
            attributes[role] = Int32(bitPattern: UInt32(pairs[role].map { md_color_pair($0) } ?? 0) | flags)
        }
    }

    private static func flag(_ attribute: Theme.Attribute) -> UInt32 {
        switch attribute {
        case .bold: UInt32(md_attr_bold())
        case .reverse: UInt32(md_attr_reverse())
        case .dim: UInt32(md_attr_dim())
        case .underline: UInt32(md_attr_underline())
        }
    }

    public var size: (width: Int, height: Int) { (Int(md_cols()), Int(md_lines())) }

    /// Copies `screen` to the terminal; runs of cells with one role go out as one string.
    public func draw(_ screen: Screen) {
        erase()
        for row in 0..<screen.height {
            var column = 0
            var runStart = 0
            var run = ""
            var role = screen.cells[row].first?.role ?? .normal
            func flush() {
                guard !run.isEmpty else { return }
                let attribute = attributes[role] ?? 0
                attron(attribute)
                mvaddstr(Int32(row), Int32(runStart), run)
                attroff(attribute)
                run = ""
            }
            for cell in screen.cells[row] {
                defer { column += 1 }
                if cell.role != role || run.isEmpty {
                    flush()
                    role = cell.role
                    runStart = column
                }
                run += cell.text
            }
            flush()
        }
        refresh()
    }

    /// Waits up to `milliseconds` for a key; nil on timeout.
    public func readKey(timeoutMilliseconds: Int32) -> Key? {
        timeout(timeoutMilliseconds)
        var character: wint_t = 0
        let result = get_wch(&character)
        if result == ERR { return nil }
        if result == KEY_CODE_YES {
            switch Int32(character) {
            case KEY_UP: return .up
            case KEY_DOWN: return .down
            case KEY_LEFT: return .left
            case KEY_RIGHT: return .right
            case KEY_PPAGE: return .pageUp
            case KEY_NPAGE: return .pageDown
            case KEY_HOME: return .home
            case KEY_END: return .end
            case KEY_ENTER: return .enter
            case KEY_BACKSPACE: return .backspace
            case md_key_resize(): return .resize
            default: return nil
            }
        }
        switch character {
        case 10, 13: return .enter
        case 27: return .escape
        case 9: return .tab
        case 127, 8: return .backspace
        default:
            guard let scalar = Unicode.Scalar(UInt32(character)) else { return nil }
            return .character(Character(scalar))
        }
    }

    /// Gives the terminal back.
    public func close() { endwin() }
}
