import ArgumentParser
import Foundation
import ModelDeckCore
import ModelDeckTUI

/// `modeldeck-bench tui-frame`: the dashboard at 10, 1,000 and 10,000 endpoints (100,000 on request), each
/// with five minutes of 10-second metric buckets. Prints, per size: loading a snapshot from the registry
/// (done off the drawing thread; wall clock and this process's CPU time, since the machine may be shared),
/// building the rows (once per snapshot), and a frame — laying out the screen, and a keypress that re-sorts
/// or re-filters every row then lays out again. Goals (issue #20): at 10,000 endpoints a snapshot ≤ 50 ms,
/// RSS ≤ 150 MB, every key ≤ 16 ms; at 100,000 a snapshot ≤ 500 ms, RSS ≤ 400 MB.
///
/// Then it checks that nothing is lost on the way: for a sample of endpoints, the dashboard's row shows the
/// figures `modeldeck get endpoints -o json` gives (`Registry.listEndpoints(window:)`, the same function)
/// over the same windows. With `--baseline`, an earlier release build's `tui-frame` runs each size in the
/// same run and each figure is also printed as a ratio to it.
struct TUIFrameBenchmark: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "tui-frame", abstract: "Dashboard frame time at 10 / 1,000 / 10,000 endpoints.")

    @Option(help: "Endpoint counts, comma-separated.")
    var sizes = "10,1000,10000"

    @Option(help: "Frames measured per size (the median and p99 are printed).")
    var frames = 200

    @Option(help: "Terminal size the frame is laid out for, WIDTHxHEIGHT.")
    var screen = "160x48"

    @Option(help: ArgumentHelp("Keep each seeded registry in this folder (registry-SIZE.sqlite) and reuse it in later runs; open one with `modeldeck --registry`. A run writes into a copy of it (run-SIZE.sqlite, removed after), so every run starts from the registry as seeded.", valueName: "folder"))
    var keep: String?

    @Option(help: ArgumentHelp("An earlier release build of modeldeck-bench: its tui-frame runs each size (up to --baseline-max) in the same run, for ratios.", valueName: "path"))
    var baseline: String?

    @Option(help: "Largest size the baseline is run at (an earlier build may take minutes at 100,000).")
    var baselineMax = 10_000

    @Option(help: "Endpoints checked against `get endpoints -o json` per size.")
    var sample = 100

    @Option(help: "Steady refreshes measured per size, each one second after the one before.")
    var refreshes = 20

    @Option(help: "Share of the endpoints whose current bucket is written between two refreshes (the recorder's flush).")
    var active = 0.1

    @Option(help: "Full reads of the windows measured per size (the path without rolling windows: `get`, the API).")
    var fullLoads = 5

    @Option(help: ArgumentHelp("SQLite's mmap_size on the dashboard's read-only connection, in MB (0: pages copied, SQLite's default).", valueName: "MB"))
    var mmap: Int64?

    func validate() throws {
        guard frames >= 1, frames <= 100_000 else { throw ValidationError("--frames \(frames): expected 1 to 100,000") }
        guard sample >= 0 else { throw ValidationError("--sample \(sample): expected 0 or more") }
        guard (1...10_000).contains(refreshes) else { throw ValidationError("--refreshes \(refreshes): expected 1 to 10,000") }
        guard (0...1).contains(active) else { throw ValidationError("--active \(active): expected a share from 0 to 1") }
        guard (1...100).contains(fullLoads) else { throw ValidationError("--full-loads \(fullLoads): expected 1 to 100") }
        let counts = sizes.split(separator: ",").map { Int($0) }
        guard !counts.isEmpty, counts.allSatisfy({ ($0 ?? 0) >= 1 && ($0 ?? 0) <= 1_000_000 }) else {
            throw ValidationError("--sizes \(sizes): expected endpoint counts from 1 to 1,000,000, comma-separated")
        }
        if let baseline, !FileManager.default.isExecutableFile(atPath: baseline) {
            throw ValidationError("--baseline \(baseline): not an executable file")
        }
    }

    func run() throws {
        let parts = screen.split(separator: "x").compactMap { Int($0) }
        guard parts.count == 2, parts[0] >= 80, parts[1] >= 24 else { throw ValidationError("--screen \(screen): expected WIDTHxHEIGHT, at least 80x24") }
        let header = "size     load ms  rows ms  frame p50  frame p99  sort-key p50  filter-key p50  RSS MB"
        print("         " + header + "  load cpu ms")
        for size in sizes.split(separator: ",").compactMap({ Int($0) }) {
            let figures = try measure(size: size, width: parts[0], height: parts[1])
            print("after    " + figures.line + String(format: "  %11.1f", figures.loadCPU))
            guard let baseline, size <= baselineMax else { continue }
            let output = try baselineOutput(baseline, size: size, copy: figures.baselineCopy)
            for line in output where line.hasPrefix("refresh ") || line.hasPrefix("memory ") || line.hasPrefix("check ") {
                print("before   " + line)
            }
            if let refresh = output.first(where: { $0.hasPrefix("refresh ") }), let before = Self.refreshFigures(refresh),
               let after = figures.refresh {
                print(String(format: "ratio    %-8d first load %.3f× (cpu %.3f×); steady refresh p50 %.3f× (cpu p50 %.3f×); RSS after the refreshes %.2f×",
                             size, after.first / before.first, after.firstCPU / before.firstCPU, after.p50 / before.p50,
                             after.cpuP50 / before.cpuP50, after.rss / before.rss))
            }
            // Its figures line (`after    SIZE …` in its own output; `SIZE …` in older builds).
            let figuresLine = output.map { $0.hasPrefix("after ") ? String($0.dropFirst(6).drop { $0 == " " }) : $0 }
            if let before = figuresLine.first(where: { $0.hasPrefix("\(size) ") }) {
                print("before   " + before)
                let values = before.split(separator: " ").compactMap { Double($0) }
                if values.count >= 8 {
                    print("ratio    " + String(format: "%-8d %6.3f×  %6.3f×  %8.2f×  %8.2f×  %11.2f×  %13.2f×  %5.2f×", size,
                                                   figures.load / values[1], figures.rows / values[2], figures.frameP50 / values[3],
                                                   figures.frameP99 / values[4], figures.sortKey / values[5], figures.filterKey / values[6],
                                                   figures.residentMB / values[7]))
                }
            } else {
                print("before   \(size): the baseline printed no figures for this size")
            }
        }
        print("load ms: a full read of the windows (what `get` and the API do; the dashboard before rolling windows), median of --full-loads.")
        print("refresh: the dashboard's own loads, the first a full read into its rolling windows, then steady refreshes that read only what changed.")
        print("loads run on a background queue when the registry changes (at most once a second); rows are built once per load.")
        print("RSS is the whole process's after the first load and the refreshes (before the full reads), seeding included unless a kept registry was reused.")
    }

    struct Figures {
        var load, loadCPU, rows, frameP50, frameP99, sortKey, filterKey, residentMB: Double
        var size: Int
        /// The dashboard's own loads: the first, and the steady refreshes' medians.
        var refresh: RefreshFigures?
        /// A copy of the registry as seeded, before this run wrote to it, for the baseline to read.
        var baselineCopy: String?

        var line: String {
            String(format: "%-8d %7.1f  %7.1f  %9.2f  %9.2f  %12.2f  %14.2f  %6.0f", size, load, rows, frameP50, frameP99, sortKey, filterKey, residentMB)
        }
    }

    private func measure(size: Int, width: Int, height: Int) throws -> Figures {
        let folder = keep ?? (NSTemporaryDirectory() + "modeldeck-bench-tui-\(getpid())-\(size)")
        defer { if keep == nil { try? FileManager.default.removeItem(atPath: folder) } }
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let path = folder + "/registry-\(size).sqlite"
        let stampPath = path + ".seeded-at"
        var now: Date
        if keep != nil, let stamp = try? String(contentsOfFile: stampPath, encoding: .utf8), let seconds = Double(stamp) {
            now = Date(timeIntervalSince1970: seconds)
            print("reusing \(path) (seeded at \(Int64(seconds)); figures read as of then)")
        } else {
            try? FileManager.default.removeItem(atPath: path)
            let seeding = try Registry(path: path)
            now = Date()
            try seed(seeding, endpoints: size, now: now)
            try seeding.checkpoint()
            try String(now.timeIntervalSince1970).write(toFile: stampPath, atomically: true, encoding: .utf8)
        }
        // The run writes the recorder's flushes: into a copy, so that the registry stays as seeded and every run
        // on it starts from the same one (written into, a kept registry's RSS grew from 145 to 171 MB in an
        // evening of runs, issue #20).
        let runPath = folder + "/run-\(size).sqlite"
        let runFiles = [runPath, runPath + "-wal", runPath + "-shm"]
        for file in runFiles { try? FileManager.default.removeItem(atPath: file) }
        defer { for file in runFiles { try? FileManager.default.removeItem(atPath: file) } }
        try Self.copyRegistry(path, to: runPath)
        let registry = try Registry(path: runPath, create: false)

        // The dashboard's own path first: the first snapshot (a full read into the rolling windows), then
        // steady refreshes one second apart, the recorder's flush written between them.
        // The baseline reads the same registry as seeded (a copy, before the flushes below write to it).
        var baselineCopy: String?
        if baseline != nil, size <= baselineMax {
            let copyFolder = folder + "/baseline"
            try? FileManager.default.removeItem(atPath: copyFolder)
            try FileManager.default.createDirectory(atPath: copyFolder, withIntermediateDirectories: true)
            try Self.copyRegistry(path, to: copyFolder + "/registry-\(size).sqlite")
            try String(now.timeIntervalSince1970).write(toFile: copyFolder + "/registry-\(size).sqlite.seeded-at", atomically: true, encoding: .utf8)
            baselineCopy = copyFolder
        }
        let openedRSS = Double(residentBytes()) / 1_048_576
        // The dashboard reads through a read-only connection of its own, as `modeldeck` does.
        let dashboardRegistry = try Registry(path: runPath, create: false, readOnly: true,
                                             mmapBytes: (mmap ?? DashboardData.mmapBytes / 1_048_576) * 1_048_576)
        var rolling: RollingFigures? = RollingFigures.dashboard
        let coldWatch = Stopwatch()
        let coldCPUBefore = Self.processCPUMilliseconds()
        var data = try DashboardData.load(dashboardRegistry, now: now, rolling: &rolling)
        let cold = coldWatch.milliseconds, coldCPU = Self.processCPUMilliseconds() - coldCPUBefore
        let firstRSS = Double(residentBytes()) / 1_048_576
        var refreshTimes: [Double] = [], refreshCPU: [Double] = []
        // The refreshes whose windows' starts crossed a 10-second bucket edge (every window is a whole number of
        // buckets long): the straddlers that ended there leave each window. The refresh after one reads the
        // buckets that came to straddle the starts (one per endpoint version and window): timed apart too.
        var edgeTimes: [Double] = [], afterEdgeTimes: [Double] = [], otherTimes: [Double] = []
        var random = SplitMix64(seed: 0x20_2612)
        let written = Int((Double(size) * active).rounded())
        var later = now
        for _ in 0..<refreshes {
            later += 1
            let seconds = Int64(later.timeIntervalSince1970)
            var flush: [MetricBucket.Key: MetricBucket] = [:]
            for _ in 0..<written {
                var bucket = MetricBucket()
                bucket.requests = Int64.random(in: 1...10, using: &random)
                for _ in 0..<bucket.requests { bucket.latency.record(microseconds: UInt64.random(in: 2_000...400_000, using: &random)) }
                bucket.costMicros = bucket.requests * 3
                bucket.maxInFlight = Int64.random(in: 1...4, using: &random)
                let name = Self.name(Int.random(in: 0..<size, using: &random))
                flush[MetricBucket.Key(endpoint: name, version: "m@v1", start: seconds / 10 * 10, width: 10)] = bucket
            }
            try registry.merge(flush)
            let watch = Stopwatch()
            let cpuBefore = Self.processCPUMilliseconds()
            data = try DashboardData.load(dashboardRegistry, now: later, rolling: &rolling)
            refreshTimes.append(watch.milliseconds)
            refreshCPU.append(Self.processCPUMilliseconds() - cpuBefore)
            switch seconds % 10 {
            case 0: edgeTimes.append(watch.milliseconds)
            case 1: afterEdgeTimes.append(watch.milliseconds)
            default: otherTimes.append(watch.milliseconds)
            }
        }
        refreshTimes.sort(); refreshCPU.sort(); edgeTimes.sort(); afterEdgeTimes.sort(); otherTimes.sort()
        let rollingRSS = Double(residentBytes()) / 1_048_576
        let refreshLine = String(format: "refresh  %-8d first load %.1f ms (cpu %.1f ms); steady refresh p50 %.1f ms, p99 %.1f ms (cpu p50 %.1f ms), %d refreshes with %d bucket writes before each; RSS %.0f MB",
                                 size, cold, coldCPU, percentile(refreshTimes, 50), percentile(refreshTimes, 99), percentile(refreshCPU, 50),
                                 refreshes, written, rollingRSS)
        print(refreshLine)
        if !edgeTimes.isEmpty {
            let after = afterEdgeTimes.isEmpty ? "" : String(format: "; the %d just after (reading what came to straddle): median %.1f ms",
                                                            afterEdgeTimes.count, percentile(afterEdgeTimes, 50))
            print(String(format: "edges    %-8d %d refreshes crossed a bucket edge: median %.1f ms", size, edgeTimes.count, percentile(edgeTimes, 50))
                  + after + String(format: "; the other %d: median %.1f ms", otherTimes.count, percentile(otherTimes, 50)))
        }
        print(String(format: "memory   %-8d RSS %.0f MB with the registry open (seeded in this process unless reused), %.0f MB after the first load, %.0f MB after the refreshes",
                     size, openedRSS, firstRSS, rollingRSS))
        if sample > 0 { try check(data, registry: registry, now: later) }

        // The full read (no rolling windows), as `get` and the API read their window, for comparison.
        var loads: [Double] = []
        var cpu: [Double] = []
        for _ in 0..<fullLoads {
            let watch = Stopwatch()
            let cpuBefore = Self.processCPUMilliseconds()
            _ = try DashboardData.load(registry, now: later)
            loads.append(watch.milliseconds)
            cpu.append(Self.processCPUMilliseconds() - cpuBefore)
        }
        now = later
        let build = Stopwatch()
        var dashboard = Dashboard(data: data, now: now)
        let rowsMs = build.milliseconds
        print(String(format: "memory   %-8d RSS %.0f MB after the full reads, with the rows built", size, Double(residentBytes()) / 1_048_576))

        var frameTimes: [Double] = []
        for _ in 0..<frames {
            let watch = Stopwatch()
            var screen = Screen(width: width, height: height)
            dashboard.render(into: &screen)
            frameTimes.append(watch.milliseconds)
        }
        var sortTimes: [Double] = []
        for index in 0..<max(10, frames / 10) {
            let watch = Stopwatch()
            dashboard.handle(.character(["P", "R", "E", "N"][index % 4]))
            var screen = Screen(width: width, height: height)
            dashboard.render(into: &screen)
            sortTimes.append(watch.milliseconds)
        }
        dashboard.handle(.character("/"))
        var filterTimes: [Double] = []
        for index in 0..<max(10, frames / 10) {
            let watch = Stopwatch()
            dashboard.handle(index % 2 == 0 ? .character("7") : .backspace)
            var screen = Screen(width: width, height: height)
            dashboard.render(into: &screen)
            filterTimes.append(watch.milliseconds)
        }
        frameTimes.sort(); sortTimes.sort(); filterTimes.sort(); loads.sort(); cpu.sort()
        let figures = Figures(load: percentile(loads, 50), loadCPU: percentile(cpu, 50), rows: rowsMs, frameP50: percentile(frameTimes, 50),
                              frameP99: percentile(frameTimes, 99), sortKey: percentile(sortTimes, 50), filterKey: percentile(filterTimes, 50),
                              residentMB: rollingRSS, size: size, refresh: Self.refreshFigures(refreshLine), baselineCopy: baselineCopy)
        return figures
    }

    /// Compares the dashboard's rows for a sample of endpoints with what `get endpoints -o json` reads over
    /// the same windows, and prints whether every figure matches.
    private func check(_ data: DashboardData, registry: Registry, now: Date) throws {
        let rows = data.endpoints
        let step = max(1, rows.count / max(1, sample))
        let sampled = stride(from: 0, to: rows.count, by: step).prefix(sample).map { rows[$0] }
        func listed(_ seconds: Int64) throws -> [String: Listings.LiveRow] {
            var result: [String: Listings.LiveRow] = [:]
            for row in try registry.listEndpoints(window: LiveWindow(last: seconds, now: now)) { result[row.name] = row.live }
            return result
        }
        let recent = try listed(EndpointSummary.recentSeconds), minute = try listed(60), hour = try listed(3_600)
        var mismatches: [String] = []
        for summary in sampled {
            guard let five = recent[summary.name]?.figures, let one = minute[summary.name]?.figures, let sixty = hour[summary.name]?.figures,
                  let today = recent[summary.name]?.todayMicros else {
                mismatches.append("\(summary.name): not listed by get endpoints")
                continue
            }
            let observed = five.observed
            let pairs: [(String, Double?, Double?)] = [
                ("requests", Double(summary.recentRequests), Double(five.requests)), ("errors", Double(summary.recentErrors), Double(five.errors)),
                ("p50", summary.p50Milliseconds, observed.p50Milliseconds), ("p99", summary.p99Milliseconds, observed.p99Milliseconds),
                ("req/s", summary.requestsPerSecond, one.requestsPerSecond), ("$/h", Double(summary.burnMicrosPerHour), Double(five.burnMicrosPerHour)),
                ("cold 1h", Double(summary.coldStartsLastHour), Double(sixty.observed.coldStarts)),
                ("today", Double(summary.todayMicros), Double(today)),
            ]
            for (name, shown, listed) in pairs where !Self.same(shown, listed) {
                mismatches.append("\(summary.name) \(name): dashboard \(shown.map { "\($0)" } ?? "-"), get \(listed.map { "\($0)" } ?? "-")")
            }
        }
        print("check    \(rows.count) endpoints, \(sampled.count) sampled against get endpoints -o json (5m, 1m, 1h): "
              + (mismatches.isEmpty ? "all figures match" : "\(mismatches.count) MISMATCHES: " + mismatches.prefix(5).joined(separator: "; ")))
    }

    /// Equal, up to the last bits of a rate summed in another order.
    static func same(_ a: Double?, _ b: Double?) -> Bool {
        guard let a, let b else { return a == nil && b == nil }
        return abs(a - b) <= max(abs(a), abs(b)) * 1e-9
    }

    static func processCPUMilliseconds() -> Double {
        var spec = timespec()
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &spec)
        return Double(spec.tv_sec) * 1_000 + Double(spec.tv_nsec) / 1e6
    }

    /// What an earlier build's `tui-frame` prints for `size` (its own process, the same flags), reading a copy
    /// of the registry this run seeded (`copy`) when it has one.
    func baselineOutput(_ binary: String, size: Int, copy: String?) throws -> [String] {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["tui-frame", "--sizes", "\(size)", "--frames", "\(frames)", "--screen", screen, "--refreshes", "\(refreshes)",
                             "--active", "\(active)", "--full-loads", "\(fullLoads)", "--sample", "\(sample)"] + (copy.map { ["--keep", $0] } ?? [])
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return output.split(separator: "\n").map(String.init)
    }

    struct RefreshFigures {
        var first, firstCPU, p50, cpuP50, rss: Double
    }

    /// The figures of a `refresh` line (this build's or the baseline's).
    static func refreshFigures(_ line: String) -> RefreshFigures? {
        func number(after marker: String) -> Double? {
            guard let range = line.range(of: marker) else { return nil }
            return Double(line[range.upperBound...].prefix { $0.isNumber || $0 == "." })
        }
        guard let first = number(after: "first load "), let firstCPU = number(after: "(cpu "), let p50 = number(after: "steady refresh p50 "),
              let cpuP50 = number(after: "(cpu p50 "), let rss = number(after: "; RSS ") else { return nil }
        return RefreshFigures(first: first, firstCPU: firstCPU, p50: p50, cpuP50: cpuP50, rss: rss)
    }

    /// `count` endpoints on one local target, each with 30 ten-second buckets (the last five minutes) of
    /// traffic: a deck applied through the registry's own operation, then the buckets written in one bulk
    /// transaction (`Registry.seedBuckets`), each a copy of one of 256 sampled buckets — at 100,000 endpoints,
    /// merging 3 million buckets one by one would take most of the run.
    /// Copies a registry file with its write-ahead log, if it has one (what was committed but not yet
    /// checkpointed into the file).
    private static func copyRegistry(_ path: String, to copy: String) throws {
        try FileManager.default.copyItem(atPath: path, toPath: copy)
        if FileManager.default.fileExists(atPath: path + "-wal") { try FileManager.default.copyItem(atPath: path + "-wal", toPath: copy + "-wal") }
    }

    private func seed(_ registry: Registry, endpoints count: Int, now: Date) throws {
        let nowSeconds = Int64(now.timeIntervalSince1970) / 10 * 10
        var deck = Deck()
        deck.targets.append(Declared(Target(name: "local", kind: .local), at: "bench"))
        deck.models.append(Declared(Model(name: "m"), at: "bench"))
        for version in ["v1", "v2"] {
            deck.versions.append(Declared(ModelVersion(model: "m", version: version, digest: "sha256:00", sizeBytes: 1, command: ["true"],
                                                       memoryMB: 256), at: "bench"))
        }
        for index in 0..<count {
            let canary = index % 7 == 0
            deck.endpoints.append(Declared(EndpointDeclaration(
                endpoint: Endpoint(name: Self.name(index), model: "m", target: "local", memoryMB: 256, production: index % 10 == 0),
                traffic: canary ? ["v1": 90, "v2": 10] : ["v1": 100]), at: "bench"))
        }
        try DeckApplier.apply(deck, to: registry, source: "bench", actor: "bench")
        var random = SplitMix64(seed: 0x20_2026)   // the same fleet at every run, and no system call per number
        let prototypes = (0..<256).map { _ in
            var bucket = MetricBucket()
            bucket.requests = Int64.random(in: 5...50, using: &random)
            bucket.errors = Int64.random(in: 0...1, using: &random)
            for _ in 0..<bucket.requests { bucket.latency.record(microseconds: UInt64.random(in: 2_000...400_000, using: &random)) }
            bucket.costMicros = bucket.requests * 3
            // As the recorder writes them: every bucket with requests has had one in flight at least.
            bucket.maxInFlight = Int64.random(in: 1...4, using: &random)
            return bucket
        }
        try registry.seedBuckets(endpoints: (0..<count).map(Self.name), version: "m@v1", end: nowSeconds + 10, steps: 30, width: 10,
                                 prototypes: prototypes)
    }

    static func name(_ index: Int) -> String { String(format: "endpoint-%05d", index) }
}
