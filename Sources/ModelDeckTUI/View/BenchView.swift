import Foundation
import ModelDeckCore

/// `:bench`: one row per stored `modeldeck bench` run, newest first — the seeds' figures (warm p50/p99, cold,
/// time to scale, luke-warm) and what the run cost, apart from user traffic.
enum BenchTable {
    static let columns: [Column] = [
        Column("ID", width: 4, alignRight: true, priority: 60, sortKey: "I"),
        Column("ENDPOINT", width: 14, flexible: true, priority: 100, sortKey: "N"),
        Column("VERSION", width: 10, priority: 70, sortKey: "V"),
        Column("TARGET", width: 10, priority: 50, sortKey: "T"),
        Column("STATE", width: 8, priority: 80, sortKey: "S"),
        Column("WARM P50", width: 8, alignRight: true, priority: 75, sortKey: "L"),
        Column("WARM P99", width: 8, alignRight: true, priority: 90, sortKey: "P"),
        Column("COLD", width: 7, alignRight: true, priority: 85, sortKey: "C"),
        Column("SCALE", width: 7, alignRight: true, priority: 65, sortKey: "G"),
        Column("LUKE-WARM", width: 14, priority: 40),
        Column("COST", width: 9, alignRight: true, priority: 45, sortKey: "B"),
        Column("STARTED", width: 14, priority: 30, sortKey: "A"),
    ]

    static func row(_ run: BenchRun) -> TableRow {
        let figures = run.figures
        let scale = figures?.scale.map { $0.timeToScaleMs.map { Cells.milliseconds(Double($0)) } ?? "not reached" } ?? "-"
        let stateRole: Role = switch run.state {
        case .finished: .ok
        case .running: .accent
        case .partial: .warning
        case .failed: .error
        }
        let cells = [
            TableCell("\(run.id)", role: .dim), TableCell(run.endpoint), TableCell(Cells.label(run.version)),
            TableCell(run.target), TableCell(run.state.rawValue, role: stateRole),
            TableCell(Cells.milliseconds(figures?.warm?.p50Ms)), TableCell(Cells.milliseconds(figures?.warm?.p99Ms)),
            TableCell(Cells.milliseconds(figures?.cold?.totalMs), role: figures?.cold?.coldStart == true ? .warning : nil),
            TableCell(scale), TableCell(lukeWarm(figures?.lukeWarm)), TableCell(Format.dollars(micros: run.costMicros)),
            TableCell(Cells.stamp(run.startedAt), role: .dim),
        ]
        let sortValues: [SortValue] = [
            .number(Double(run.id)), .text(run.endpoint), .text(run.version), .text(run.target), .text(run.state.rawValue),
            figures?.warm.map { .number($0.p50Ms) } ?? .missing, figures?.warm.map { .number($0.p99Ms) } ?? .missing,
            figures?.cold.map { .number($0.totalMs) } ?? .missing,
            figures?.scale?.timeToScaleMs.map { .number(Double($0)) } ?? .missing, .missing,
            .number(Double(run.costMicros)), .number(run.startedAt.timeIntervalSince1970),
        ]
        return TableRow(id: "\(run.id)", cells: cells, sortValues: sortValues, role: run.partial ? .dim : .normal)
    }

    /// `1m:0% 5m:100%`: the share of first requests that were cold after each gap.
    static func lukeWarm(_ curve: [BenchFigures.LukeWarm]?) -> String {
        guard let curve, !curve.isEmpty else { return "-" }
        return curve.map { "\(Format.duration(milliseconds: $0.gapMs)):\(Int(($0.coldShare * 100).rounded()))%" }.joined(separator: " ")
    }
}

extension Dashboard {
    /// The endpoint detail's bench section: its latest run, phase by phase.
    func benchLines(_ run: BenchRun?) -> [[Segment]] {
        var lines: [[Segment]] = [[], [("Bench", .title), ("  (modeldeck bench \(run?.endpoint ?? "ENDPOINT"); bench traffic is kept out of the figures above)", .dim)]]
        guard let run else {
            lines.append([("  no bench run yet", .dim)])
            return lines
        }
        let figures = run.figures ?? BenchFigures()
        lines.append([("  #\(run.id) \(Cells.label(run.version)) · \(run.state.rawValue) · \(Cells.stamp(run.startedAt))", run.partial ? .warning : .normal),
                      (" · bench cost \(Format.dollars(micros: run.costMicros))", .dim)])
        if let cold = figures.cold {
            var split = ""
            if let process = cold.processStartMs, let load = cold.modelLoadMs {
                split = " (process \(Cells.milliseconds(Double(process))), model load \(Cells.milliseconds(Double(load))), first answer \(Cells.milliseconds(cold.firstAnswerMs)))"
            }
            lines.append([("  cold       ".padded(13), .dim), ("\(Cells.milliseconds(cold.totalMs))\(split)", cold.coldStart ? .warning : .normal)])
        }
        if let warm = figures.warm {
            lines.append([("  warm".padded(13), .dim),
                          ("p50 \(Cells.milliseconds(warm.p50Ms)) · p95 \(Cells.milliseconds(warm.p95Ms)) · p99 \(Cells.milliseconds(warm.p99Ms)) · max \(Cells.milliseconds(warm.maxMs))", .normal),
                          (" · \(warm.requests) req at \(Cells.rate(run.plan.rate))/s, \(warm.errors) errors", warm.errors > 0 ? .error : .dim)])
        }
        if let scale = figures.scale {
            let time = scale.timeToScaleMs.map { "\(Cells.milliseconds(Double($0))) to \(Cells.rate(scale.toRate))/s" } ?? "\(Cells.rate(scale.toRate))/s not reached"
            lines.append([("  scale".padded(13), .dim), (time, scale.timeToScaleMs == nil ? .warning : .normal),
                          (" · \(scale.instancesStarted) instances started, \(scale.coldStarts) cold starts", .dim)])
        }
        if let curve = figures.lukeWarm, !curve.isEmpty {
            lines.append([("  luke-warm".padded(13), .dim), (curve.map { "after \(Format.duration(milliseconds: $0.gapMs)) \(Int(($0.coldShare * 100).rounded()))% cold" }.joined(separator: " · "), .normal)])
        }
        return lines
    }
}
