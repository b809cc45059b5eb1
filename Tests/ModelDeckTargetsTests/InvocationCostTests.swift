import Foundation
import GRDB
import ModelDeckCore
import Testing
@testable import ModelDeckTargets

struct InvocationCostTests {
    @Test func costsAreStoredWithTheBucketsWithoutLosingFractionsOfAMicroDollar() async throws {
        let folder = NSTemporaryDirectory() + "modeldeck-cost-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let registry = try Registry(path: folder + "/registry.sqlite")
        let rates = try PriceTable.standard.invocationRates(platform: "aws-lambda", region: "us-east-1", architecture: "x86_64")
        let recorder = InvocationRecorder()
        let t0 = Date(timeIntervalSince1970: 1_800_000_000)
        // 1,000 invocations of 0.8 ms (billed 1 ms) at 128 MB, one in ten a keep-warm ping, flushed every 100.
        // One costs 128 / 1,024,000 GB-s × $0.0000166667 + $0.0000002 = $0.0000002020833375 (0.2020833375 µ$):
        // 900 user requests = 181.875 µ$ → 181 stored; 100 pings = 20.208 µ$ → 20. Rounding each one would store 0.
        for index in 0..<1_000 {
            await recorder.record(Invocation(endpoint: "e", version: "m@v1", at: t0.addingTimeInterval(Double(index) / 1_000),
                                             latencyMicroseconds: 800, status: 200, coldStart: false, warmup: index % 10 == 0,
                                             inFlight: 1, memoryMB: 128, rates: rates))
            if index % 100 == 99 { try await recorder.flush(to: registry, instances: [], endpoints: []) }
        }
        // An endpoint whose target is free stores no cost.
        await recorder.record(Invocation(endpoint: "free", version: "m@v1", at: t0, latencyMicroseconds: 800, status: 200,
                                         coldStart: false, warmup: false, inFlight: 1, memoryMB: 128))
        try await recorder.flush(to: registry, instances: [], endpoints: [])
        let rows = try registry.read { db in
            try Row.fetchAll(db, sql: "SELECT endpoint, requests, warmups, cost_micros, warmup_cost_micros FROM metric_buckets ORDER BY endpoint")
        }
        #expect(rows.count == 2)
        #expect(rows[0]["endpoint"] == "e")
        #expect(rows[0]["requests"] == 900)
        #expect(rows[0]["warmups"] == 100)
        #expect(rows[0]["cost_micros"] == 181)
        #expect(rows[0]["warmup_cost_micros"] == 20)
        #expect(rows[1]["cost_micros"] == 0)
    }
}

/// Issue #15, item 10: what AWS answers is parsed without trusting it.
struct HostileAWSAnswerTests {
    @Test func numbersOutOfRangeAreMissingNotATrap() {
        #expect(AWSNumber.whole(1e300) == nil)
        #expect(AWSNumber.whole(.nan) == nil)
        #expect(AWSNumber.whole(-.infinity) == nil)
        #expect(AWSNumber.whole(-1) == nil)
        #expect(AWSNumber.whole(12.5) == 13)
        #expect(AWSNumber.whole(12.1, rounding: .up) == 13)
    }

    @Test func aHostileLogTailOrCloudWatchFigureCountsAsNothing() {
        let report = LambdaReport.parse(log: "REPORT RequestId: 1\tDuration: 12.5 ms\tBilled Duration: 1e300 ms\tMemory Size: 1e300 MB\t")
        #expect(report?.billedMilliseconds == nil)
        #expect(report?.memoryMB == nil)
        var figures = PeriodFigures()
        figures.invocations = 1e300
        figures.errors = .infinity
        figures.throttles = 5
        figures.maximum = 1e300
        figures.sum = 1e300
        let bucket = figures.bucket(memoryMB: 10_240, rates: nil)
        #expect(bucket.requests == 5)
        #expect(bucket.errors == 5)
    }

    /// Within AWSNumber's limit yet beyond anything Lambda can bill: 10¹² ms on 10¹² MB overflowed the ping's
    /// price (Int64) and ended the daemon. Each field is held to Lambda's own limits, and named when refused.
    @Test func aLogTailBeyondLambdasLimitsIsLeftOutAndNamed() throws {
        let report = try #require(LambdaReport.parse(log: "REPORT RequestId: 1\tDuration: 5 ms\tBilled Duration: 999999999999 ms\t"
                                                     + "Memory Size: 999999999999 MB\tMax Memory Used: -3 MB\tInit Duration: nan ms\t"))
        #expect(report.durationMilliseconds == 5)
        #expect(report.billedMilliseconds == nil && report.memoryMB == nil && report.maxMemoryUsedMB == nil && !report.coldStart)
        #expect(report.refused == ["Billed Duration: 999999999999 ms", "Memory Size: 999999999999 MB", "Max Memory Used: -3 MB",
                                   "Init Duration: nan ms"])
        let fine = try #require(LambdaReport.parse(log: "REPORT RequestId: 2\tDuration: 899999.5 ms\tBilled Duration: 900000 ms\tMemory Size: 10240 MB\t"))
        #expect(fine.billedMilliseconds == 900_000 && fine.memoryMB == 10_240 && fine.refused.isEmpty)
        #expect(LambdaReport.parse(log: "REPORT RequestId: 3\tMemory Size: 64 MB\t") == nil, "no Duration: not a REPORT line Lambda writes")
        #expect(LambdaReport.parse(log: "REPORT RequestId: 4\tDuration: 1 ms\tMemory Size: 64 MB\t")?.refused == ["Memory Size: 64 MB"])
    }

    @Test func regionsAndEndpointsAreChecked() {
        for good in ["us-east-1", "eu-central-1", "us-gov-west-1", "eu-isoe-west-1", "ap-southeast-5"] { #expect(AWSRegion.isValid(good), "\(good)") }
        for bad in ["attacker.invalid#", "us-east-1.evil.com", "US-EAST-1", "east-1", "us-east-", "us--1", "mars-1", ""] { #expect(!AWSRegion.isValid(bad), "\(bad)") }
        let env = ["AWS_ACCESS_KEY_ID": "AKID", "AWS_SECRET_ACCESS_KEY": "secret"]
        #expect(throws: ModelDeckError("AWS region 'attacker.invalid#' is not an AWS region name (two letters, words and a number, e.g. eu-central-1)")) {
            try AWSConfiguration.resolve(environment: env.merging(["AWS_REGION": "attacker.invalid#"]) { $1 }, home: "/nonexistent")
        }
        for url in ["http://user:pw@127.0.0.1:5000", "https://evil.example/path", "ftp://x", "http://127.0.0.1:5000?x=1"] {
            #expect(throws: ModelDeckError.self) {
                try AWSConfiguration.resolve(environment: env.merging(["AWS_REGION": "us-east-1", "AWS_ENDPOINT_URL": url]) { $1 }, home: "/nonexistent")
            }
        }
        #expect(throws: Never.self) {
            try AWSConfiguration.resolve(environment: env.merging(["AWS_REGION": "us-east-1", "AWS_ENDPOINT_URL": "http://127.0.0.1:5000/"]) { $1 }, home: "/nonexistent")
        }
    }
}
