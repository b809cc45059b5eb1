import Foundation
import Testing
@testable import ModelDeckCore

struct CostEstimateTests {
    func decimal(_ text: String) -> Decimal { Decimal(string: text, locale: Locale(identifier: "en_US_POSIX"))! }

    @Test func requestRatesAreReadPerAnyPeriod() throws {
        #expect(try TrafficProfile.requestsPerDay("10000/day") == 10_000)
        #expect(try TrafficProfile.requestsPerDay("10/s") == 864_000)
        #expect(try TrafficProfile.requestsPerDay("2.5/min") == 3_600)
        #expect(try TrafficProfile.requestsPerDay("3M/month") == 100_000)
        #expect(throws: ModelDeckError("--requests '0/day' is zero; a request rate must be above zero")) { try TrafficProfile.requestsPerDay("0/day") }
        #expect(throws: ModelDeckError("--requests '-5/day' is negative; a request rate must be above zero")) { try TrafficProfile.requestsPerDay("-5/day") }
        #expect(throws: ModelDeckError("--requests 'lots' is not a request rate; use a count per s, min, h, day or month, e.g. 10000/day or 5/s")) {
            try TrafficProfile.requestsPerDay("lots")
        }
    }

    @Test func estimateComparesEveryPlatformWithTheBreakEvenAgainstAlwaysOn() throws {
        // 10,000 requests a day, 200 ms, 512 MB, x86, us-east-1.
        let profile = TrafficProfile(requestsPerDay: 10_000, durationMilliseconds: 200, memoryMB: 512)
        let report = try CostEstimate.report(profile, table: .standard)
        func row(_ platform: String, _ option: String) throws -> CostEstimateRow {
            try #require(report.rows.first { $0.platform == platform && $0.option == option })
        }
        // Lambda: one request = 0.2 s × 0.5 GB × $0.0000166667 + $0.0000002 = $0.00000186667;
        // a day = 10,000 × that = $0.0186667; a month (30 days) = $0.560001.
        let lambda = try row("aws-lambda", "on demand")
        #expect(lambda.perDayMicros == 18_667)
        #expect(lambda.perMonthMicros == 560_001)
        // Break-even against ml.t2.medium ($0.056 × 24 = $1.344 a day): 1.344 / 0.00000186667 = 719,998.7 → 719,998.
        #expect(report.alwaysOnReference == "sagemaker-realtime ml.t2.medium")
        #expect(lambda.breakEvenRequestsPerDay == 719_998)
        // SageMaker serverless bills 1,024 MB at least: 0.2 s × 1 GB × $0.00002 = $0.000004 a request → $0.04 a day.
        let sageMaker = try row("sagemaker-serverless", "on demand")
        #expect(sageMaker.billedMemoryMB == 1_024)
        #expect(sageMaker.perDayMicros == 40_000)
        #expect(sageMaker.note?.contains("billed at 1,024 MB") == true)
        // Fargate always on: 0.25 vCPU × $0.04048 + 0.5 GB × $0.004445 = $0.0123425 an hour × 24 = $0.29622 a day.
        #expect(try row("ecs-fargate", "1 task always on").perDayMicros == 296_220)
        // A task per request bills the one-minute minimum: 10,000 × 60 / 3,600 × $0.0123425 = $2.057083 a day.
        let perTask = try row("ecs-fargate", "a task per request")
        #expect(perTask.perDayMicros == 2_057_083)
        #expect(perTask.note?.contains("each task billed 1m (the minimum)") == true)
        // The always-on instance: $1.344 a day, $40.32 a month.
        let instance = try row("sagemaker-realtime", "ml.t2.medium always on")
        #expect(instance.perDayMicros == 1_344_000)
        #expect(instance.perMonthMicros == 40_320_000)
        // Provisioned concurrency ×1: 0.5 GB × 86,400 s × $0.0000041667 = $0.18000144 enabled, plus per request
        // 0.1 GB-s × $0.0000097222 + $0.0000002 = $0.00000117222 × 10,000 = $0.0117222; total $0.19172364.
        #expect(try row("aws-lambda", "provisioned ×1").perDayMicros == 191_724)
    }

    @Test func aRegionWithoutSomePricesSaysSoInsteadOfGuessing() throws {
        let profile = TrafficProfile(requestsPerDay: 10_000, durationMilliseconds: 200, memoryMB: 512, architecture: "arm64", region: "eu-central-1")
        let report = try CostEstimate.report(profile, table: .standard)
        let sageMaker = try #require(report.rows.first { $0.platform == "sagemaker-serverless" })
        #expect(sageMaker.perDayMicros == nil)
        #expect(sageMaker.note?.contains("no sagemaker-serverless price") == true)
        // No ml.t2.medium price there: the break-even falls back to no reference only if Fargate Arm is missing too.
        #expect(report.rows.first { $0.platform == "ecs-fargate" }?.note?.contains("no ecs-fargate price per vCPU-hour (arm64) in eu-central-1") == true)
        #expect(report.alwaysOnReference == nil)
        #expect(report.rows.allSatisfy { $0.breakEvenRequestsPerDay == nil })
        // Lambda Arm in eu-central-1: 0.1 GB-s × $0.0000133334 + $0.0000002 = $0.00000153334 × 10,000 = $0.0153334.
        #expect(report.rows.first { $0.platform == "aws-lambda" && $0.option == "on demand" }?.perDayMicros == 15_333)
    }

    @Test func breakEvenFallsBackToAnAlwaysOnTaskWhereTheInstanceIsNotPriced() throws {
        let profile = TrafficProfile(requestsPerDay: 10_000, durationMilliseconds: 200, memoryMB: 512, region: "eu-central-1")
        let report = try CostEstimate.report(profile, table: .standard)
        #expect(report.alwaysOnReference == "ecs-fargate 1 task always on")
        // 0.25 × $0.04656 + 0.5 × $0.00511 = $0.014195 an hour × 24 = $0.34068 a day; Lambda x86 $0.00000186667 a request:
        // 0.34068 / 0.00000186667 = 182,506.6 → 182,506.
        #expect(report.rows.first { $0.platform == "aws-lambda" && $0.option == "on demand" }?.breakEvenRequestsPerDay == 182_506)
    }

    @Test func theFreeTierIsAnOptionNeverTheDefault() throws {
        // 3,000,000 requests a month (100,000 a day), 512 MB, 120 ms, x86: 180,000 GB-s, all inside the free
        // 400,000; requests 3,000,000 − 1,000,000 free = 2,000,000 × $0.20 per million = $0.40 a month.
        var profile = TrafficProfile(requestsPerDay: 100_000, durationMilliseconds: 120, memoryMB: 512)
        let plain = try CostEstimate.report(profile, table: .standard)
        #expect(plain.rows.first { $0.platform == "aws-lambda" && $0.option == "on demand" }?.perMonthMicros == 3_600_006)
        profile.freeTier = true
        let free = try #require(try CostEstimate.report(profile, table: .standard).rows.first { $0.option == "on demand, free tier" })
        #expect(free.perMonthMicros == 400_000)
        #expect(free.note?.contains("after 1,000,000 requests and 400,000 GB-s free a month") == true)
        // SageMaker serverless has no free tier in the table: unchanged.
        #expect(try CostEstimate.report(profile, table: .standard).rows.contains { $0.platform == "sagemaker-serverless" && $0.option == "on demand" })
    }

    @Test func fargateSizesAreTheSmallestThatFit() {
        #expect(FargateSize.smallest(fitting: 512)! == (decimal("0.25"), 512))
        #expect(FargateSize.smallest(fitting: 3_000)! == (decimal("0.5"), 3_072))
        #expect(FargateSize.smallest(fitting: 200_000) == nil)
    }
    /// The batch rows of the seeds' table: a day's requests run one after another as one job.
    @Test func aDailyBatchJobIsTaskTimeOnFargateAndInstanceHoursOnBatchTransform() throws {
        func rows(_ profile: TrafficProfile, _ table: PriceTable = .standard) throws -> (fargate: CostEstimateRow, transform: CostEstimateRow) {
            let report = try CostEstimate.report(profile, table: table)
            return (try #require(report.rows.first { $0.platform == "ecs-fargate" && $0.option == "a batch job a day" }),
                    try #require(report.rows.first { $0.platform == "sagemaker-batch-transform" }))
        }
        // 10,000 × 200 ms = 2,000 s of task time on 0.25 vCPU, 0.5 GB: 2,000 / 3,600 × $0.0123425 = $0.0068569…
        let daily = try rows(TrafficProfile(requestsPerDay: 10_000, durationMilliseconds: 200, memoryMB: 512))
        #expect(daily.fargate.perDayMicros == 6_857 && daily.fargate.perMonthMicros == 205_708)
        #expect(daily.fargate.note == "0.25 vCPU, 512 MB; requests × duration = 33m20s of task time, billed 33m20s")
        #expect(daily.fargate.breakEvenRequestsPerDay == nil, "a batch is no request-billed option")
        // Ten requests of 200 ms are 2 s of work, billed as Fargate's one-minute minimum: 60 / 3,600 × $0.0123425.
        let tiny = try rows(TrafficProfile(requestsPerDay: 10, durationMilliseconds: 200, memoryMB: 512))
        #expect(tiny.fargate.perDayMicros == 206)
        #expect(tiny.fargate.note?.hasSuffix("2s of task time, billed 1m (the minimum)") == true, "\(tiny.fargate.note ?? "")")
        // A job over a day says it must be split (the task time is the same).
        let long = try rows(TrafficProfile(requestsPerDay: 1_000_000, durationMilliseconds: 200, memoryMB: 512))
        #expect(long.fargate.note?.hasSuffix("over a day: split it over tasks in parallel (the same time in all)") == true)

        // Batch Transform: the instance named, its instance-hours at its hourly price: 2,000 s × $0.115 an hour =
        // $0.0638888… a day, × 30 = $1.9166666… a month.
        #expect(daily.transform.option == "ml.m5.large, a job a day")
        #expect(daily.transform.perDayMicros == 63_889 && daily.transform.perMonthMicros == 1_916_667)
        #expect(daily.transform.note == "requests × duration = 33m20s on one instance, 0.56 instance-hours")
        #expect(daily.transform.breakEvenRequestsPerDay == nil, "a batch is no request-billed option")
        // An instance the table has no price for is named, with its hours, and left unpriced.
        var unpriced = TrafficProfile(requestsPerDay: 10_000, durationMilliseconds: 200, memoryMB: 512)
        unpriced.batchInstance = "ml.g4dn.xlarge"
        let missing = try rows(unpriced).transform
        #expect(missing.perDayMicros == nil)
        #expect(missing.note == "requests × duration = 33m20s on one instance, 0.56 instance-hours; the price table has no sagemaker-batch-transform ml.g4dn.xlarge price in us-east-1")
        // With a price row (a table file), another type is priced: 2,000 s × $0.2 an hour = $0.111111…
        let row = "  - {platform: sagemaker-batch-transform, region: us-east-1, instance: ml.c5.xlarge, unit: instance-hour, price: 0.2, checked: \"2026-11-30\", source: https://aws.amazon.com/sagemaker/pricing/}\n"
        let priced = try PriceTable(yaml: standardPriceTableYAML + "\n" + row, source: "test")
        var profile = TrafficProfile(requestsPerDay: 10_000, durationMilliseconds: 200, memoryMB: 512)
        profile.batchInstance = "ml.c5.xlarge"
        let transform = try rows(profile, priced).transform
        #expect(transform.option == "ml.c5.xlarge, a job a day" && transform.perDayMicros == 111_111 && transform.perMonthMicros == 3_333_333)
    }
}
