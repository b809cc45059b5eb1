import Foundation

/// An invocation trace to replay: `timestamp,endpoint,duration_ms` lines in time order.
///
/// - `timestamp`: seconds since the Unix epoch, with decimals (`1700000000.250`; kept to the microsecond);
/// - `endpoint`: a name (no comma);
/// - `duration_ms`: how long the invocation ran on a warm instance, milliseconds with decimals as real traces
///   carry them (`200`, `4.6`; kept to the microsecond) or a duration with a unit (`250ms`, `2s`).
///
/// A header line naming the columns, blank lines and `#` comments are allowed. Stored column-wise (20 bytes
/// an invocation) so a 10-million-line trace fits in memory. `AzureTraces` reads the Azure Functions files.
public struct Trace: Sendable {
    public private(set) var endpoints: [String] = []
    /// Microseconds since the epoch, non-decreasing.
    public private(set) var times: [Int64] = []
    /// Index into `endpoints`.
    public private(set) var endpointIndices: [Int32] = []
    /// Microseconds.
    public private(set) var durations: [Int64] = []

    public var count: Int { times.count }

    public init() {}

    /// Appends one invocation; `at` must not be before the previous one.
    public mutating func append(atMicroseconds at: Int64, endpoint: Int32, durationMicroseconds: Int64) {
        times.append(at)
        endpointIndices.append(endpoint)
        durations.append(durationMicroseconds)
    }

    /// The same in whole milliseconds.
    public mutating func append(atMilliseconds at: Int64, endpoint: Int32, durationMilliseconds: Int32) {
        append(atMicroseconds: at * 1_000, endpoint: endpoint, durationMicroseconds: Int64(durationMilliseconds) * 1_000)
    }

    /// Appends an endpoint name known to be new, without the linear search of `endpointIndex`.
    mutating func appendEndpoint(_ name: String) -> Int32 {
        endpoints.append(name)
        return Int32(endpoints.count - 1)
    }

    mutating func reserve(_ count: Int) {
        times.reserveCapacity(count)
        endpointIndices.reserveCapacity(count)
        durations.reserveCapacity(count)
    }

    public mutating func endpointIndex(_ name: String) -> Int32 {
        if let index = endpoints.firstIndex(of: name) { return Int32(index) }
        endpoints.append(name)
        return Int32(endpoints.count - 1)
    }

    /// Reads and parses the trace at `path`; errors name the file and line.
    public static func load(path: String) throws -> Trace {
        try parse(read(path), name: TerminalText.sanitize(path))
    }

    /// The bytes of a trace file, mapped; a missing or unreadable file is an error naming it.
    static func read(_ path: String) throws -> Data {
        let url = URL(fileURLWithPath: path)
        let shown = TerminalText.sanitize(path)
        guard FileManager.default.fileExists(atPath: path) else { throw ModelDeckError("cannot read trace \(shown): no such file") }
        do { return try Data(contentsOf: url, options: .alwaysMapped) } catch {
            throw ModelDeckError("cannot read trace \(shown): \(TerminalText.sanitize(error.localizedDescription))")
        }
    }

    /// The longest duration one invocation may have: a day (Lambda stops at 15 minutes).
    public static let maxDurationMilliseconds: Int64 = 86_400_000

