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
    private var attributes: [Role: UInt32] = [:]

    /// Takes over the terminal (alternate screen, no echo, keypad keys, hidden cursor).
    public init(colors: [Role: (foreground: Int16, background: Int16)]?) {
        _ = md_set_locale()
        initscr()
        cbreak()
        noecho()
        keypad(md_stdscr(), true)
        curs_set(0)
        set_escdelay(25)
        if let colors, has_colors() {
            start_color()
            use_default_colors()
            for (index, role) in Role.allCases.enumerated() {
                guard let pair = colors[role] else { continue }
                let number = Int16(index + 1)
                init_pair(number, pair.foreground, pair.background)
                pairs[role] = Int32(number)
            }
        }
    }

    public var size: (width: Int, height: Int) { (Int(md_cols()), Int(md_lines())) }

    /// Number of colours the terminal has (8, 256, …); 0 before colours are started.
    public var colorCount: Int { Int(md_colors()) }

    /// Attributes added to a role on top of its colour (bold headers, reverse selection on monochrome).
    public func setAttributes(_ map: [Role: UInt32]) { attributes = map }

    public func draw(_ screen: Screen) {
        erase()
        for row in 0..<screen.height {
            var column = 0
            for cell in screen.cells[row] {
                defer { column += 1 }
                guard !cell.text.isEmpty else { continue }
                let attribute = UInt32(pairs[cell.role].map { md_color_pair($0) } ?? 0) | (attributes[cell.role] ?? 0)
                attron(Int32(bitPattern: attribute))
                mvaddstr(Int32(row), Int32(column), cell.text)
                attroff(Int32(bitPattern: attribute))
            }
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

    public static var boldAttribute: UInt32 { UInt32(md_attr_bold()) }
    public static var reverseAttribute: UInt32 { UInt32(md_attr_reverse()) }
    public static var dimAttribute: UInt32 { UInt32(md_attr_dim()) }
}
