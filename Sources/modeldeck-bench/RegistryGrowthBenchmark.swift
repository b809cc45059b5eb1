import ArgumentParser
import Foundation
import Synchronization
import ModelDeckCore
import ModelDeckTUI

/// `modeldeck-bench registry-growth`: simulated days of metric buckets for a fleet of busy endpoints,
/// written through the registry's own API (`MetricBucket.merge(into:)` for every 10-second bucket, the
/// daemon's rollup once a simulated hour), no real traffic. Prints:
/// - the registry's size per endpoint version, against the goal of at most 5 MB for 30 days at 100 req/s,
///   measured for the simulated days and projected to 30 days from the measured bytes per row of each tier;
/// - the time to load the dashboard snapshot, against a bare read of the same rows (no decoding);
/// - the worst relative error of p50, p95 and p99 against the exact percentiles of the same requests, for
///   single 10-second buckets, an endpoint's last hour, and its whole history (every tier merged).
///
/// The full size (1,000 endpoints × 30 days = 259 million bucket writes) takes hours; `--endpoints` and
/// `--days` scale it down, and every figure says whether it was measured or projected.
struct RegistryGrowthBenchmark: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "registry-growth",
                                                    abstract: "Registry size, snapshot load and percentile error after simulated days of busy endpoints.")

    @Option(help: "Busy endpoints (one version each).")
    var endpoints = 1_000

    @Option(help: "Simulated days of history.")
    var days = 30

    @Option(help: "User requests per second per endpoint.")
    var rate = 100

    @Flag(help: "Roll up without the daemon's checkpoint after each rollup (to see the WAL grow under a reader).")
    var noCheckpoint = false

    @Option(help: "Folder for the registry (default: a temporary folder, removed afterwards).")
    var folder: String?

    static let goalBytesPerEndpointVersion = 5.0 * 1_048_576
    static let percentiles = [50.0, 95.0, 99.0]

    func validate() throws {
        guard (1...100_000).contains(endpoints) else { throw ValidationError("--endpoints \(endpoints): expected 1 to 100,000") }
        guard (1...400).contains(days) else { throw ValidationError("--days \(days): expected 1 to 400") }
        guard (1...100_000).contains(rate) else { throw ValidationError("--rate \(rate): expected 1 to 100,000 requests/s") }
    }

    func run() throws {
        let base = folder ?? NSTemporaryDirectory() + "modeldeck-bench-growth-\(getpid())"
        defer { if folder == nil { try? FileManager.default.removeItem(atPath: base) } }
        try? FileManager.default.removeItem(atPath: base + "/registry.sqlite")
        let registry = try Registry(path: base + "/registry.sqlite")
        let names = (0..<endpoints).map { String(format: "endpoint-%05d", $0) }
        try seedFleet(registry, names: names)

        // A pool of sampled 10-second buckets per latency profile; each bucket written picks one at random, and
        // the picks are counted so the exact percentiles of everything written are known.
        var random = SplitMix64(seed: 0x22_2026)
        let perBucket = rate * 10
        let profiles = [15_000.0, 40_000, 120_000, 400_000]   // median latency, µs
        let pool = profiles.map { median in (0..<64).map { _ in SampledBucket(median: median, requests: perBucket, using: &random) } }

        let end = Int64(1_796_083_200)   // 2026-12-01 00:00 UTC: simulated "now" at the end
        let start = end - Int64(days) * 86_400
        var picks = Array(repeating: [Int](repeating: 0, count: 64), count: endpoints)   // whole history
        var lastHourPicks = picks
        let writing = Stopwatch()
        var rollupMs = 0.0
        // A dashboard loading snapshots back to back the whole time, as a TUI left open does: its read
        // transactions are what could keep checkpoints from resetting the WAL.
        let shared = ReaderState()
        let reader = Thread {
            while !shared.stop.withLock({ $0 }) {
                let now = Date(timeIntervalSince1970: TimeInterval(end))
                _ = try? DashboardData.load(registry, now: now)
                shared.snapshots.withLock { $0 += 1 }
            }
        }
        reader.start()
        var walPeak: Int64 = 0
        func walBytes() -> Int64 { ((try? FileManager.default.attributesOfItem(atPath: registry.path + "-wal"))?[.size] as? NSNumber)?.int64Value ?? 0 }
        for hour in stride(from: start, to: end, by: 3_600) {
            // An hour of every endpoint's buckets, merged in one transaction through the registry's API.
            var batch: [MetricBucket.Key: MetricBucket] = [:]
            for (index, name) in names.enumerated() {
                let profile = pool[index % profiles.count]
                for slot in stride(from: hour, to: hour + 3_600, by: 10) {
                    let pick = Int(random.next() % 64)
                    picks[index][pick] += 1
                    if hour == end - 3_600 { lastHourPicks[index][pick] += 1 }
                    batch[.init(endpoint: name, version: "m@v1", start: slot, width: 10)] = profile[pick].bucket
                }
            }
            try registry.merge(batch)
            walPeak = max(walPeak, walBytes())   // the hour's writes, before the daemon's minute comes round
            let rollup = Stopwatch()
            try Self.rollUp(registry, now: Date(timeIntervalSince1970: TimeInterval(hour + 3_600)), checkpoint: !noCheckpoint)
            rollupMs += rollup.milliseconds
            walPeak = max(walPeak, walBytes())
        }
        shared.stop.withLock { $0 = true }
        while !reader.isFinished { usleep(10_000) }
        let walAtEnd = walBytes()
        let writeSeconds = writing.milliseconds / 1_000
        try registry.checkpoint()
        let walLine = (String(format: "WAL with a dashboard reader loading snapshots throughout (%d loads): peak %.1f MB, %.1f MB at the end (before a truncating checkpoint)",
                     shared.snapshots.withLock { $0 }, Double(walPeak) / 1_048_576, Double(walAtEnd) / 1_048_576))

        // Size.
        let storage = try registry.storage()
        let perEndpoint = Double(storage.fileBytes) / Double(endpoints)
        let buckets = storage.tables.first { $0.name == "metric_buckets" }
        print("registry-growth: \(endpoints) endpoints × \(days) days at \(rate) req/s, \(endpoints * days * 8_640) bucket writes in \(String(format: "%.1f", writeSeconds)) s (rollups \(String(format: "%.1f", rollupMs / 1_000)) s)")
        print("tier     rows/endpoint   avg hist B   max hist B   bytes/row")
        let tableBytes = Double(buckets?.bytes ?? storage.fileBytes)
        let totalRows = Double(storage.tiers.reduce(0) { $0 + $1.rows })
        let histTotal = Double(storage.tiers.reduce(0) { $0 + $1.histogramBytes })
        // Row overhead (keys, counters, page slack) shared out evenly; histograms by their own size.
        let overheadPerRow = totalRows > 0 ? max(0, tableBytes - histTotal) / totalRows : 0
        var projected = 0.0
        var youngerSpan: Int64 = 0
        for (position, tier) in storage.tiers.enumerated() {
            let bytesPerRow = Double(tier.histogramBytes) / Double(max(1, tier.rows)) + overheadPerRow
            // A tier's span is what it covers now; the oldest tier covers whatever the younger ones do not.
            let span = position == storage.tiers.count - 1 ? 30 * 86_400 - youngerSpan : tier.newestStart + tier.widthSeconds - tier.oldestStart
            youngerSpan += span
            projected += Double(span / tier.widthSeconds) * bytesPerRow
            print(String(format: "%5d s  %13.0f  %11.0f  %11d  %10.0f", tier.widthSeconds, Double(tier.rows) / Double(endpoints),
                         Double(tier.histogramBytes) / Double(max(1, tier.rows)), tier.largestHistogramBytes, bytesPerRow))
        }
        print(String(format: "size measured: %.1f MB in all, %.2f MB per endpoint version for %d days (metric_buckets %.1f MB, WAL %.1f MB after checkpoint)",
                     Double(storage.fileBytes) / 1_048_576, perEndpoint / 1_048_576, days, tableBytes / 1_048_576, Double(storage.walBytes) / 1_048_576))
        print(String(format: "size projected to 30 days: %.2f MB per endpoint version = %.2f× the goal of 5 MB; %.1f GB for 1,000 endpoints",
                     projected / 1_048_576, projected / Self.goalBytesPerEndpointVersion, projected * 1_000 / 1_073_741_824))

        print(walLine)

        // Snapshot load, against a bare read of the same rows.
        let now = Date(timeIntervalSince1970: TimeInterval(end))
        var loads: [Double] = [], scans: [Double] = []
        var scanned = (rows: 0, bytes: 0)
        for _ in 0..<5 {
            let scan = Stopwatch()
            scanned = try registry.scanBuckets(endingAfter: end - 3_600)
            scans.append(scan.milliseconds)
            let load = Stopwatch()
            _ = try DashboardData.load(registry, now: now)
            loads.append(load.milliseconds)
        }
        loads.sort(); scans.sort()
        let load = percentile(loads, 50), scan = percentile(scans, 50)
        print(String(format: "snapshot load: %.1f ms median (%d buckets, %.1f MB of histograms) = %.1f× a bare read of the same rows (%.1f ms); at 1,000 endpoints ≈ %.0f ms",
                     load, scanned.rows, Double(scanned.bytes) / 1_048_576, load / max(scan, 0.001), scan, load * 1_000 / Double(endpoints))
              + (endpoints == 1_000 ? " (measured)" : " (projected, linear in rows)"))

        // Percentile error.
        var worst = ErrorReport()
        for profile in pool {
            for sample in profile {
                let decoded = try LatencyHistogram(encoded: sample.bucket.latency.encoded())
                worst.note("10 s bucket", decoded, exact: sample.sortedCounts())
            }
        }
        for index in 0..<min(endpoints, 8) {
            let profile = pool[index % profiles.count]
            let lastHour = try Self.merged(registry, endpoint: names[index], from: end - 3_600, to: end)
            worst.note("last hour", lastHour, exact: SampledBucket.combined(profile, picks: lastHourPicks[index]))
            let all = try Self.merged(registry, endpoint: names[index], from: start, to: end)
            worst.note("\(days)-day history", all, exact: SampledBucket.combined(profile, picks: picks[index]))
        }
        print("worst relative error vs exact percentiles   p50      p95      p99")
        for scope in worst.scopes {
            let errors = worst.errors[scope] ?? [:]
            print("  " + scope.padding(toLength: 40, withPad: " ", startingAt: 0)
                  + String(format: " %6.3f%%  %6.3f%%  %6.3f%%", (errors[50] ?? 0) * 100, (errors[95] ?? 0) * 100, (errors[99] ?? 0) * 100))
        }
    }

    /// What the daemon does (once a minute; here once a simulated hour): the tiered rollup, in bounded transactions.
    static func rollUp(_ registry: Registry, now: Date, checkpoint: Bool) throws {
        if checkpoint {
            try registry.maintain(now: now, tiers: .standard())
        } else {
            try registry.rollUpMetrics(now: now, tiers: .standard())
        }
    }

    /// Every stored latency histogram of `endpoint` whose bucket starts in [from, to), merged.
    static func merged(_ registry: Registry, endpoint: String, from: Int64, to: Int64) throws -> LatencyHistogram {
        try registry.buckets(endpoint: endpoint, startingFrom: from, to: to).reduce(into: LatencyHistogram()) { $0.add($1.latency) }
    }

    private func seedFleet(_ registry: Registry, names: [String]) throws {
        var deck = Deck()
        deck.targets.append(Declared(Target(name: "local", kind: .local), at: "bench"))
        deck.models.append(Declared(Model(name: "m"), at: "bench"))
        deck.versions.append(Declared(ModelVersion(model: "m", version: "v1", digest: "sha256:00", sizeBytes: 1, command: ["true"], memoryMB: 256),
                                      at: "bench"))
        for name in names {
            deck.endpoints.append(Declared(EndpointDeclaration(endpoint: Endpoint(name: name, model: "m", target: "local", memoryMB: 256),
                                                               traffic: [:]), at: "bench"))
        }
        try DeckApplier.apply(deck, to: registry, source: "bench", actor: "bench")
    }
}