    public static func parse(_ data: Data, name: String) throws -> Trace {
        var trace = Trace()
        trace.reserve(data.count / 24)
        try data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
            let bytes = raw.bindMemory(to: UInt8.self)
            var lineNumber = 0
            // A UTF-8 byte-order mark, as spreadsheet exports write one, is not part of the first line.
            var position = bytes.count >= 3 && bytes[0] == 0xEF && bytes[1] == 0xBB && bytes[2] == 0xBF ? 3 : 0
            var lastEndpoint: (start: Int, end: Int, index: Int32)? = nil
            var indexByName: [String: Int32] = [:]
            let end = bytes.count
            func fail(_ message: String) -> ModelDeckError { ModelDeckError("\(name):\(lineNumber): \(message)") }
            func overLimit(_ milliseconds: Int64) -> ModelDeckError {
                fail("duration \(Format.duration(milliseconds: milliseconds)) is over the limit of \(Format.duration(milliseconds: maxDurationMilliseconds))")
            }
            // What the line says, echoed in errors: stripped of terminal controls, since the file comes from outside.
            func text(_ from: Int, _ to: Int) -> String { TerminalText.sanitize(plain(from, to)) }
            func plain(_ from: Int, _ to: Int) -> String { String(decoding: UnsafeBufferPointer(rebasing: bytes[from..<to]), as: UTF8.self) }
            while position < end {
                lineNumber += 1
                var lineEnd = position
                while lineEnd < end && bytes[lineEnd] != 0x0A { lineEnd += 1 }
                let next = lineEnd + 1
                var stop = lineEnd
                if stop > position && bytes[stop - 1] == 0x0D { stop -= 1 }
                defer { position = next }
                if stop == position || bytes[position] == 0x23 /* # */ { continue }
                // timestamp
                var cursor = position
                var seconds: Int64 = 0
                var digits = 0
                while cursor < stop, bytes[cursor] >= 0x30, bytes[cursor] <= 0x39, digits < 12 {
                    seconds = seconds * 10 + Int64(bytes[cursor] - 0x30)
                    cursor += 1; digits += 1
                }
                if digits == 0 {
                    let line = text(position, stop)
                    if trace.times.isEmpty, line.lowercased().hasPrefix("timestamp") { continue }
                    throw fail("expected timestamp,endpoint,duration_ms; got '\(line.prefix(80))'")
                }
                var microseconds = seconds * 1_000_000
                if cursor < stop, bytes[cursor] == 0x2E /* . */ {
                    cursor += 1
                    var scale: Int64 = 100_000
                    var fraction = 0
                    while cursor < stop, bytes[cursor] >= 0x30, bytes[cursor] <= 0x39 {
                        microseconds += Int64(bytes[cursor] - 0x30) * scale  // beyond microseconds, digits are dropped
                        scale /= 10
                        cursor += 1; fraction += 1
                    }
                    if fraction == 0 { throw fail("timestamp '\(text(position, cursor))' has a point but no decimals") }
                }
                guard cursor < stop, bytes[cursor] == 0x2C /* , */ else {
                    throw fail("timestamp '\(text(position, min(stop, cursor + 1)))' is not seconds since the epoch; expected e.g. 1700000000.250,endpoint,200")
                }
                if let previous = trace.times.last, microseconds < previous {
                    throw fail("timestamp \(text(position, cursor)) is earlier than the line before; the trace must be in time order")
                }
                // endpoint
                let nameStart = cursor + 1
                var nameEnd = nameStart
                while nameEnd < stop, bytes[nameEnd] != 0x2C { nameEnd += 1 }
                guard nameEnd > nameStart else { throw fail("no endpoint name; expected timestamp,endpoint,duration_ms") }
                guard nameEnd < stop else { throw fail("no duration; expected timestamp,endpoint,duration_ms") }
                let endpoint: Int32
                if let last = lastEndpoint, last.end - last.start == nameEnd - nameStart,
                   memcmp(bytes.baseAddress! + last.start, bytes.baseAddress! + nameStart, nameEnd - nameStart) == 0 {
                    endpoint = last.index
                } else {
                    let name = plain(nameStart, nameEnd)
                    if let known = indexByName[name] { endpoint = known } else {
                        endpoint = Int32(trace.endpoints.count)
                        trace.endpoints.append(name)
                        indexByName[name] = endpoint
                    }
                    lastEndpoint = (nameStart, nameEnd, endpoint)
                }
                // duration: milliseconds, with decimals down to the microsecond (further digits are dropped)
                cursor = nameEnd + 1
                var duration: Int64 = 0
                var durationDigits = 0
                while cursor < stop, bytes[cursor] >= 0x30, bytes[cursor] <= 0x39, durationDigits < 12 {
                    duration = duration * 10 + Int64(bytes[cursor] - 0x30)
                    cursor += 1; durationDigits += 1
                }
                duration *= 1_000
                if durationDigits > 0, cursor < stop, bytes[cursor] == 0x2E /* . */ {
                    cursor += 1
                    var scale: Int64 = 100
                    var fraction = 0
                    while cursor < stop, bytes[cursor] >= 0x30, bytes[cursor] <= 0x39 {
                        duration += Int64(bytes[cursor] - 0x30) * scale
                        scale /= 10
                        cursor += 1; fraction += 1
                    }
                    if fraction == 0 { throw fail("duration '\(text(nameEnd + 1, cursor))' has a point but no decimals") }
                }
                if cursor != stop || durationDigits == 0 {
                    let field = text(nameEnd + 1, stop)
                    if field.contains(",") { throw fail("more than three fields; expected timestamp,endpoint,duration_ms") }
                    var milliseconds: Int64
                    do { milliseconds = try Quantity.milliseconds(field, what: "duration") } catch let error as ModelDeckError {
                        throw fail(error.message)
                    }
                    // Checked before it becomes microseconds, which could overflow.
                    guard milliseconds <= maxDurationMilliseconds else { throw overLimit(milliseconds) }
                    duration = milliseconds * 1_000
                }
                guard duration <= maxDurationMilliseconds * 1_000 else { throw overLimit(duration / 1_000) }
                trace.append(atMicroseconds: microseconds, endpoint: endpoint, durationMicroseconds: duration)
            }
            if trace.times.isEmpty { throw ModelDeckError("\(name): the trace has no invocations") }
        }
        return trace
    }
}
