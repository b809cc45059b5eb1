import Foundation

/// How bench runs read as tables: `bench` (one run, phase by phase), `get bench` (one line a run) and
/// `bench compare` (one line an endpoint, the seeds' table).
public enum BenchTables {
    /// One run's figures, a line a figure.
    public static func report(_ run: BenchRun) -> Table {
        var rows: [[String]] = []
        let figures = run.figures ?? BenchFigures()
        if let cold = figures.cold {
            var split: [String] = []
            if let ms = cold.processStartMs { split.append("process start \(Format.milliseconds(Double(ms)))") }
            if let ms = cold.modelLoadMs { split.append("model load \(Format.milliseconds(Double(ms)))") }
            if let ms = cold.firstAnswerMs { split.append("first answer \(Format.milliseconds(ms))") }
            rows.append(["cold", "first prediction", Format.milliseconds(cold.totalMs),
                         ([cold.coldStart ? "cold start" : "no cold start"] + split).joined(separator: ", ")])
        }
        if let warm = figures.warm {
            rows.append(["warm", "p50 / p95 / p99", latencies(warm), "\(warm.requests) requests at \(rate(run.plan.rate)), \(warm.errors) errors"])
            rows.append(["warm", "max", Format.milliseconds(warm.maxMs), "generator lateness p99 \(Format.milliseconds(warm.latenessP99Ms))"])
        }
        if let scale = figures.scale {
            rows.append(["scale", "time to \(rate(scale.toRate))", scale.timeToScaleMs.map { Format.milliseconds(Double($0)) } ?? "not reached",
                         "p99 within \(multiple(scale.p99Multiple)) × \(Format.milliseconds(scale.referenceP99Ms)), no errors"])
            rows.append(["scale", "instances started", "\(scale.instancesStarted)",
                         "\(scale.coldStarts) cold starts, \(scale.latency.requests) requests, \(scale.latency.errors) errors, p99 \(Format.milliseconds(scale.latency.p99Ms))"])
        }
        for gap in figures.lukeWarm ?? [] {
            rows.append(["luke-warm", "after \(Format.duration(milliseconds: gap.gapMs)) idle", "\(percent(gap.coldShare)) cold",
                         "\(gap.cold)/\(gap.requests) cold, p50 \(Format.milliseconds(gap.p50Ms)), max \(Format.milliseconds(gap.maxMs))"])
        }
        rows.append(["bench", "cost", Format.dollars(micros: figures.costMicros), "\(figures.requests) requests, kept apart from user traffic"])
        for note in figures.notes { rows.append(["note", "", "", note]) }
        if run.partial { rows.append(["note", "", "", "partial: stopped before every phase finished; the figures above are what was measured"]) }
        return Table(headers: ["phase", "figure", "value", "detail"], rows: rows)
    }

    /// `get bench`: one line a run.
    public static func runs(_ runs: [BenchRun]) -> Table {
        Table(headers: ["id", "endpoint", "version", "target", "state", "started", "warm p99", "cold", "scale", "cost"], rows: runs.map { run in
            let figures = run.figures
            return ["\(run.id)", run.endpoint, run.version, run.target, run.state.rawValue, Listings.time(run.startedAt),
                    figures?.warm.map { Format.milliseconds($0.p99Ms) } ?? "-",
                    figures?.cold.map { Format.milliseconds($0.totalMs) } ?? "-",
                    figures?.scale.map { $0.timeToScaleMs.map { Format.milliseconds(Double($0)) } ?? "not reached" } ?? "-",
                    Format.dollars(micros: run.costMicros)]
        })
    }

    /// One endpoint's line of `bench compare`.
    public struct ComparisonRow: Codable, Equatable, Sendable {
        public var endpoint: String
        public var target: String
        public var targetKind: String
        public var run: Int64
        public var partial: Bool
        public var warmP50Ms: Double?
        public var warmP95Ms: Double?
        public var warmP99Ms: Double?
        public var coldMs: Double?
        public var timeToScaleMs: Int64?
        /// Whether the run had a scale phase (a nil time to scale then means it was not reached).
        public var scaleRan: Bool
        /// Gap in ms → share of first requests that were cold.
        public var lukeWarm: [LukeWarmShare]
        /// The measured duration the price is for (warm p50, whole milliseconds rounded up) and the memory.
        public var durationMs: Int64?
        public var memoryMB: Int
        /// Dollars per million requests of that duration on that memory at the target's prices (as
        /// `cost estimate` prices them); nil when free here.
        public var perMillionMicros: Int64?