/// What the bench shares with its dashboard reader thread.
final class ReaderState: Sendable {
    let stop = Mutex(false)
    let snapshots = Mutex(0)
}

/// One 10-second bucket of sampled requests: 97% log-normal around the profile's median (σ 0.6), 2.5% a
/// slow tail around 8× the median, 0.5% cold starts between 1.5 and 6 s; and the raw latencies, to rank.
struct SampledBucket {
    var bucket = MetricBucket()
    var raw: [UInt64] = []

    init(median: Double, requests: Int, using random: inout SplitMix64) {
        for _ in 0..<requests {
            let u = Double(random.next() % 1_000_000) / 1_000_000
            let micros: UInt64
            var cold = false
            if u < 0.005 {
                micros = UInt64(1_500_000 + Double(random.next() % 4_500_000))
                cold = true
            } else {
                let slow = u < 0.03
                micros = UInt64(max(1, (slow ? 8 * median : median) * exp((slow ? 0.5 : 0.6) * random.normal())))
            }
            raw.append(micros)
            bucket.latency.record(microseconds: micros)
            if cold {
                bucket.coldLatency.record(microseconds: micros)
                bucket.coldStarts += 1
            }
        }
        bucket.requests = Int64(requests)
        bucket.errors = Int64(random.next() % 3)
        bucket.maxInFlight = 4
        bucket.instances = 4
        bucket.mbMs = Int64(requests) * 256 * Int64(median / 1_000)
        bucket.costMicros = Int64(requests) * 3
    }

