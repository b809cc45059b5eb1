import Foundation
import ModelDeckCore
import Testing
@testable import ModelDeckTUI

struct ThemeTests {
    static let themes = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Themes").path

    @Test func theShippedThemesLoadAndCoverEveryRole() throws {
        let names = try FileManager.default.contentsOfDirectory(atPath: Self.themes).filter { $0.hasSuffix(".yaml") }.sorted()
        #expect(names == ["dark.yaml", "high-contrast.yaml", "light.yaml", "monochrome.yaml"])
        for name in names {
            let theme = try Theme.load(path: Self.themes + "/" + name)
            #expect(theme.name + ".yaml" == name)
            #expect(Set(theme.styles.keys) == Set(Role.allCases), "\(name) names every role")
        }
    }

    @Test func theBuiltInThemeIsTheDarkFile() throws {
        #expect(try Theme.load(path: Self.themes + "/dark.yaml") == Theme.builtIn)
    }

    @Test func themesAreFoundByNameInTheSearchPath() throws {
        #expect(try Theme.named("light", searchPaths: [Self.themes]).name == "light")
        #expect(try Theme.named("dark", searchPaths: []) == Theme.builtIn, "the default works without any folder")
        #expect(throws: ModelDeckError("unknown theme 'neon' (known: dark, high-contrast, light, monochrome)")) {
            try Theme.named("neon", searchPaths: [Self.themes])
        }
        #expect(throws: ModelDeckError.self) { try Theme.named("../etc/passwd", searchPaths: [Self.themes]) }
    }

    @Test func colourTerminalsGetTheirColoursAndFewerColoursDegrade() {
        let theme = Theme.builtIn
        let full = theme.resolve(colorCount: 256, noColor: false)
        #expect(full.colors?[.error] == .init(foreground: 203, background: -1))
        let eight = theme.resolve(colorCount: 8, noColor: false)
        #expect(eight.colors?[.error] == .init(foreground: 1, background: -1), "fg8 is used")
        #expect(eight.colors?[.header] == .init(foreground: 7, background: 4))
        // Without fg8, a 256-colour number maps to the nearest basic colour.
        let derived = Theme(name: "x", styles: [.accent: .init(foreground: 196), .ok: .init(foreground: 46), .dim: .init(foreground: 250)])
        let resolved = derived.resolve(colorCount: 8, noColor: false)
        #expect(resolved.colors?[.accent]?.foreground == 1)
        #expect(resolved.colors?[.ok]?.foreground == 2)
        #expect(resolved.colors?[.dim]?.foreground == 7)
    }

    @Test func noColorAndMonochromeUseAttributesOnly() throws {
        let dark = Theme.builtIn.resolve(colorCount: 256, noColor: true)
        #expect(dark.colors == nil)
        #expect(dark.attributes[.selected] == [.reverse], "the selection still shows")
        #expect(dark.attributes[.error] == [.bold, .underline])
        let mono = try Theme.load(path: Self.themes + "/monochrome.yaml").resolve(colorCount: 256, noColor: false)
        #expect(mono.colors == nil)
        #expect(mono.attributes[.header] == [.bold, .reverse])
        #expect(Theme.builtIn.resolve(colorCount: 0, noColor: false).colors == nil, "a terminal without colours")
    }

    @Test func mistakesInAThemeNameTheFileAndKey() {
        #expect(throws: ModelDeckError("theme t.yaml: roles.error.fg: '300' is not a colour (a name: black, blue, cyan, default, green, magenta, red, white, yellow, or 0–255)")) {
            try Theme.parse("name: t\nroles:\n  error: {fg: 300}\n", source: "t.yaml")
        }
        #expect(throws: ModelDeckError.self) { try Theme.parse("name: t\nroles:\n  eror: {fg: red}\n", source: "t.yaml") }
        #expect(throws: ModelDeckError.self) { try Theme.parse("name: t\nroles:\n  error: {attrs: [blink]}\n", source: "t.yaml") }
        #expect(throws: ModelDeckError.self) { try Theme.parse("roles: {}\n", source: "t.yaml") }
        #expect(throws: ModelDeckError.self) { try Theme.parse("name: t\ncolours: {}\n", source: "t.yaml") }
    }

    @Test func chartsScaleToTheirLargestValue() {
        // Level = round(value / top × 7) of ▁▂▃▄▅▆▇█.
        #expect(Charts.sparkline([1, nil, 4, 8], width: 10) == "▂ ▅█")
        #expect(Charts.sparkline([1, 2, 3], width: 2) == "▆█", "the newest values when too many")
        #expect(Charts.bars([8, 4, nil], width: 3, height: 2) == ["█  ", "██ "])
        #expect(Charts.bar(50, top: 100, width: 10) == "█████")
        #expect(Charts.bar(0.1, top: 100, width: 10) == "█", "non-zero is never invisible")
    }
}
