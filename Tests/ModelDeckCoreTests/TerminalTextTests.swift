import Testing
@testable import ModelDeckCore

struct TerminalTextTests {
    @Test func escapeSequencesAreStripped() {
        #expect(TerminalText.sanitize("\u{1B}[31mred\u{1B}[0m") == "red")
        #expect(TerminalText.sanitize("title\u{1B}]0;pwned\u{07}done") == "titledone")
        #expect(TerminalText.sanitize("clip\u{1B}]52;c;ZXZpbA==\u{1B}\\board") == "clipboard")
        #expect(TerminalText.sanitize("a\u{9B}2Jb") == "ab")
        #expect(TerminalText.sanitize("reset\u{1B}c!") == "reset!")
    }

    @Test func controlCharactersGoAndLinesStayOne() {
        #expect(TerminalText.sanitize("line1\nline2\tx\r") == "line1 line2 x ")
        #expect(TerminalText.sanitize("bell\u{07}\u{08}\u{7F}") == "bell")
        #expect(TerminalText.sanitize("unicode ✓ ünïcödé 模型") == "unicode ✓ ünïcödé 模型")
    }
}
