import Foundation

/// What `modeldeck get RESOURCE` shows, one typed row per item: encoded as JSON or YAML, or laid out as
/// a table. Built from the registry only.
public enum Listings {
    public struct TargetRow: Codable, Sendable {
        public var name: String
        public var kind: String
        public var region: String?
        public var config: [String: String]
        public var memoryMB: [Int]
        public var gpus: Int
    }

    public struct ModelRow: Codable, Sendable {
        public var name: String
        public var description: String?
        public var versions: [String]
    }

    public struct VersionRow: Codable, Sendable {
        public var id: String
        public var model: String
        public var version: String
        public var digest: String
        public var sizeBytes: Int64
        public var memoryMB: Int
        public var gpus: Int
        public var command: [String]?
        public var image: String?
        public var artifact: String?
        public var createdBy: String?
        public var createdAt: Date

        public init(id: String, model: String, version: String, digest: String, sizeBytes: Int64, memoryMB: Int, gpus: Int,
                    command: [String]?, image: String?, artifact: String?, createdBy: String?, createdAt: Date) {
            self.id = id
            self.model = model
            self.version = version
            self.digest = digest
            self.sizeBytes = sizeBytes
            self.memoryMB = memoryMB
            self.gpus = gpus
            self.command = command
            self.image = image
            self.artifact = artifact
            self.createdBy = createdBy
            self.createdAt = createdAt
        }
    }

    public struct KeepWarmRow: Codable, Sendable {
        public var mode: String
        public var everySeconds: Int64?
        public var concurrency: Int?
    }

    public struct SLORow: Codable, Sendable {
        public var p99Ms: Int64
        public var errorRate: String
    }

    public struct EndpointRow: Codable, Sendable {
        public var name: String
        public var model: String
        public var target: String
        public var traffic: [String: Int]
        public var deployment: String?
        public var memoryMB: Int
        public var concurrency: Int
        public var minInstances: Int
        public var maxInstances: Int
        public var idleTimeoutSeconds: Int64
        public var slo: SLORow
        public var dailyBudget: String?
        public var keepWarm: KeepWarmRow
        public var production: Bool
        /// The live figures over the window asked for (`get --window`, `-o wide`); nil when none was.
        public var live: LiveRow? = nil
        /// The target routes otherwise than the registry says, until resolved (`DriftRecord.summary`).
        public var drift: String? = nil
    }

    /// An endpoint's live figures over a window, as `get endpoints -o wide|json|yaml` and `/api/v1` give them.
    public struct LiveRow: Codable, Equatable, Sendable {
        public var window: String
        /// The endpoint in total, then per version.
        public var figures: LiveFigures
        public var versions: [String: LiveFigures]
        /// Instances now: how many are warm, the requests in flight, and the versions crash-looping.
        public var instances: InstanceFigures
        public var maxConcurrency: Int
        /// Cost since midnight UTC, pings included, in micro-dollars.
        public var todayMicros: Int64
    }

    public struct DeploymentRow: Codable, Sendable {
        public var id: Int64
        public var endpoint: String
        public var kind: String
        public var fromVersion: String?
        public var toVersion: String
        public var strategy: String
        public var state: String
        public var weight: Int
        public var bakeSeconds: Int64
        public var actor: String
        public var reason: String?
        public var alarm: String?
        public var createdAt: Date
        public var updatedAt: Date
        /// Who or what holds the plan ("paused by alice: …", "step 2/4 of the plan"); nil while it runs.
        public var paused: String? = nil
        /// What the current step's gate waits for before it may pass ("12 of 50 requests").
        public var waitingFor: String? = nil

        /// The note a table shows: the alarm, what the step waits for, why it is paused, or the reason.
        public var note: String {
            alarm ?? waitingFor.map { "waits for \($0)" } ?? paused ?? reason ?? "-"
        }
    }

    public struct EventRow: Codable, Sendable {
        public var id: Int64
        public var at: Date
        public var actor: String
        public var endpoint: String?
        public var deploymentId: Int64?
        public var kind: String
        public var message: String

        public init(id: Int64, at: Date, actor: String, endpoint: String?, deploymentId: Int64?, kind: String, message: String) {
            self.id = id
            self.at = at
            self.actor = actor
            self.endpoint = endpoint
            self.deploymentId = deploymentId
            self.kind = kind
            self.message = message
        }
    }

    // MARK: - Tables


    static func time(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.dateFormat = "yyyy-MM-dd HH:mm:ss"
        return formatter.string(from: date)
    }

