import ArgumentParser
import Foundation
import ModelDeckCLI
import ModelDeckCore

/// `modeldeck registry stats|compact`: how much room the registry takes, and giving room back.
struct RegistryCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "registry",
        abstract: "The registry file itself: its size, and compaction.",
        subcommands: [Stats.self, Compact.self])

    struct Stats: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Size by table, metric buckets by tier, the oldest data, growth per day and the WAL's size.")

        @Option(name: [.customShort("o"), .long], help: "Output format: table, json or yaml.")
        var output: OutputFormat = .table

        @OptionGroup var registry: RegistryOptions

        func run() throws {
            let storage = try registry.open().storage()
            guard output == .table else { return try Output.printDocument(storage, as: output) }
            print(RegistryReport.text(storage, path: registry.path), terminator: "")
        }
    }

    struct Compact: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Give the room of deleted rows back and empty the WAL; safe while the daemon runs.",
            discussion: """
                The first compaction rewrites the file once (VACUUM) and turns on incremental vacuum; later ones \
                free pages a few megabytes per transaction, so the daemon's writes wait at most moments.
                """)

        @OptionGroup var registry: RegistryOptions

        func run() throws {
            let result = try registry.open().compact()
            print("registry \(registry.path): \(RegistryReport.size(result.before.fileBytes + result.before.walBytes)) → \(RegistryReport.size(result.after.fileBytes + result.after.walBytes)) (file and WAL)")
            if result.fullVacuum { print("rewrote the file once (VACUUM) and turned on incremental vacuum for later compactions") }
            if result.checkpointBusy {
                print("the WAL could not be emptied completely: a reader still holds an old snapshot; run compact again later")
            }
        }
    }
}

/// `registry stats` as text.
enum RegistryReport {
    static func size(_ bytes: Int64) -> String {
        switch bytes {
        case ..<10_240: return "\(bytes) B"
        case ..<10_485_760: return String(format: "%.1f KB", Double(bytes) / 1_024)
        case ..<10_737_418_240: return String(format: "%.1f MB", Double(bytes) / 1_048_576)
        default: return String(format: "%.1f GB", Double(bytes) / 1_073_741_824)
        }
    }

    static func text(_ storage: RegistryStorage, path: String) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyy-MM-dd HH:mm"
        func date(_ seconds: Int64?) -> String {
            seconds.map { formatter.string(from: Date(timeIntervalSince1970: TimeInterval($0))) } ?? "-"
        }
        var text = "registry \(path)\n"
        text += "file \(size(storage.fileBytes)) (\(size(storage.freeBytes)) free, given back by `modeldeck registry compact`), WAL \(size(storage.walBytes))\n\n"
        text += Table(headers: ["table", "size", "rows"], rows: storage.tables.map {
            [$0.name, size($0.bytes), Format.grouped($0.rows)]
        }).render()
        text += "\n"
        text += Table(headers: ["metric tier", "buckets", "histograms", "largest", "oldest", "newest"], rows: storage.tiers.map {
            [MetricTiers.duration($0.widthSeconds), Format.grouped($0.rows), size($0.histogramBytes),
             size($0.largestHistogramBytes), date($0.oldestStart), date($0.newestStart)]
        }).render()
        text += "\noldest metric bucket \(date(storage.oldestBucket)); oldest event \(storage.oldestEvent.map { formatter.string(from: $0) } ?? "-") (UTC)\n"
        text += "growth per day: \(Format.grouped(storage.lastDayBuckets)) metric buckets (\(size(storage.lastDayHistogramBytes)) of histograms) in the last day of data, "
        text += String(format: "which the tiers thin out; %.0f events a day at about %.0f bytes each, kept for good\n", storage.eventsPerDay, storage.bytesPerEvent)
        return text
    }
}
