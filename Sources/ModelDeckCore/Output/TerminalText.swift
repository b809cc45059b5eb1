/// Text that came from outside (names, reasons, error messages, model output) is stripped of terminal
/// control sequences before it is drawn or printed, so it cannot move the cursor, change colours, set the
/// window title or write to the clipboard.
public enum TerminalText {
    /// Removes ANSI/VT escape sequences (CSI, OSC, DCS, …) and C0/C1 control characters; tabs and newlines
    /// become spaces so one value stays on one line.
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
            default: out.append(scalar)
            }
        }
        return String(out)
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
