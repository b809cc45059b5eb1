import ArgumentParser
import Foundation
import ModelDeckCore

/// `modeldeck-bench bucket-writes`: the gateway's and collectors' write path, this build against main's. The
/// recorder flushes one batch of 10-second buckets per endpoint version through `Registry.merge` (read the
/// stored bucket, add, write it back); this writes such batches for a fleet into two registries side by side,
/// alternating round by round so both see the same machine: one migrated up to main's last migration and
/// written the way main writes (`Registry.mergeAsBefore`: `INSERT OR REPLACE`), one with this build's schema
/// and `Registry.merge`. It prints bucket writes per second for each and their ratio. Half the rounds create
/// the bucket, half add to one already stored (the recorder flushes a 10-second bucket more than once).
struct BucketWritesBenchmark: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "bucket-writes",
                                                    abstract: "Bucket writes per second through the recorder's flush, this build against main's write path.")

    @Option(help: "Endpoint versions written per batch (one bucket each).")
    var endpoints = 1_000

    @Option(help: "Batches written per registry.")
    var rounds = 40

    /// Main's last migration: the schema the baseline is written into.
    static let before = "2026-11-30 deployment generation"

    func validate() throws {
        guard (1...100_000).contains(endpoints) else { throw ValidationError("--endpoints \(endpoints): expected 1 to 100,000") }
        guard (2...10_000).contains(rounds) else { throw ValidationError("--rounds \(rounds): expected 2 to 10,000") }
    }

    func run() throws {
        let folder = NSTemporaryDirectory() + "modeldeck-bench-writes-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let main = try Registry(path: folder + "/main.sqlite", migratedUpTo: Self.before)
        let this = try Registry(path: folder + "/this.sqlite")
        var random = SplitMix64(seed: 0x20_2611)
        let names = (0..<endpoints).map { String(format: "endpoint-%05d", $0) }
        let base = Int64(Date().timeIntervalSince1970) / 10 * 10 - Int64(rounds) * 10
        var times: [String: [Double]] = ["main": [], "this": []]
        for round in 0..<rounds {
            var batch: [MetricBucket.Key: MetricBucket] = [:]
            for name in names {
                var bucket = MetricBucket()
                bucket.requests = Int64.random(in: 5...50, using: &random)
                for _ in 0..<bucket.requests { bucket.latency.record(microseconds: UInt64.random(in: 2_000...400_000, using: &random)) }
                bucket.costMicros = bucket.requests * 3
                batch[MetricBucket.Key(endpoint: name, version: "m@v1", start: base + Int64(round / 2) * 10, width: 10)] = bucket
            }
            // Alternate which registry goes first, so neither always gets the warmer cache.
            for label in round % 4 < 2 ? ["main", "this"] : ["this", "main"] {
                let watch = Stopwatch()
                if label == "main" { try main.mergeAsBefore(batch) } else { try this.merge(batch) }
                times[label, default: []].append(watch.milliseconds)
            }
        }
        func rate(_ label: String) -> Double {
            let sorted = (times[label] ?? []).sorted()
            return Double(endpoints) / (percentile(sorted, 50) / 1_000)
        }
        let before = rate("main"), now = rate("this")
        print("bucket writes per second through the recorder's flush (\(endpoints) buckets a batch, \(rounds) batches each, median batch):")
        print("main's (schema up to '\(Self.before)', INSERT OR REPLACE): " + String(format: "%10.0f /s", before))
        print("this build's (Registry.merge):                                        " + String(format: "%10.0f /s   ratio %.3f×", now, now / before))
    }
}
