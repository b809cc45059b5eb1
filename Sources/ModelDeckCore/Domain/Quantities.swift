import Foundation

/// Human quantities as an on-call engineer types them: `5m`, `250ms`, `512MB`, `1%`, `$5.00`.
///
/// Parsing is strict: anything that is not exactly a positive number followed by a known unit is refused
/// with a message that shows what was expected. Nothing here accumulates in floating point.
public enum Quantity {
    /// The largest value each kind of quantity may take, wherever a user gives one (deck, CLI flag,
    /// `simulate`). Far above anything real, and far below what the arithmetic downstream can hold:
    /// a duration in nanoseconds (`Duration`, NIO's `TimeAmount`), a size times ten (`Format.bytes`), a
    /// budget summed over millions of endpoints, times 10⁶ for a share in parts per million.
    public enum Limit {
        /// 365 days: no timeout, interval, bake or retention is longer (3.2·10¹⁶ ns).
        public static let milliseconds: Int64 = 365 * 86_400_000
        /// 1 PB (2⁵⁰ bytes): 100 times Lambda's largest image.
        public static let bytes: Int64 = 1 << 50
        /// 1 TB of memory (1,048,576 MB): SageMaker's largest instances have 768 GB.
        public static let megabytes: Int = 1 << 20
        /// $1,000,000 (10¹² micro-dollars), as a daily budget or any other amount a user types.
        public static let microdollars: Int64 = 1_000_000_000_000
    }

    /// Parses a duration such as `250ms`, `30s`, `5m`, `1h`, `1h30m`, `2d` into milliseconds.
    public static func milliseconds(_ text: String, what: String = "duration") throws -> Int64 {
        let units: [(String, Int64)] = [("ms", 1), ("s", 1_000), ("m", 60_000), ("h", 3_600_000), ("d", 86_400_000)]
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        var rest = Substring(trimmed)
        var total: Int64 = 0
        var sawPart = false
        while !rest.isEmpty {
            let digits = rest.prefix(while: { $0.isASCII && $0.isNumber })
            guard !digits.isEmpty, let value = Int64(digits) else {
                throw invalidDuration(text, what: what)
            }
            rest = rest.dropFirst(digits.count)
            let unitText = rest.prefix(while: { $0.isLetter })
            guard let unit = units.first(where: { $0.0 == unitText.lowercased() }) else {
                throw invalidDuration(text, what: what)
            }
            rest = rest.dropFirst(unitText.count)
            let (product, overflow1) = value.multipliedReportingOverflow(by: unit.1)
            let (sum, overflow2) = total.addingReportingOverflow(product)
            guard !overflow1, !overflow2, sum <= Limit.milliseconds else { throw tooLong(text, what: what) }
            total = sum
            sawPart = true
        }
        guard sawPart else { throw invalidDuration(text, what: what) }
        return total
    }

    /// Parses a duration that must be a whole number of seconds (`30s`, `5m`), as stored in the registry.
    public static func seconds(_ text: String, what: String = "duration") throws -> Int64 {
        let ms = try milliseconds(text, what: what)
        guard ms % 1_000 == 0 else {
            throw ModelDeckError("\(what) '\(text)' must be a whole number of seconds")
        }
        return ms / 1_000
    }

    private static func tooLong(_ text: String, what: String) -> ModelDeckError {
        ModelDeckError("\(what) '\(text)' is over the limit of \(Format.duration(milliseconds: Limit.milliseconds))")
    }

    private static func invalidDuration(_ text: String, what: String) -> ModelDeckError {
        ModelDeckError("\(what) '\(text)' is not a duration; use a number with ms, s, m, h or d, e.g. 250ms, 30s, 5m, 1h30m")
    }

