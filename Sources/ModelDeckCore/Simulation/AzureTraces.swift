import Foundation

/// The Azure Functions public traces, read into a `Trace` as given (github.com/Azure/AzurePublicDataset,
/// licence CC-BY 4.0). Written by hand: the files are CSV of one fixed shape each, and a general CSV library
/// would hold every one of the 1,440 fields of every line as a string.
public enum AzureTraces {
    /// The most invocations a file may describe: the trace is kept in memory, 20 bytes an invocation.
    public static let maxInvocations = 20_000_000

    /// Where minute 1 of the 2019 files and second 0 of the 2021 file are put: 1970-01-02 00:00 UTC, a day
    /// after the epoch, so that a call that ended early in the day can start before it (the longest call
    /// kept is a day, `Trace.maxDurationMilliseconds`).
    public static let originSeconds: Int64 = 86_400

    /// Azure Functions 2019 ("Serverless in the Wild", Shahrad et al., USENIX ATC 2020; schema in
    /// AzureFunctionsDataset2019.md): `invocations_per_function_md.anon.dNN.csv` has a line per function,
    /// `HashOwner,HashApp,HashFunction,Trigger,1,…,1440`, with the number of invocations in each minute of
    /// the day, "recorded after the functions execute"; `function_durations_percentiles.anon.dNN.csv` has the
    /// function's execution-time percentiles (ms, cold start not included).
    ///
    /// The dataset gives no time inside a minute, so the N calls counted in a minute are spread evenly
    /// through it, and, since a call is counted once it has run, each one *ends* there: the i-th of N ends
    /// at (i + ½)·60/N s into the minute and starts its duration earlier. Durations come from the function's
    /// percentiles (0, 1, 25, 50, 75, 99, 100), read as a piecewise-linear distribution and sampled at the
    /// golden-ratio sequence (the j-th call of a function at the fractional part of j·0.618…), so the same
    /// files always give the same trace. A function without a durations line (or without a durations file)
    /// runs 1 ms a call, which understates overlapping calls. Endpoints are named by the first 8 characters
    /// of the function's hash and its trigger (`1a2b3c4d-http`), longer when two would clash.
    public static func load2019(invocations path: String, durations durationsPath: String?) throws -> Trace {
        let durations = try durationsPath.map { try durationPercentiles(Trace.read($0), name: TerminalText.sanitize($0)) } ?? [:]
        return try parse2019(Trace.read(path), name: TerminalText.sanitize(path), durations: durations)
    }

    /// Function key (owner, app, function hashes joined by commas) → percentiles 0, 1, 25, 50, 75, 99, 100 in µs.
    public static func durationPercentiles(_ data: Data, name: String) throws -> [String: [Int64]] {
        var result: [String: [Int64]] = [:]
        try CSVLines.each(data, name: name) { line, fields in
            if line == 1, fields.first.map({ $0.lowercased() == "hashowner" }) == true { return }
            guard fields.count == 14 else {
                throw line.fail("expected 14 fields (HashOwner,HashApp,HashFunction,Average,Count,Minimum,Maximum and 7 percentiles); got \(fields.count)")
            }
            var percentiles: [Int64] = []
            for (offset, field) in fields[7...].enumerated() {
                guard let us = Decimals.microseconds(field, scale: 1_000), us >= 0 else {
                    throw line.fail("percentile \(["0", "1", "25", "50", "75", "99", "100"][offset]) '\(TerminalText.sanitize(String(field.prefix(40))))' is not a duration in ms")
                }
                percentiles.append(min(us, Trace.maxDurationMilliseconds * 1_000))
            }
            // Published percentiles should not decrease; where they do, keep them in order.
            for index in 1..<percentiles.count { percentiles[index] = max(percentiles[index], percentiles[index - 1]) }
            result[fields[0...2].joined(separator: ",")] = percentiles
        }
        return result
    }

