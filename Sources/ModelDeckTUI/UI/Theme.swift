import Foundation
import ModelDeckCore
import Yams

/// A TUI skin, as k9s has them: for each `Role`, colours for 256-colour terminals, colours for 8-colour
/// ones, and the attributes to use when there is no colour at all (`NO_COLOR`, a monochrome terminal or
/// the `monochrome` theme). Files live in `Themes/NAME.yaml`.
public struct Theme: Equatable, Sendable {
    public enum Attribute: String, Codable, CaseIterable, Sendable {
        case bold, reverse, dim, underline
    }

    /// A terminal colour: -1 is the terminal's own default, 0–7 the basic colours, up to 255 on 256-colour terminals.
    public typealias Color = Int16

    public struct Style: Equatable, Sendable {
        public var foreground: Color = -1
        public var background: Color = -1
        /// Colours for terminals with fewer than 256 colours; derived from the 256-colour ones when not given.
        public var foreground8: Color?
        public var background8: Color?
        /// Always applied (bold headers).
        public var attributes: [Attribute] = []
        /// Applied instead of colours when there are none.
        public var monochrome: [Attribute] = []

        public init(foreground: Color = -1, background: Color = -1, foreground8: Color? = nil, background8: Color? = nil,
                    attributes: [Attribute] = [], monochrome: [Attribute] = []) {
            self.foreground = foreground
            self.background = background
            self.foreground8 = foreground8
            self.background8 = background8
            self.attributes = attributes
            self.monochrome = monochrome
        }
    }

    public var name: String
    /// No colours at all, whatever the terminal can do.
    public var monochrome: Bool
    public var styles: [Role: Style]

    public init(name: String, monochrome: Bool = false, styles: [Role: Style]) {
        self.name = name
        self.monochrome = monochrome
        self.styles = styles
    }

    /// What the terminal is given once its capabilities are known.
    public struct Resolved: Equatable, Sendable {
        /// Role → (foreground, background); nil when drawing without colour.
        public var colors: [Role: Pair]?
        public var attributes: [Role: [Attribute]]

        public struct Pair: Equatable, Sendable {
            public var foreground: Color
            public var background: Color
        }
    }

    /// Colours and attributes for a terminal with `colorCount` colours; `noColor` is the `NO_COLOR` convention.
    public func resolve(colorCount: Int, noColor: Bool) -> Resolved {
        let useColor = !monochrome && !noColor && colorCount >= 8
        var colors: [Role: Resolved.Pair] = [:]
        var attributes: [Role: [Attribute]] = [:]
        for role in Role.allCases {
            let style = styles[role] ?? Style()
            if useColor {
                let pair: Resolved.Pair = colorCount >= 256
                    ? .init(foreground: style.foreground, background: style.background)
                    : .init(foreground: style.foreground8 ?? Self.basic(style.foreground),
                            background: style.background8 ?? Self.basic(style.background))
                colors[role] = pair
                attributes[role] = style.attributes
            } else {
                attributes[role] = Array(Set(style.attributes + style.monochrome)).sorted { $0.rawValue < $1.rawValue }
            }
        }
        return Resolved(colors: useColor ? colors : nil, attributes: attributes)
    }

    /// The nearest of the 8 basic colours to a 256-colour one: the 6×6×6 cube and the grey ramp by their
    /// channels, 8–15 by dropping brightness.
    public static func basic(_ color: Color) -> Color {
        switch color {
        case ..<0: return -1
        case 0..<8: return color
        case 8..<16: return color - 8
        case 16..<232:
            let index = Int(color) - 16
            let (r, g, b) = (index / 36, (index / 6) % 6, index % 6)
            // A channel counts as on from the cube's middle; all three the same is a grey.
            let on = [r, g, b].map { $0 >= 3 }
            if r == g && g == b { return r >= 3 ? 7 : 0 }
            return Color((on[0] ? 1 : 0) | (on[1] ? 2 : 0) | (on[2] ? 4 : 0))
        default:
            return color >= 244 ? 7 : 0
        }
    }

    // MARK: - Files

    /// The theme everything falls back to when no Themes folder is found; `Themes/dark.yaml` is the same
    /// theme as a file to copy and edit (a test keeps the two equal).
    public static let builtIn = Theme(name: "dark", styles: [
        .normal: Style(),
        .header: Style(foreground: 252, background: 237, foreground8: 7, background8: 4, attributes: [.bold], monochrome: [.reverse]),
        .title: Style(foreground: 117, foreground8: 6, attributes: [.bold]),
        .selected: Style(foreground: 16, background: 117, foreground8: 0, background8: 6, monochrome: [.reverse]),
        .ok: Style(foreground: 114, foreground8: 2),
        .warning: Style(foreground: 214, foreground8: 3, attributes: [.bold]),
        .error: Style(foreground: 203, foreground8: 1, attributes: [.bold], monochrome: [.underline]),
        .dim: Style(foreground: 244, foreground8: 7, monochrome: [.dim]),
        .accent: Style(foreground: 177, foreground8: 5),
        .production: Style(foreground: 209, foreground8: 1, attributes: [.bold]),
    ])