    /// Parses a size such as `512MB`, `1.5GB`, `200KB`, `1024` (bytes) into bytes.
    ///
    /// Units are binary, as AWS uses them for memory and package limits (Lambda's "10,240 MB" is MiB):
    /// `KB`=`KiB`=1,024 bytes, `MB`=`MiB`=1,024², `GB`=`GiB`=1,024³, `TB`=1,024⁴.
    public static func bytes(_ text: String, what: String = "size") throws -> Int64 {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let number = trimmed.prefix(while: { ($0.isASCII && $0.isNumber) || $0 == "." })
        let unit = trimmed.dropFirst(number.count).trimmingCharacters(in: .whitespaces).uppercased()
        let scale: Int64
        switch unit {
        case "", "B": scale = 1
        case "K", "KB", "KIB": scale = 1 << 10
        case "M", "MB", "MIB": scale = 1 << 20
        case "G", "GB", "GIB": scale = 1 << 30
        case "T", "TB", "TIB": scale = 1 << 40
        default:
            throw ModelDeckError("\(what) '\(text)' is not a size; use a number with B, KB, MB, GB or TB, e.g. 512MB")
        }
        guard let value = decimal(String(number)) else {
            throw ModelDeckError("\(what) '\(text)' is not a size; use a number with B, KB, MB, GB or TB, e.g. 512MB")
        }
        let product = value * Decimal(scale)
        guard product <= Decimal(Limit.bytes) else {
            throw ModelDeckError("\(what) '\(text)' is over the limit of \(Format.bytes(Limit.bytes))")
        }
        let (whole, exact) = rounded(product)
        guard exact else { throw ModelDeckError("\(what) '\(text)' is not a whole number of bytes") }
        return whole
    }

    /// Parses memory as the platforms state it, in whole megabytes (MiB): `512MB`, `1GB`, or a bare `512`.
    public static func megabytes(_ text: String, what: String = "memory") throws -> Int {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        // A bare number is megabytes, as in Lambda's console and API (MemorySize: 512).
        let isBareNumber = !trimmed.isEmpty && trimmed.allSatisfy { ($0.isASCII && $0.isNumber) || $0 == "." }
        let bytes = try Quantity.bytes(isBareNumber ? trimmed + "MB" : trimmed, what: what)
        guard bytes % (1 << 20) == 0 else {
            throw ModelDeckError("\(what) '\(text)' must be a whole number of MB")
        }
        guard bytes >> 20 <= Int64(Limit.megabytes) else {
            throw ModelDeckError("\(what) '\(text)' is over the limit of \(Format.megabytes(Limit.megabytes))")
        }
        return Int(bytes >> 20)
    }

    /// Parses a share such as `1%`, `0.5%` or a fraction `0.01` into parts per million.
    ///
    /// Rates are stored as integer parts per million so that comparisons are exact.
    public static func ppm(_ text: String, what: String = "rate") throws -> Int64 {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let isPercent = trimmed.hasSuffix("%")
        let number = isPercent ? String(trimmed.dropLast()) : trimmed
        guard let value = decimal(number) else {
            throw ModelDeckError("\(what) '\(text)' is not a rate; use a percentage such as 1% or 0.5%")
        }
        let ppm = isPercent ? value * 10_000 : value * 1_000_000
        guard ppm <= 1_000_000 else { throw ModelDeckError("\(what) '\(text)' is over 100%") }
        return rounded(ppm).whole
    }

    /// Parses money such as `$5`, `5.00`, `$0.25` into integer micro-dollars (never a Double).
    public static func microdollars(_ text: String, what: String = "amount") throws -> Int64 {
        var trimmed = text.trimmingCharacters(in: .whitespaces)
        if trimmed.hasPrefix("$") { trimmed.removeFirst() }
        if trimmed.uppercased().hasSuffix("USD") { trimmed = String(trimmed.dropLast(3)).trimmingCharacters(in: .whitespaces) }
        guard let value = decimal(trimmed) else {
            throw ModelDeckError("\(what) '\(text)' is not an amount of money; use dollars such as $5 or 12.50")
        }
        let micros = value * 1_000_000
        guard micros <= Decimal(Limit.microdollars) else {
            throw ModelDeckError("\(what) '\(text)' is over the limit of \(Format.dollars(micros: Limit.microdollars))")
        }
        let (whole, exact) = rounded(micros)
        guard exact else { throw ModelDeckError("\(what) '\(text)' has more than six decimal places") }
        return whole
    }

    /// A plain decimal number — digits and at most one point, no sign or exponent — or nil.
    private static func decimal(_ text: String) -> Decimal? {
        guard !text.isEmpty, text.allSatisfy({ ($0.isASCII && $0.isNumber) || $0 == "." }),
              text.filter({ $0 == "." }).count <= 1 else { return nil }
        return Decimal(string: text, locale: Locale(identifier: "en_US_POSIX"))
    }

