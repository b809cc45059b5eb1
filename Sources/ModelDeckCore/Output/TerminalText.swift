/// Text that came from outside (names, reasons, error messages, model output) is stripped of terminal
/// control sequences before it is drawn or printed, so it cannot move the cursor, change colours, set the
/// window title or write to the clipboard — nor reorder what the reader sees with bidirectional controls
/// (the "Trojan Source" trick, CVE-2021-42574: U+202E RIGHT-TO-LEFT OVERRIDE makes `'x\u{202E}gnp.exe'`
/// display as `xexe.png`).
public enum TerminalText {
    /// Removes ANSI/VT escape sequences (CSI, OSC, DCS, …), C0/C1 control characters and invisible format
    /// characters (Unicode category Cf: the bidi embeddings, overrides and isolates U+202A–U+202E and
    /// U+2066–U+2069, marks such as U+200E, U+061C, soft hyphens, BOMs); tabs, newlines and the Unicode line
    /// and paragraph separators become spaces so one value stays on one line. The zero-width joiner stays:
    /// emoji sequences need it and it moves nothing.
    public static func sanitize(_ text: String) -> String {
        var out = String.UnicodeScalarView()
        var scalars = text.unicodeScalars.makeIterator()
        var pending: Unicode.Scalar? = nil
        func next() -> Unicode.Scalar? {
            if let scalar = pending { pending = nil; return scalar }
            return scalars.next()
        }
        while let scalar = next() {
            switch scalar.value {
            case 0x1B: // ESC: skip the whole sequence
                guard let introducer = next() else { break }
                switch introducer {
                case "[": skipCSI(&scalars)
                case "]", "P", "X", "^", "_": skipString(&scalars)
                default: break // two-character sequence (ESC c, ESC 7, …): both dropped
                }
            case 0x9B: skipCSI(&scalars) // 8-bit CSI
            case 0x9D, 0x90, 0x98, 0x9E, 0x9F: skipString(&scalars) // 8-bit OSC, DCS, SOS, PM, APC
            case 0x09, 0x0A, 0x0D: out.append(" ")
            case 0x00...0x1F, 0x7F, 0x80...0x9F: break
            case 0x2028, 0x2029: out.append(" ")
            case 0x200D: out.append(scalar)
            default:
                if scalar.properties.generalCategory == .format { break }
                out.append(scalar)
            }
        }
        return String(out)
    }

    /// `sanitize` line by line: a table or a listing keeps its line breaks, and nothing else gets through.
    public static func sanitizeLines(_ text: String) -> String {
        text.split(separator: "\n", omittingEmptySubsequences: false).map { sanitize(String($0)) }.joined(separator: "\n")
    }

    /// Whether `text` holds anything `sanitize` would remove or change.
    public static func needsSanitizing(_ text: String) -> Bool {
        text.unicodeScalars.contains { scalar in
            switch scalar.value {
            case 0x00...0x1F, 0x7F, 0x80...0x9F, 0x2028, 0x2029: return true
            case 0x200D: return false
            default: return scalar.properties.generalCategory == .format
            }
        }
    }

    /// CSI: parameter and intermediate bytes up to a final byte in 0x40–0x7E.
    private static func skipCSI(_ scalars: inout String.UnicodeScalarView.Iterator) {
        while let scalar = scalars.next() {
            if (0x40...0x7E).contains(scalar.value) { return }
        }
    }

    /// OSC/DCS/…: up to BEL, ST (ESC \) or 8-bit ST.
    private static func skipString(_ scalars: inout String.UnicodeScalarView.Iterator) {
        while let scalar = scalars.next() {
            switch scalar.value {
            case 0x07, 0x9C: return
            case 0x1B:
                _ = scalars.next() // the '\' of ST
                return
            default: continue
            }
        }
    }
}