    /// (latency, count) in ascending order.
    func sortedCounts() -> [(UInt64, Int)] {
        Dictionary(raw.map { ($0, 1) }, uniquingKeysWith: +).sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
    }

    static func combined(_ pool: [SampledBucket], picks: [Int]) -> [(UInt64, Int)] {
        var counts: [UInt64: Int] = [:]
        for (index, times) in picks.enumerated() where times > 0 {
            for value in pool[index].raw { counts[value, default: 0] += times }
        }
        return counts.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
    }
}

/// The worst relative error seen per scope and percentile.
struct ErrorReport {
    var scopes: [String] = []
    var errors: [String: [Double: Double]] = [:]

    /// Exact percentile: the smallest latency whose rank reaches ⌈p/100 · n⌉ (nearest rank).
    mutating func note(_ scope: String, _ histogram: LatencyHistogram, exact: [(UInt64, Int)]) {
        if errors[scope] == nil { scopes.append(scope) }
        let total = exact.reduce(0) { $0 + $1.1 }
        for p in RegistryGrowthBenchmark.percentiles {
            let rank = max(1, Int((p * Double(total) / 100).rounded(.up)))
            var seen = 0
            var truth: UInt64 = 0
            for (value, count) in exact {
                seen += count
                if seen >= rank { truth = value; break }
            }
            guard let estimate = histogram.milliseconds(atPercentile: p), truth > 0 else { continue }
            let error = abs(estimate * 1_000 - Double(truth)) / Double(truth)
            errors[scope, default: [:]][p] = max(errors[scope]?[p] ?? 0, error)
        }
    }
}

/// Seeded (`SplitMix64`), so every run writes the same buckets.
extension SplitMix64 {
    /// A standard normal draw (Box–Muller).
    mutating func normal() -> Double {
        let u1 = max(Double(next() >> 11) / Double(1 << 53), .leastNonzeroMagnitude)
        let u2 = Double(next() >> 11) / Double(1 << 53)
        return (-2 * log(u1)).squareRoot() * cos(2 * .pi * u2)
    }
}
