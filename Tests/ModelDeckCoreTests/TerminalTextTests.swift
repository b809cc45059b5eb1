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

struct TerminalTextFormatCharacterTests {
    @Test func bidiControlsCannotReorderWhatIsShown() {
        // RLO/LRO/embeddings/PDF and the isolates: "Trojan Source" (CVE-2021-42574).
        for value in Array(0x202A...0x202E) + Array(0x2066...0x2069) {
            let control = String(Unicode.Scalar(UInt32(value))!)
            #expect(TerminalText.sanitize("a\(control)b") == "ab", "U+\(String(value, radix: 16, uppercase: true)) passed")
            #expect(TerminalText.needsSanitizing("a\(control)b"))
        }
        #expect(TerminalText.sanitize("invoice\u{202E}gnp.exe") == "invoicegnp.exe")
        #expect(TerminalText.sanitize("mark\u{200E}\u{200F}\u{061C}s") == "marks")
    }

    @Test func otherInvisibleFormatCharactersGoButEmojiJoinersStay() {
        #expect(TerminalText.sanitize("soft\u{00AD}hyphen\u{FEFF}") == "softhyphen")
        #expect(TerminalText.sanitize("one\u{2028}two\u{2029}three") == "one two three")
        let family = "👩\u{200D}👩\u{200D}👧"
        #expect(TerminalText.sanitize(family) == family)
        #expect(!TerminalText.needsSanitizing("plain ünïcödé 模型 " + family))
    }
}