    /// Folders searched for `NAME.yaml`, first match wins: `$MODELDECK_THEMES`, the user's config folder, then
    /// a `Themes` folder beside the executable or any folder above it (a checkout running `swift run`).
    public static func searchPaths(environment: [String: String] = ProcessInfo.processInfo.environment,
                                   executable: String = CommandLine.arguments.first ?? "") -> [String] {
        var paths: [String] = []
        if let custom = environment["MODELDECK_THEMES"], !custom.isEmpty { paths.append(custom) }
        let config = environment["XDG_CONFIG_HOME"].flatMap { $0.isEmpty ? nil : $0 }
            ?? environment["HOME"].map { "\($0)/.config" }
        if let config { paths.append("\(config)/modeldeck/themes") }
        var folder = URL(fileURLWithPath: ProgramFile.path(fallback: executable)).deletingLastPathComponent()
        while folder.path != "/" && !folder.path.isEmpty {
            paths.append(folder.appendingPathComponent("Themes").path)
            folder.deleteLastPathComponent()
        }
        return paths
    }

    /// The theme called `name` (or at the path `name`, when it ends in `.yaml`).
    public static func named(_ name: String, searchPaths: [String] = searchPaths()) throws -> Theme {
        if name.hasSuffix(".yaml") || name.contains("/") { return try load(path: name) }
        guard name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }) else {
            throw ModelDeckError("theme name '\(name)' may only have letters, digits, '-' and '_'")
        }
        for folder in searchPaths {
            let path = "\(folder)/\(name).yaml"
            if FileManager.default.fileExists(atPath: path) { return try load(path: path) }
        }
        if name == builtIn.name { return builtIn }
        let known = Set(searchPaths.flatMap { folder in
            ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).filter { $0.hasSuffix(".yaml") }.map { String($0.dropLast(5)) }
        }).sorted()
        throw ModelDeckError("unknown theme '\(name)'\(known.isEmpty ? "" : " (known: \(known.joined(separator: ", ")))")")
    }

    public static func load(path: String) throws -> Theme {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw ModelDeckError("theme \(path): cannot be read")
        }
        return try parse(text, source: path)
    }

    /// Parses a theme file; every mistake names the file and the key.
    public static func parse(_ text: String, source: String) throws -> Theme {
        let node: Node?
        try YAMLBudget.check(text, name: "theme \(source)")
        do { node = try Yams.compose(yaml: text) } catch { throw ModelDeckError("theme \(source): not YAML: \(error)") }
        guard let root = node?.mapping else { throw ModelDeckError("theme \(source): expected a mapping with name and roles") }
        for key in root.keys.compactMap(\.string) where !["name", "monochrome", "roles"].contains(key) {
            throw ModelDeckError("theme \(source): unknown key '\(key)' (known: name, monochrome, roles)")
        }
        guard let name = root["name"]?.string, !name.isEmpty else { throw ModelDeckError("theme \(source): 'name' is missing") }
        let monochrome = root["monochrome"]?.bool ?? false
        var styles: [Role: Style] = [:]
        for (key, value) in root["roles"]?.mapping ?? [:] {
            let roleName = key.string ?? ""
            guard let role = Role(rawValue: roleName) else {
                throw ModelDeckError("theme \(source): unknown role '\(roleName)' (known: \(Role.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
            styles[role] = try style(value, at: "\(source): roles.\(roleName)")
        }
        return Theme(name: name, monochrome: monochrome, styles: styles)
    }

    private static let styleKeys = ["fg", "bg", "fg8", "bg8", "attrs", "mono"]

    private static func style(_ node: Node, at place: String) throws -> Style {
        guard let mapping = node.mapping else { throw ModelDeckError("theme \(place): expected a mapping of \(styleKeys.joined(separator: ", "))") }
        var style = Style()
        for (key, value) in mapping {
            let name = key.string ?? ""
            switch name {
            case "fg": style.foreground = try color(value, at: "\(place).fg", limit: 255)
            case "bg": style.background = try color(value, at: "\(place).bg", limit: 255)
            case "fg8": style.foreground8 = try color(value, at: "\(place).fg8", limit: 7)
            case "bg8": style.background8 = try color(value, at: "\(place).bg8", limit: 7)
            case "attrs": style.attributes = try attributes(value, at: "\(place).attrs")
            case "mono": style.monochrome = try attributes(value, at: "\(place).mono")
            default: throw ModelDeckError("theme \(place): unknown key '\(name)' (known: \(styleKeys.joined(separator: ", ")))")
            }
        }
        return style
    }

    static let colorNames: [String: Color] = ["default": -1, "black": 0, "red": 1, "green": 2, "yellow": 3, "blue": 4,
                                               "magenta": 5, "cyan": 6, "white": 7]

    private static func color(_ node: Node, at place: String, limit: Color) throws -> Color {
        let text = node.string ?? ""
        if let named = colorNames[text.lowercased()] { return named }
        guard let number = Int(text), (0...Int(limit)).contains(number) else {
            throw ModelDeckError("theme \(place): '\(text)' is not a colour (a name: \(colorNames.keys.sorted().joined(separator: ", ")), or 0–\(limit))")
        }
        return Color(number)
    }

    private static func attributes(_ node: Node, at place: String) throws -> [Attribute] {
        guard let items = node.sequence else { throw ModelDeckError("theme \(place): expected a list like [bold, reverse]") }
        return try items.map { item in
            guard let attribute = Attribute(rawValue: item.string ?? "") else {
                throw ModelDeckError("theme \(place): '\(item.string ?? "")' is not an attribute (known: \(Attribute.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
            return attribute
        }
    }
}
