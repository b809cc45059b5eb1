import Foundation
import GRDB
import HTTPTypes
import ModelDeckTargets
import ModelDeckTestSupport
import Testing

/// Issue #15, item 10, through the real daemon: an AWS endpoint (or a host a bent region led to) answers with
/// numbers no platform can report — CloudWatch figures of 1e300, NaN, Infinity and negative counts, a Lambda
/// REPORT line billing 10¹² ms on 10¹² MB. The daemon keeps running, stores no absurd figure (each one is left
/// out and logged), and the registry stays consistent.
@Suite(.serialized) struct HostileAWSTests {
    /// The Lambda version number the stand-in reports for sentiment@v1.
    static let number = "7"

    /// `GetMetricData`: for each statistic, a hostile point at `hostile` and a sane one at `sane`.
    static func metricData(hostile: Date, sane: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        let figures: [(String, String, String)] = [
            ("invocations", "1e300", "40"), ("errors", "NaN", "2"), ("throttles", "-5", "0"), ("p50", "Infinity", "20"),
            ("p90", "1e308", "50"), ("p99", "-1e300", "120"), ("maximum", "9.3e18", "200"),
            ("sum", "1.7976931348623157e308", "1200"), ("concurrency", "1e19", "3"),
        ]
        let members = figures.map { name, bad, good in
            """
            <member><Id>v\(number)_\(name)</Id><Label>x</Label><StatusCode>Complete</StatusCode>
            <Timestamps><member>\(formatter.string(from: hostile))</member><member>\(formatter.string(from: sane))</member></Timestamps>
            <Values><member>\(bad)</member><member>\(good)</member></Values></member>
            """
        }.joined()
        return """
            <GetMetricDataResponse xmlns="http://monitoring.amazonaws.com/doc/2010-08-01/"><GetMetricDataResult>
            <MetricDataResults>\(members)</MetricDataResults></GetMetricDataResult></GetMetricDataResponse>
            """
    }

