import ArgumentParser
import Foundation

/// `modeldeck-bench`: one subcommand per benchmark. Each prints its figures, with a baseline measured in
/// the same run where one makes sense, and asserts nothing: tests never time anything.
@main
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "modeldeck-bench",
        abstract: "ModelDeck's benchmarks; run them with `swift run -c release modeldeck-bench <name>`.",
        subcommands: benchmarks
    )
}

/// Wall-clock stopwatch for benchmarks (monotonic).
struct Stopwatch {
    private let start = ContinuousClock.now
    var elapsed: Duration { ContinuousClock.now - start }
    var milliseconds: Double {
        let parts = elapsed.components
        return Double(parts.seconds) * 1_000 + Double(parts.attoseconds) / 1e15
    }
}

/// Percentile of already sorted samples (nearest rank).
func percentile(_ sorted: [Double], _ p: Double) -> Double {
    guard !sorted.isEmpty else { return .nan }
    let rank = Int((p / 100 * Double(sorted.count)).rounded(.up))
    return sorted[max(0, min(sorted.count - 1, rank - 1))]
}

/// Resident set size of this process in bytes, from /proc/self/statm.
func residentBytes() -> Int64 {
    guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
    let fields = text.split(separator: " ")
    guard fields.count > 1, let pages = Int64(fields[1]) else { return 0 }
    return pages * Int64(sysconf(Int32(_SC_PAGESIZE)))
}