    public static func parse2019(_ data: Data, name: String, durations: [String: [Int64]]) throws -> Trace {
        var calls = Calls()
        var names = Names()
        var total = 0
        try CSVLines.each(data, name: name) { line, fields in
            if line == 1, fields.first.map({ $0.lowercased() == "hashowner" }) == true { return }
            guard fields.count == 4 + 1_440 else {
                throw line.fail("expected 1,444 fields (HashOwner,HashApp,HashFunction,Trigger and 1,440 minutes); got \(Format.grouped(Int64(fields.count)))")
            }
            let key = fields[0...2].joined(separator: ",")
            let trigger = TerminalText.sanitize(fields[3])
            let endpoint = names.index(for: key, candidates: ["\(fields[2].prefix(8))-\(trigger)", "\(fields[2])-\(trigger)", "\(fields[1])-\(fields[2])-\(trigger)"])
            let percentiles = durations[key]
            var nth: Int64 = 0
            for minute in 0..<1_440 {
                let field = fields[4 + minute]
                guard let count = Int(field), count >= 0 else {
                    throw line.fail("minute \(minute + 1): '\(TerminalText.sanitize(String(field.prefix(40))))' is not a count of invocations")
                }
                guard count > 0 else { continue }
                total += count
                guard total <= maxInvocations else {
                    throw line.fail("the file describes more than \(Format.grouped(Int64(maxInvocations))) invocations, the most a trace may hold; keep fewer functions")
                }
                for call in 0..<count {
                    nth += 1
                    let duration = percentiles.map { sample($0, at: goldenFraction(nth)) } ?? 1_000
                    let end = (originSeconds + Int64(minute) * 60) * 1_000_000 + (Int64(call) * 2 + 1) * 30_000_000 / Int64(count)
                    calls.append(start: end - duration, endpoint: endpoint, duration: duration)
                }
            }
        }
        return try calls.trace(names: names.all, name: name)
    }

    /// Azure Functions 2021 (Zhang et al., "Faster and Cheaper Serverless Computing on Harvested Resources",
    /// SOSP 2021; schema in AzureFunctionsInvocationTrace2021.md): a line per invocation,
    /// `app,func,end_timestamp,duration`, both in seconds with decimals, the timestamp counted from the start
    /// of the trace. A call starts its duration before its end; the lines are sorted by start. Endpoints are
    /// named by the first 8 characters of the app's and the function's hashes (`1a2b3c4d-5e6f7a8b`).
    public static func load2021(path: String) throws -> Trace {
        try parse2021(Trace.read(path), name: TerminalText.sanitize(path))
    }

    public static func parse2021(_ data: Data, name: String) throws -> Trace {
        var calls = Calls()
        var names = Names()
        try CSVLines.each(data, name: name) { line, fields in
            if line == 1, fields.first.map({ $0.lowercased() == "app" }) == true { return }
            guard fields.count == 4 else { throw line.fail("expected app,func,end_timestamp,duration; got \(fields.count) fields") }
            guard let end = Decimals.microseconds(fields[2], scale: 1_000_000), end >= 0, end <= 100 * 365 * 86_400_000_000 else {
                throw line.fail("end_timestamp '\(TerminalText.sanitize(String(fields[2].prefix(40))))' is not seconds from the start of the trace (0 to 100 years)")
            }
            guard let duration = Decimals.microseconds(fields[3], scale: 1_000_000), duration >= 0 else {
                throw line.fail("duration '\(TerminalText.sanitize(String(fields[3].prefix(40))))' is not a duration in seconds")
            }
            guard duration <= Trace.maxDurationMilliseconds * 1_000 else {
                throw line.fail("duration \(Format.duration(milliseconds: duration / 1_000)) is over the limit of \(Format.duration(milliseconds: Trace.maxDurationMilliseconds))")
            }
            guard calls.count < maxInvocations else {
                throw line.fail("more than \(Format.grouped(Int64(maxInvocations))) invocations, the most a trace may hold")
            }
            let app = TerminalText.sanitize(fields[0]), function = TerminalText.sanitize(fields[1])
            let endpoint = names.index(for: "\(fields[0]),\(fields[1])", candidates: ["\(app.prefix(8))-\(function.prefix(8))", "\(app)-\(function)"])
            calls.append(start: originSeconds * 1_000_000 + end - duration, endpoint: endpoint, duration: duration)
        }
        return try calls.trace(names: names.all, name: name)
    }

    /// The fractional part of j·(√5 − 1)/2: a sequence that fills [0, 1) evenly, whatever its length.
    static func goldenFraction(_ j: Int64) -> Double {
        let value = Double(j) * 0.618_033_988_749_894_8
        return value - value.rounded(.down)
    }