    /// `value` rounded to a whole number, and whether it already was one.
    private static func rounded(_ value: Decimal) -> (whole: Int64, exact: Bool) {
        var result = Decimal()
        var source = value
        NSDecimalRound(&result, &source, 0, .plain)
        return (NSDecimalNumber(decimal: result).int64Value, result == value)
    }
}

/// Formatting for people: the inverse of `Quantity`, used in tables, errors and the TUI.
public enum Format {
    /// `512 MB`, `10,240 MB`.
    public static func megabytes(_ mb: Int) -> String { "\(grouped(Int64(mb))) MB" }

    /// A byte count in the largest binary unit that keeps it readable: `50 MB`, `9.8 GB`, `812 B`.
    public static func bytes(_ bytes: Int64) -> String {
        let units: [(String, Int64)] = [("TB", 1 << 40), ("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)]
        for (name, scale) in units where bytes >= scale {
            if bytes % scale == 0 { return "\(grouped(bytes / scale)) \(name)" }
            let tenths = (bytes * 10 + scale / 2) / scale
            if tenths % 10 == 0 { return "\(grouped(tenths / 10)) \(name)" }
            return "\(grouped(tenths / 10)).\(tenths % 10) \(name)"
        }
        return "\(bytes) B"
    }

    /// `250ms`, `30s`, `5m`, `1h30m` — the shortest exact form.
    public static func duration(milliseconds ms: Int64) -> String {
        if ms == 0 { return "0s" }
        if ms % 1_000 != 0 { return ms >= 1_000 ? "\(ms / 1_000).\(String(format: "%03lld", ms % 1_000))s" : "\(ms)ms" }
        var seconds = ms / 1_000
        var parts: [String] = []
        for (unit, size) in [("d", Int64(86_400)), ("h", 3_600), ("m", 60)] where seconds >= size {
            parts.append("\(seconds / size)\(unit)")
            seconds %= size
        }
        if seconds > 0 { parts.append("\(seconds)s") }
        return parts.joined()
    }

    public static func duration(seconds: Int64) -> String { duration(milliseconds: seconds * 1_000) }

    /// Parts per million as a percentage: `1%`, `0.5%`, `0.0125%`.
    public static func percent(ppm: Int64) -> String {
        let whole = ppm / 10_000
        var fraction = String(format: "%04lld", ppm % 10_000)
        while fraction.hasSuffix("0") { fraction.removeLast() }
        return fraction.isEmpty ? "\(whole)%" : "\(whole).\(fraction)%"
    }

    /// Micro-dollars as dollars with cents, or more digits when the amount is below a cent: `$5.00`, `$0.000021`.
    public static func dollars(micros: Int64) -> String {
        let sign = micros < 0 ? "-" : ""
        let value = micros.magnitude
        let dollars = value / 1_000_000
        let rest = value % 1_000_000
        if rest % 10_000 == 0 { return "\(sign)$\(grouped(Int64(dollars))).\(String(format: "%02llu", rest / 10_000))" }
        var fraction = String(format: "%06llu", rest)
        while fraction.hasSuffix("0") { fraction.removeLast() }
        return "\(sign)$\(grouped(Int64(dollars))).\(fraction)"
    }

    /// A latency in milliseconds for a table cell: `0.42ms`, `6.4ms`, `918ms`, `2.35s`.
    public static func milliseconds(_ ms: Double) -> String {
        if ms >= 1_000 { return String(format: "%.2fs", ms / 1_000) }
        if ms >= 100 { return String(format: "%.0fms", ms) }
        if ms >= 10 { return String(format: "%.1fms", ms) }
        return String(format: "%.2fms", ms)
    }

    /// Requests per second for a table cell: `0`, `0.2`, `12.5`, `1,204`.
    public static func rate(_ perSecond: Double) -> String {
        if perSecond == 0 { return "0" }
        if perSecond >= 100 { return grouped(Int64(perSecond.rounded())) }
        return String(format: "%.1f", perSecond)
    }

    /// `10240` → `10,240`.
    public static func grouped(_ value: Int64) -> String {
        let digits = String(value.magnitude)
        var out = ""
        for (index, character) in digits.enumerated() {
            if index > 0 && (digits.count - index) % 3 == 0 { out.append(",") }
            out.append(character)
        }
        return value < 0 ? "-" + out : out
    }
}