    @Test func hostileNumbersFromAWSNeitherCrashTheDaemonNorReachTheRegistry() async throws {
        let scratch = Scratch()
        defer { scratch.cleanUp() }
        let deck = scratch.file("deck.yaml", remoteDeck() + "  - {name: scoring, model: sentiment, target: lambda-eu, memory: 512MB, traffic: {v1: 100}}\n")
        let apply = try CLI.run(["apply", "-f", deck, "--registry", scratch.registry])
        #expect(apply.status == 0, "\(apply.stderr)")

        let minute = (Int(Date().timeIntervalSince1970) / 60 - 3) * 60
        let hostile = Date(timeIntervalSince1970: Double(minute)), sane = Date(timeIntervalSince1970: Double(minute - 60))
        let digest = "sha256:" + String(repeating: "a", count: 64)
        let versions = #"{"Versions": [{"FunctionName": "modeldeck-scoring", "Version": "$LATEST", "Description": ""}, "#
            + #"{"FunctionName": "modeldeck-scoring", "Version": "\#(Self.number)", "Description": "modeldeck sentiment@v1 \#(digest)", "MemorySize": 512, "Timeout": 30}]}"#
        // Every field out of what Lambda allows: a billed duration and memory that overflowed the ping's price.
        let report = "REPORT RequestId: r1\tDuration: 5.00 ms\tBilled Duration: 999999999999 ms\tMemory Size: 999999999999 MB\t"
            + "Max Memory Used: 1e300 MB\tInit Duration: NaN ms\t\n"
        let metrics = Self.metricData(hostile: hostile, sane: sane)
        let server = FaultServer { _, head, body in
            let path = head.path ?? ""
            if head.method == .get, path.contains("/versions") { return .ok(versions) }
            if path.contains("/invocations") {
                return .answer(status: 200, headers: ["X-Amz-Log-Result": Data(report.utf8).base64EncodedString()], body: "{}")
            }
            if String(decoding: body, as: UTF8.self).contains("Action=GetMetricData") { return .ok(metrics) }
            return .ok("{}")
        }
        defer { server.stop() }
        let log = scratch.path + "/daemon.log"
        let daemon = try BackgroundCommand("daemon", registry: scratch.registry, environment: [
            "AWS_ENDPOINT_URL": try await server.start(), "AWS_ACCESS_KEY_ID": "a", "AWS_SECRET_ACCESS_KEY": "b",
            "AWS_REGION": "eu-central-1", "HOME": scratch.path,
        ], stderrPath: log)
        defer { daemon.stop() }

        // The first metrics pass runs at start; a ping is asked for.
        let ping = try CLI.run(["ping", "scoring", "--registry", scratch.registry])
        #expect(ping.status == 0, "\(ping.stderr)")
        func asked(_ needle: String) -> Bool {
            server.requests.contains { ($0.path ?? "").contains(needle) } || server.bodies.contains { String(decoding: $0, as: UTF8.self).contains(needle) }
        }
        #expect(try await waitUntil(30) { asked("Action=GetMetricData") && asked("/invocations") }, "\(server.requests.map { $0.path ?? "" })")
        let logged = { (try? String(contentsOfFile: log, encoding: .utf8)) ?? "" }
        #expect(try await waitUntil(30) {
            logged().contains("metrics out of range, left out") && logged().contains("keep-warm answer out of range, left out")
        }, "\(logged())")
        #expect(try await waitUntil(30) { try !events(scratch.registry, kinds: "ping.sent").isEmpty })
        try await Task.sleep(for: .seconds(1))
        #expect(daemon.process.isRunning, "the daemon ended: \(logged().suffix(2_000))")
        #expect(logged().contains("Billed Duration: 999999999999 ms") && logged().contains("v\(Self.number)_invocations=1e+300"), "\(logged())")

        // What was stored: the sane period as CloudWatch gave it, nothing of the hostile one, and the ping
        // priced on the endpoint's memory and its round trip.
        let rows = try registryQueue(scratch.registry).read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM metric_buckets WHERE endpoint = 'scoring' ORDER BY start")
        }
        #expect(!rows.isEmpty)
        for row in rows {
            for column in ["requests", "errors", "cold_starts", "warmups", "max_in_flight", "instances", "mb_ms", "cost_micros", "warmup_cost_micros"] {
                let value: Int64 = row[column] ?? 0
                #expect((0...1_000_000_000).contains(value), "\(column) = \(value) in \(row)")
            }
            for column in ["p50_ms", "p95_ms", "p99_ms"] {
                let value: Double? = row[column]
                #expect(value.map { $0.isFinite && $0 >= 0 && $0 < 1e6 } ?? true, "\(column) = \(String(describing: value)) in \(row)")
            }
        }
        let observed = rows.first { ($0["start"] as Int64) == Int64(minute - 60) }
        #expect(observed?["requests"] as Int64? == 40 && observed?["errors"] as Int64? == 2, "\(rows)")
        #expect(!rows.contains { ($0["start"] as Int64) == Int64(minute) && ($0["requests"] as Int64) > 0 }, "\(rows)")
        let warmups = rows.reduce(Int64(0)) { $0 + ($1["warmups"] as Int64) }
        #expect(warmups >= 1, "\(rows)")

        // The registry is whole, and what reads it works.
        let (integrity, violations) = try registryQueue(scratch.registry).read { db in
            (try String.fetchOne(db, sql: "PRAGMA integrity_check"), try Row.fetchAll(db, sql: "PRAGMA foreign_key_check"))
        }
        #expect(integrity == "ok" && violations.isEmpty, "\(String(describing: integrity)) \(violations)")
        for command in [["get", "endpoints", "-o", "wide"], ["cost", "burn"]] {
            let result = try CLI.run(command + ["--registry", scratch.registry])
            #expect(result.status == 0, "\(command): \(result.stderr)")
        }
    }
}