    /// The duration at quantile `u` of percentiles 0, 1, 25, 50, 75, 99, 100, linearly between them.
    static func sample(_ percentiles: [Int64], at u: Double) -> Int64 {
        let points = [0.0, 0.01, 0.25, 0.5, 0.75, 0.99, 1.0]
        var index = 1
        while index < points.count - 1 && u > points[index] { index += 1 }
        let (low, high) = (points[index - 1], points[index])
        let share = max(0, min(1, (u - low) / (high - low)))
        return percentiles[index - 1] + Int64((Double(percentiles[index] - percentiles[index - 1]) * share).rounded())
    }
}

/// Calls in any order, sorted by start into a `Trace`.
private struct Calls {
    var starts: [Int64] = []
    var endpoints: [Int32] = []
    var durations: [Int64] = []
    var count: Int { starts.count }

    mutating func append(start: Int64, endpoint: Int32, duration: Int64) {
        starts.append(start)
        endpoints.append(endpoint)
        durations.append(duration)
    }

    func trace(names: [String], name: String) throws -> Trace {
        guard !starts.isEmpty else { throw ModelDeckError("\(name): the trace has no invocations") }
        let order = starts.indices.sorted { starts[$0] < starts[$1] || (starts[$0] == starts[$1] && $0 < $1) }
        var trace = Trace()
        for name in names { _ = trace.appendEndpoint(name) }
        trace.reserve(order.count)
        for index in order { trace.append(atMicroseconds: starts[index], endpoint: endpoints[index], durationMicroseconds: durations[index]) }
        return trace
    }
}

/// Short endpoint names for long hashed keys: the first candidate no other key has taken.
private struct Names {
    private var byKey: [String: Int32] = [:]
    private var taken: Set<String> = []
    private(set) var all: [String] = []

    mutating func index(for key: String, candidates: [String]) -> Int32 {
        if let known = byKey[key] { return known }
        var chosen = candidates.first { !taken.contains($0) } ?? candidates.last!
        var suffix = 2
        while taken.contains(chosen) { chosen = "\(candidates.last!)-\(suffix)"; suffix += 1 }
        taken.insert(chosen)
        all.append(chosen)
        byKey[key] = Int32(all.count - 1)
        return Int32(all.count - 1)
    }
}

/// A line of a CSV file, for errors that name it.
struct CSVLine {
    let name: String
    let number: Int
    func fail(_ message: String) -> ModelDeckError { ModelDeckError("\(name):\(number): \(message)") }
    static func == (line: CSVLine, number: Int) -> Bool { line.number == number }
}

enum CSVLines {
    /// Calls `body` with each non-blank line's comma-separated fields (no quoting: these files have none).
    static func each(_ data: Data, name: String, _ body: (CSVLine, [String]) throws -> Void) throws {
        var number = 0
        try data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
            let bytes = raw.bindMemory(to: UInt8.self)
            var position = bytes.count >= 3 && bytes[0] == 0xEF && bytes[1] == 0xBB && bytes[2] == 0xBF ? 3 : 0
            var fields: [String] = []
            while position < bytes.count {
                number += 1
                var end = position
                while end < bytes.count && bytes[end] != 0x0A { end += 1 }
                defer { position = end + 1 }
                var stop = end
                if stop > position && bytes[stop - 1] == 0x0D { stop -= 1 }
                if stop == position { continue }
                fields.removeAll(keepingCapacity: true)
                var fieldStart = position
                for index in position...stop where index == stop || bytes[index] == 0x2C {
                    fields.append(String(decoding: UnsafeBufferPointer(rebasing: bytes[fieldStart..<index]), as: UTF8.self))
                    fieldStart = index + 1
                }
                try body(CSVLine(name: name, number: number), fields)
            }
        }
        if number == 0 { throw ModelDeckError("\(name): the trace has no invocations") }
    }
}

enum Decimals {
    /// A non-negative decimal (`5160.142570018768`, `4.6`, `1e-05`) times `scale`, to the nearest whole
    /// number; nil when it is not one, or too large.
    static func microseconds(_ text: String, scale: Double) -> Int64? {
        guard !text.isEmpty, text.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2E || $0 == 0x65 || $0 == 0x45 || $0 == 0x2D || $0 == 0x2B }),
              let value = Double(text), value.isFinite, value >= 0, value * scale < 9e18 else { return nil }
        return Int64((value * scale).rounded())
    }
}
