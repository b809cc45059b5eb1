import ArgumentParser
import Foundation
import ModelDeckCore
import ModelDeckTUI

/// `modeldeck-bench tui-frame`: the dashboard at 10, 1,000 and 10,000 endpoints, each with five minutes of
/// 10-second metric buckets. Prints, per size: loading a snapshot from the registry (done off the drawing
/// thread), building the rows (once per snapshot), and a frame — laying out the screen, and a keypress
/// that re-sorts or re-filters every row then lays out again. Goal: a frame ≤ 16 ms at 10,000.
struct TUIFrameBenchmark: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "tui-frame", abstract: "Dashboard frame time at 10 / 1,000 / 10,000 endpoints.")

    @Option(help: "Endpoint counts, comma-separated.")
    var sizes = "10,1000,10000"

    @Option(help: "Frames measured per size (the median and p99 are printed).")
    var frames = 200

    @Option(help: "Terminal size the frame is laid out for, WIDTHxHEIGHT.")
    var screen = "160x48"

    func run() throws {
        let parts = screen.split(separator: "x").compactMap { Int($0) }
        guard parts.count == 2, parts[0] >= 80, parts[1] >= 24 else { throw ValidationError("--screen \(screen): expected WIDTHxHEIGHT, at least 80x24") }
        print("size     load ms  rows ms  frame p50  frame p99  sort-key p50  filter-key p50  RSS MB")
        for size in sizes.split(separator: ",").compactMap({ Int($0) }) {
            let folder = NSTemporaryDirectory() + "modeldeck-bench-tui-\(getpid())-\(size)"
            defer { try? FileManager.default.removeItem(atPath: folder) }
            let registry = try Registry(path: folder + "/registry.sqlite")
            let now = Date()
            try seed(registry, endpoints: size, now: now)

            var loads: [Double] = []
            var data: DashboardData?
            for _ in 0..<5 {
                let watch = Stopwatch()
                data = try DashboardData.load(registry, now: now)
                loads.append(watch.milliseconds)
            }
            guard let data else { continue }
            let build = Stopwatch()
            var dashboard = Dashboard(data: data, now: now)
            let rowsMs = build.milliseconds

            var frameTimes: [Double] = []
            for _ in 0..<frames {
                let watch = Stopwatch()
                var screen = Screen(width: parts[0], height: parts[1])
                dashboard.render(into: &screen)
                frameTimes.append(watch.milliseconds)
            }
            var sortTimes: [Double] = []
            for index in 0..<max(10, frames / 10) {
                let watch = Stopwatch()
                dashboard.handle(.character(["P", "R", "E", "N"][index % 4]))
                var screen = Screen(width: parts[0], height: parts[1])
                dashboard.render(into: &screen)
                sortTimes.append(watch.milliseconds)
            }
            dashboard.handle(.character("/"))
            var filterTimes: [Double] = []
            for index in 0..<max(10, frames / 10) {
                let watch = Stopwatch()
                dashboard.handle(index % 2 == 0 ? .character("7") : .backspace)
                var screen = Screen(width: parts[0], height: parts[1])
                dashboard.render(into: &screen)
                filterTimes.append(watch.milliseconds)
            }
            frameTimes.sort(); sortTimes.sort(); filterTimes.sort(); loads.sort()
            print(String(format: "%-8d %7.1f  %7.1f  %9.2f  %9.2f  %12.2f  %14.2f  %6.0f", size, percentile(loads, 50), rowsMs,
                         percentile(frameTimes, 50), percentile(frameTimes, 99), percentile(sortTimes, 50), percentile(filterTimes, 50),
                         Double(residentBytes()) / 1_048_576))
        }
        print("load runs on a background queue when the registry changes (at most once a second); rows are built once per load.")
    }

    /// `count` endpoints on one local target, each with 30 ten-second buckets (the last five minutes) of
    /// traffic, written through the registry's own operations (a deck applied, then measured buckets merged).
    private func seed(_ registry: Registry, endpoints count: Int, now: Date) throws {
        let nowSeconds = Int64(now.timeIntervalSince1970) / 10 * 10
        var deck = Deck()
        deck.targets.append(Declared(Target(name: "local", kind: .local), at: "bench"))
        deck.models.append(Declared(Model(name: "m"), at: "bench"))
        for version in ["v1", "v2"] {
            deck.versions.append(Declared(ModelVersion(model: "m", version: version, digest: "sha256:00", sizeBytes: 1, command: ["true"],
                                                       memoryMB: 256), at: "bench"))
        }
        var random = SystemRandomNumberGenerator()
        var batch: [MetricBucket.Key: MetricBucket] = [:]
        for index in 0..<count {
            let name = String(format: "endpoint-%05d", index)
            let canary = index % 7 == 0
            deck.endpoints.append(Declared(EndpointDeclaration(
                endpoint: Endpoint(name: name, model: "m", target: "local", memoryMB: 256, production: index % 10 == 0),
                traffic: canary ? ["v1": 90, "v2": 10] : ["v1": 100]), at: "bench"))
            for step in 0..<30 {
                var bucket = MetricBucket()
                bucket.requests = Int64.random(in: 5...50, using: &random)
                bucket.errors = Int64.random(in: 0...1, using: &random)
                for _ in 0..<bucket.requests { bucket.latency.record(microseconds: UInt64.random(in: 2_000...400_000, using: &random)) }
                bucket.costMicros = bucket.requests * 3
                batch[MetricBucket.Key(endpoint: name, version: "m@v1", start: nowSeconds - Int64(step) * 10, width: 10)] = bucket
            }
        }
        try DeckApplier.apply(deck, to: registry, source: "bench", actor: "bench")
        try registry.merge(batch)
    }
}