        public struct LukeWarmShare: Codable, Equatable, Sendable {
            public var gapMs: Int64
            public var coldShare: Double
        }
    }

    /// The comparison rows of `runs` (the latest of each endpoint), priced by `table`.
    public static func comparison(_ runs: [(run: BenchRun, target: Target)], table: PriceTable) -> [ComparisonRow] {
        runs.map { run, target in
            let figures = run.figures ?? BenchFigures()
            let duration = figures.warm.map { Int64($0.p50Ms.rounded(.up)) }
            return ComparisonRow(endpoint: run.endpoint, target: run.target, targetKind: run.targetKind, run: run.id, partial: run.partial,
                                 warmP50Ms: figures.warm?.p50Ms, warmP95Ms: figures.warm?.p95Ms, warmP99Ms: figures.warm?.p99Ms,
                                 coldMs: figures.cold?.totalMs, timeToScaleMs: figures.scale?.timeToScaleMs, scaleRan: figures.scale != nil,
                                 lukeWarm: (figures.lukeWarm ?? []).map { .init(gapMs: $0.gapMs, coldShare: $0.coldShare) },
                                 durationMs: duration, memoryMB: run.memoryMB,
                                 perMillionMicros: duration.flatMap { BenchCost.perMillionMicros(target: target, memoryMB: run.memoryMB, durationMs: max(1, $0), table: table) })
        }
    }

    /// The seeds' table: warm p50/p95/p99, cold, time to scale, luke-warm share at each gap, $ per 1M requests.
    public static func comparison(_ rows: [ComparisonRow]) -> Table {
        let gaps = Array(Set(rows.flatMap { $0.lukeWarm.map(\.gapMs) })).sorted()
        let headers = ["endpoint", "target", "warm p50", "warm p95", "warm p99", "cold", "time to scale"]
            + gaps.map { "cold after \(Format.duration(milliseconds: $0))" } + ["$ per 1M", "at"]
        return Table(headers: headers, rows: rows.map { row in comparisonCells(row, gaps: gaps) })
    }

    static func comparisonCells(_ row: ComparisonRow, gaps: [Int64]) -> [String] {
        func ms(_ value: Double?) -> String { value.map(Format.milliseconds) ?? "-" }
        let scale: String = row.timeToScaleMs.map { Format.milliseconds(Double($0)) } ?? (row.scaleRan ? "not reached" : "-")
        var cells: [String] = [row.endpoint + (row.partial ? " (partial)" : ""), "\(row.target) (\(row.targetKind))"]
        cells += [ms(row.warmP50Ms), ms(row.warmP95Ms), ms(row.warmP99Ms), ms(row.coldMs), scale]
        for gap in gaps {
            let share: String? = row.lukeWarm.first { $0.gapMs == gap }.map { percent($0.coldShare) }
            cells.append(share ?? "-")
        }
        let price: String = row.perMillionMicros.map { Format.dollars(micros: $0) } ?? (row.durationMs == nil ? "-" : "free here")
        let at: String = row.durationMs.map { "\(Format.milliseconds(Double($0))), \(Format.megabytes(row.memoryMB))" } ?? "-"
        return cells + [price, at]
    }

    static func latencies(_ latency: BenchFigures.Latency) -> String {
        [latency.p50Ms, latency.p95Ms, latency.p99Ms].map(Format.milliseconds).joined(separator: " / ")
    }

    static func rate(_ perSecond: Double) -> String {
        perSecond == perSecond.rounded() ? "\(Int(perSecond))/s" : String(format: "%.2f/s", perSecond)
    }

    static func multiple(_ value: Double) -> String {
        value == value.rounded() ? "\(Int(value))" : String(format: "%.1f", value)
    }

    static func percent(_ share: Double) -> String { "\(Int((share * 100).rounded()))%" }
}
