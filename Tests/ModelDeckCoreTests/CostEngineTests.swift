import Foundation
import Testing
@testable import ModelDeckCore

/// Hand-worked examples from the AWS pricing pages' formulas (https://aws.amazon.com/lambda/pricing/,
/// https://aws.amazon.com/sagemaker/pricing/, https://aws.amazon.com/fargate/pricing/) and the list prices in
/// the built-in price table (`PriceTableData.swift`, each row with its source).
/// Each test writes the calculation out, then checks the engine agrees to the micro-dollar and the cent.
struct CostEngineTests {
    let table = PriceTable.standard

    func decimal(_ text: String) -> Decimal { Decimal(string: text, locale: Locale(identifier: "en_US_POSIX"))! }

    @Test func theBuiltInTableParsesWithEveryPriceExact() throws {
        #expect(table.version == "2026-11-30")
        #expect(table.regions == ["us-east-1", "eu-central-1", "us-central1", "europe-west1"])
        let x86 = try table.line("aws-lambda", "us-east-1", .gbSecond, arch: "x86_64")
        #expect(x86.price == decimal("0.0000166667"))  // not 0.000016666699999… from a Double
        #expect(x86.source == "https://aws.amazon.com/lambda/pricing/")
        #expect(x86.checked == "2026-11-23")
        for line in table.lines { #expect(line.price > 0 && line.source.hasPrefix("https://")) }
    }

    @Test func lambdaX86VersusArm() throws {
        // 3,000,000 requests a month, 512 MB, 120 ms each.
        // GB-seconds: 3,000,000 × 0.120 s × 0.5 GB = 180,000 GB-s.
        // x86: 180,000 × $0.0000166667 = $3.000006; requests 3 × $0.20 = $0.60; total $3.600006 → $3.60.
        // Arm: 180,000 × $0.0000133334 = $2.400012; + $0.60 = $3.000012 → $3.00.
        for (arch, exact, cents) in [("x86_64", "3.600006", "3.60"), ("arm64", "3.000012", "3.00")] {
            let rates = try table.invocationRates(platform: "aws-lambda", region: "us-east-1", architecture: arch)
            var usage = InvocationUsage()
            let one = rates.usage(ofOneRunning: 120_000, memoryMB: 512)
            usage.requests = one.requests * 3_000_000
            usage.billedMBMilliseconds = one.billedMBMilliseconds * 3_000_000
            #expect(rates.cost(usage) == decimal(exact), "\(arch)")
            #expect(Money.cents(rates.cost(usage)) == decimal(cents), "\(arch)")
            #expect(Money.micros(rates.cost(usage)) == Money.micros(decimal(exact)))
        }
    }

    @Test func lambdaBillsEachInvocationRoundedUpToTheMillisecond() throws {
        let rates = try table.invocationRates(platform: "aws-lambda", region: "eu-central-1", architecture: "x86_64")
        #expect(rates.billedMilliseconds(microseconds: 1_200) == 2)
        #expect(rates.billedMilliseconds(microseconds: 2_000) == 2)
        #expect(rates.billedMilliseconds(microseconds: 0) == 1)  // the minimum
        // 1,000,000 invocations of 1.2 ms at 1,024 MB bill 2 ms each: 1,000,000 × 0.002 s × 1 GB = 2,000 GB-s
        // × $0.0000166667 = $0.0333334; requests $0.20; total $0.2333334 → $0.23.
        let one = rates.usage(ofOneRunning: 1_200, memoryMB: 1_024)
        let usage = InvocationUsage(requests: 1_000_000, billedMBMilliseconds: one.billedMBMilliseconds * 1_000_000)
        #expect(rates.cost(usage) == decimal("0.2333334"))
        #expect(Money.cents(rates.cost(usage)) == decimal("0.23"))
    }

    @Test func requestFeesDominateShortPings() throws {
        // 1,000,000 keep-warm pings of 1 ms at 128 MB: 1,000,000 × 0.001 s × 0.125 GB = 125 GB-s
        // × $0.0000166667 = $0.002083338 (rounds to $0.002083); requests 1 × $0.20; total $0.202083 → $0.20.
        let rates = try table.invocationRates(platform: "aws-lambda", region: "us-east-1", architecture: "x86_64")
        let usage = InvocationUsage(requests: 1_000_000, billedMBMilliseconds: 128 * 1 * 1_000_000)
        #expect(rates.cost(usage) == decimal("0.202083337500"))
        #expect(Money.micros(rates.cost(usage)) == 202_083)
        #expect(Money.cents(rates.cost(usage)) == decimal("0.20"))
        #expect(rates.cost(InvocationUsage(requests: 1)) == decimal("0.0000002"))
    }

    @Test func sageMakerServerlessChargesComputeAndDataProcessed() throws {
        // 100,000 requests at 2,048 MB for 500 ms, 10,000 bytes in and out each.
        // Compute: 100,000 × 0.5 s × 2 GB = 100,000 GB-s × $0.00002 = $2.00.
        // Data: 100,000 × 10,000 B = 1 GB (decimal) in × $0.016 + 1 GB out × $0.016 = $0.032.
        // No request fee. Total $2.032 → $2.03.
        let rates = try table.invocationRates(platform: "sagemaker-serverless", region: "us-east-1", architecture: "x86_64")
        let one = rates.usage(ofOneRunning: 500_000, memoryMB: 2_048, bytesIn: 10_000, bytesOut: 10_000)
        var usage = InvocationUsage()
        for _ in 0..<4 { usage.add(one) }  // adding usage is exact
        usage = InvocationUsage(requests: one.requests * 100_000, billedMBMilliseconds: one.billedMBMilliseconds * 100_000,
                                bytesIn: one.bytesIn * 100_000, bytesOut: one.bytesOut * 100_000)
        #expect(rates.cost(usage) == decimal("2.032"))
        #expect(Money.cents(rates.cost(usage)) == decimal("2.03"))
    }

    @Test func fargateBillsPerSecondWithAOneMinuteMinimum() throws {
        let rates = try table.taskRates(platform: "ecs-fargate", region: "us-east-1", architecture: "x86_64")
        #expect(rates.billedMilliseconds(running: 20_000) == 60_000)   // the minimum
        #expect(rates.billedMilliseconds(running: 90_400) == 91_000)   // per second, rounded up
        // A 0.25 vCPU / 0.5 GB task costs 0.25 × $0.04048 + 0.5 × $0.004445 = $0.0123425 an hour.
        // 1,000 tasks of 20 s each bill 60 s: 1,000 × 60 / 3,600 × $0.0123425 = $0.205708333… → $0.21.
        let short = rates.cost(billedMilliseconds: 1_000 * 60_000, vcpu: decimal("0.25"), memoryMB: 512)
        #expect(Money.micros(short) == 205_708)
        #expect(Money.cents(short) == decimal("0.21"))
        // Without the minimum they would have cost a third: 1,000 × 20 / 3,600 × $0.0123425 = $0.0685694… → $0.07.
        #expect(Money.cents(rates.cost(billedMilliseconds: 1_000 * 20_000, vcpu: decimal("0.25"), memoryMB: 512)) == decimal("0.07"))
        // 1,000 tasks of 90.4 s bill 91 s: 1,000 × 91 / 3,600 × $0.0123425 = $0.311991… → $0.31.
        let long = rates.cost(billedMilliseconds: 1_000 * 91_000, vcpu: decimal("0.25"), memoryMB: 512)
        #expect(Money.micros(long) == 311_991)
        #expect(Money.cents(long) == decimal("0.31"))
    }

    @Test func anAlwaysOnInstanceCostsTheSameAtAnyTraffic() throws {
        // ml.t2.medium: $0.056 an hour × 720 hours (a 30-day month) = $40.32.
        let rate = try #require(table.instanceRates(platform: "sagemaker-realtime", region: "us-east-1").first { $0.instance == "ml.t2.medium" })
        #expect(rate.cost(hours: 720) == decimal("40.32"))
    }

    @Test func unknownPlatformRegionOrArchitectureIsRefusedNamingWhatTheTableHas() {
        #expect(throws: ModelDeckError("unknown region 'mars-1'; the price table (version 2026-11-30) has us-east-1, eu-central-1, us-central1, europe-west1")) {
            try table.invocationRates(platform: "aws-lambda", region: "mars-1", architecture: "x86_64")
        }
        #expect(throws: ModelDeckError("unknown platform 'gcp-run'; the price table (version 2026-11-30) has aws-lambda, google-cloud-run, sagemaker-serverless, ecs-fargate, sagemaker-realtime, sagemaker-batch-transform")) {
            try table.invocationRates(platform: "gcp-run", region: "us-east-1", architecture: "x86_64")
        }
        #expect(throws: ModelDeckError("architecture 'sparc' is not known; use x86_64 or arm64")) {
            try table.invocationRates(platform: "aws-lambda", region: "us-east-1", architecture: "sparc")
        }
        #expect(throws: ModelDeckError("the price table (version 2026-11-30) has no sagemaker-serverless price per GB-second (x86_64) in eu-central-1")) {
            try table.invocationRates(platform: "sagemaker-serverless", region: "eu-central-1", architecture: "x86_64")
        }
        #expect(throws: ModelDeckError("platform 'ecs-fargate' is billed per task, not per invocation")) {
            try table.invocationRates(platform: "ecs-fargate", region: "us-east-1", architecture: "x86_64")
        }
    }

    @Test func aNewRegionIsADataChange() throws {
        let yaml = standardPriceTableYAML + """

          - {platform: aws-lambda, region: ap-south-1, arch: arm64, unit: GB-second, price: 0.0000133334, checked: "2026-11-23", source: https://aws.amazon.com/lambda/pricing/}
          - {platform: aws-lambda, region: ap-south-1, unit: 1M requests, price: 0.20, checked: "2026-11-23", source: https://aws.amazon.com/lambda/pricing/}
        """
        let extended = try PriceTable(yaml: yaml, source: "test")
        #expect(extended.regions.contains("ap-south-1"))
        let rates = try extended.invocationRates(platform: "aws-lambda", region: "ap-south-1", architecture: "arm64")
        #expect(rates.perGBSecond == decimal("0.0000133334"))
    }

    @Test func aBrokenTableIsRefusedWithTheRow() {
        let row = PriceTable.standard.lines.count + 1  // the row after the built-in ones
        let badUnit = standardPriceTableYAML + "\n  - {platform: aws-lambda, region: x, unit: GB-fortnight, price: 1, checked: a, source: b}\n"
        #expect(throws: ModelDeckError("t.yaml: price row \(row): unknown unit 'GB-fortnight'; use one of GB-second, vCPU-second, 1M requests, provisioned GB-second, provisioned duration GB-second, GB in, GB out, vCPU-hour, GB-hour, instance-hour")) {
            try PriceTable(yaml: badUnit, source: "t.yaml")
        }
        let badPrice = standardPriceTableYAML + "\n  - {platform: aws-lambda, region: x, unit: GB-second, price: -1, checked: a, source: b}\n"
        #expect(throws: ModelDeckError("t.yaml: price row \(row): price '-1' is not a plain decimal number of dollars")) {
            try PriceTable(yaml: badPrice, source: "t.yaml")
        }
    }
}
