import Foundation
import GRDB

/// The text GRDB stores a date as, "yyyy-MM-dd HH:mm:ss.SSS" in UTC, made by hand. GRDB makes it with
/// Foundation's `DateFormatter`, whose first use loads ICU: milliseconds of every short command that writes
/// a row (`modeldeck rollback` among them). GRDB reads the text back with its own parser, so only writing
/// changes; the text is the same (`StoredDateTests` compares the two over many dates).
enum StoredDate {
    /// As the formatter does: to the nearest millisecond.
    static func text(_ date: Date) -> String {
        let milliseconds = Int64((date.timeIntervalSince1970 * 1000).rounded())
        let (seconds, fraction) = milliseconds.quotientAndRemainder(dividingBy: 1000)
        var whole = time_t(fraction < 0 ? seconds - 1 : seconds)
        var parts = tm()
        gmtime_r(&whole, &parts)
        var text = ""
        text.reserveCapacity(23)
        append(Int(parts.tm_year) + 1900, width: 4, to: &text)
        text.append("-")
        append(Int(parts.tm_mon) + 1, width: 2, to: &text)
        text.append("-")
        append(Int(parts.tm_mday), width: 2, to: &text)
        text.append(" ")
        append(Int(parts.tm_hour), width: 2, to: &text)
        text.append(":")
        append(Int(parts.tm_min), width: 2, to: &text)
        text.append(":")
        append(Int(parts.tm_sec), width: 2, to: &text)
        text.append(".")
        append(Int(fraction < 0 ? fraction + 1000 : fraction), width: 3, to: &text)
        return text
    }

    private static func append(_ value: Int, width: Int, to text: inout String) {
        let digits = String(value)
        if digits.count < width { text.append(String(repeating: "0", count: width - digits.count)) }
        text.append(digits)
    }

    static let strategy = DatabaseDateEncodingStrategy.custom { text($0) }
}

/// A registry record: its dates are written as `StoredDate` makes them.
public protocol RegistryRecord: EncodableRecord {}

extension RegistryRecord {
    public static func databaseDateEncodingStrategy(for column: String) -> DatabaseDateEncodingStrategy { StoredDate.strategy }
}