    public static func table(_ rows: [TargetRow]) -> Table {
        Table(headers: ["name", "kind", "region", "memory", "gpus", "config"], rows: rows.map {
            [$0.name, $0.kind, $0.region ?? "-",
             "\(Format.grouped(Int64($0.memoryMB[0])))–\(Format.megabytes($0.memoryMB[1]))", "\($0.gpus)",
             $0.config.isEmpty ? "-" : $0.config.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")]
        })
    }

    public static func table(_ rows: [ModelRow]) -> Table {
        Table(headers: ["name", "versions", "description"], rows: rows.map {
            [$0.name, $0.versions.isEmpty ? "-" : $0.versions.joined(separator: ","), $0.description ?? "-"]
        })
    }

    public static func table(_ rows: [VersionRow]) -> Table {
        Table(headers: ["version", "size", "memory", "gpus", "digest", "runs", "created"], rows: rows.map {
            [$0.id, Format.bytes($0.sizeBytes), Format.megabytes($0.memoryMB), "\($0.gpus)",
             String($0.digest.prefix(19)) + "…", $0.image ?? $0.command?.joined(separator: " ") ?? "-", time($0.createdAt)]
        })
    }

    public static func table(_ rows: [EndpointRow]) -> Table {
        Table(headers: ["name", "target", "traffic", "deployment", "memory", "instances", "slo p99", "keep-warm"], rows: rows.map {
            let traffic = $0.traffic.isEmpty ? "-" : $0.traffic.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }
                .map { "\($0.key.split(separator: "@").last ?? "")=\($0.value)%" }.joined(separator: ",")
            let keepWarm: KeepWarmPolicy = switch $0.keepWarm.mode {
            case "fixed": .fixed(everySeconds: $0.keepWarm.everySeconds ?? 0, concurrency: $0.keepWarm.concurrency ?? 1)
            case "adaptive": .adaptive
            default: .off
            }
            return [$0.name + ($0.production ? " [prod]" : ""), $0.target, traffic, $0.drift.map { "⚠ drift: \($0)" } ?? $0.deployment ?? "-",
                    Format.megabytes($0.memoryMB), "\($0.minInstances)–\($0.maxInstances) ×\($0.concurrency)",
                    Format.duration(milliseconds: $0.slo.p99Ms), keepWarm.summary]
        })
    }

    /// `-o wide`: the endpoints with the live figures the dashboard shows.
    public static func wideTable(_ rows: [EndpointRow]) -> Table {
        Table(headers: ["name", "target", "traffic", "deployment", "req/s", "p50", "p99", "err%", "cold", "in-flight", "warm", "$/h", "today",
                        "avail"],
              rows: rows.map { row in
            let base = table([row]).rows[0]
            guard let live = row.live else { return Array(base.prefix(4)) + Array(repeating: "-", count: 10) }
            let f = live.figures
            // An endpoint seen only through probes (http) shows theirs, marked with `~`.
            let observed = f.observed, mark = observed.fromProbes ? "~" : ""
            func ms(_ value: Double?) -> String { value.map { mark + Format.milliseconds($0) } ?? "-" }
            func percent(_ share: Double) -> String { Format.percent(ppm: Int64((share * 1_000_000).rounded())) }
            return Array(base.prefix(4)) + [
                Format.rate(f.requestsPerSecond), ms(observed.p50Milliseconds), ms(observed.p99Milliseconds),
                observed.errorRate.map { mark + percent($0) } ?? "-", mark + "\(observed.coldStarts)",
                "\(live.instances.inFlight)/\(live.maxConcurrency)",
                "\(live.instances.warm)" + (live.instances.crashLooping.isEmpty ? "" : " crash-looping"),
                Format.dollars(micros: f.burnMicrosPerHour), Format.dollars(micros: live.todayMicros),
                f.availability.map(percent) ?? "-",
            ]
        })
    }

    public static func table(_ rows: [DeploymentRow]) -> Table {
        Table(headers: ["id", "endpoint", "kind", "from", "to", "strategy", "state", "weight", "actor", "reason"], rows: rows.map {
            ["\($0.id)", $0.endpoint, $0.kind, $0.fromVersion ?? "-", $0.toVersion, $0.strategy, $0.state + ($0.paused == nil ? "" : ", paused"),
             "\($0.weight)%", $0.actor, $0.note]
        })
    }

    public static func table(_ rows: [EventRow]) -> Table {
        Table(headers: ["id", "time", "actor", "endpoint", "kind", "message"], rows: rows.map {
            ["\($0.id)", time($0.at), $0.actor, $0.endpoint ?? "-", $0.kind, $0.message]
        })
    }
}
