import Testing
@testable import ModelDeckTUI

struct ScreenTests {
    @Test func textIsPlacedAndReadBack() {
        var screen = Screen(width: 20, height: 2)
        screen.put("sentiment", row: 0, column: 2, role: .header)
        #expect(screen.line(0) == "  sentiment")
        #expect(screen.role(row: 0, column: 2) == .header)
        #expect(screen.role(row: 0, column: 1) == .normal)
        #expect(screen.line(1) == "")
    }

    @Test func clippedTextSaysSoWithAnEllipsis() {
        var screen = Screen(width: 10, height: 1)
        let used = screen.put("sentiment-production", row: 0, column: 0)
        #expect(screen.line(0) == "sentiment…")
        #expect(used == 10)
        var narrow = Screen(width: 30, height: 1)
        narrow.put("sentiment-production", row: 0, column: 0, maxWidth: 6)
        #expect(narrow.line(0) == "senti…")
    }

    @Test func escapeSequencesFromOutsideNeverReachTheTerminal() {
        var screen = Screen(width: 40, height: 1)
        screen.put("bad\u{1B}]0;owned\u{07}\u{1B}[2Jreason\nnext", row: 0, column: 0)
        #expect(screen.line(0) == "badreason next")
        #expect(!screen.text.contains("\u{1B}"))
    }

    @Test func wideCharactersTakeTwoColumns() {
        var screen = Screen(width: 6, height: 1)
        screen.put("模型ab", row: 0, column: 0)
        #expect(screen.line(0) == "模型ab")
        #expect(Screen.columns(of: "模型ab") == 6)
        var clipped = Screen(width: 4, height: 1)
        clipped.put("模型ab", row: 0, column: 0)
        #expect(clipped.line(0) == "模…")
    }

    @Test func writesOutsideTheScreenAreIgnored() {
        var screen = Screen(width: 5, height: 1)
        #expect(screen.put("x", row: 3, column: 0) == 0)
        #expect(screen.put("x", row: 0, column: 9) == 0)
        screen.fill(row: 0, role: .selected)
        #expect(screen.role(row: 0, column: 4) == .selected)
    }
}
