import Foundation
import Testing
@testable import ModelDeckCore

/// The built-in price table (`PriceTableData.swift`) holds the list prices AWS's pricing pages publish; these
/// tests pin the rows the cost engine relies on, how a target finds its rates (region and architecture
/// defaults, never a guess for a region the table lacks), and a replacement table from a file.
struct PriceTableTests {
    let table = PriceTable.standard

    func decimal(_ text: String) -> Decimal { Decimal(string: text, locale: Locale(identifier: "en_US_POSIX"))! }

    /// https://aws.amazon.com/lambda/pricing/: x86 $0.0000166667 and Arm $0.0000133334 per GB-second, $0.20 per
    /// million requests, in us-east-1 and eu-central-1 alike; billed per 1 ms.
    @Test func lambdaPricesAreAWSsListPrices() throws {
        for region in ["us-east-1", "eu-central-1"] {
            let x86 = try table.invocationRates(platform: "aws-lambda", region: region, architecture: "x86_64")
            #expect(x86.perGBSecond == decimal("0.0000166667"), "\(region)")
            #expect(x86.perRequest == decimal("0.0000002"), "\(region): $0.20 per 1M requests")
            #expect(x86.granularityMilliseconds == 1 && x86.minimumMilliseconds == 1)
            let arm = try table.invocationRates(platform: "aws-lambda", region: region, architecture: "arm64")
            #expect(arm.perGBSecond == decimal("0.0000133334"), "\(region)")
            #expect(arm.perRequest == x86.perRequest)
        }
        let requests = try table.line("aws-lambda", "us-east-1", .millionRequests)
        #expect(requests.price == decimal("0.20") && requests.arch == nil)
        #expect(table.platforms["aws-lambda"]?.freeRequestsPerMonth == 1_000_000)
        #expect(table.platforms["aws-lambda"]?.freeGBSecondsPerMonth == 400_000)
    }

    @Test func otherPlatformsPricesAndBillingRules() throws {
        let sagemaker = try table.invocationRates(platform: "sagemaker-serverless", region: "us-east-1", architecture: "x86_64")
        #expect(sagemaker.perGBSecond == decimal("0.00002") && sagemaker.perRequest == 0)
        #expect(sagemaker.perGBIn == decimal("0.016") && sagemaker.perGBOut == decimal("0.016"))
        let fargate = try table.taskRates(platform: "ecs-fargate", region: "us-east-1", architecture: "x86_64")
        #expect(fargate.perVCPUHour == decimal("0.04048") && fargate.perGBHour == decimal("0.004445"))
        #expect(fargate.granularityMilliseconds == 1_000 && fargate.minimumMilliseconds == 60_000, "per second, one-minute minimum")
        let armFargate = try table.taskRates(platform: "ecs-fargate", region: "us-east-1", architecture: "arm64")
        #expect(armFargate.perVCPUHour == decimal("0.03238") && armFargate.perGBHour == decimal("0.00356"))
        let instances = table.instanceRates(platform: "sagemaker-realtime", region: "us-east-1")
        #expect(instances.map(\.instance) == ["ml.t2.medium", "ml.m5.large"])
        #expect(instances.map(\.perHour) == [decimal("0.056"), decimal("0.115")])
        let provisioned = try #require(try table.provisionedRates(platform: "aws-lambda", region: "eu-central-1", architecture: "x86_64"))
        #expect(provisioned.perGBSecondEnabled == decimal("0.0000050147") && provisioned.perGBSecondDuration == decimal("0.0000117011"))
        #expect(try table.provisionedRates(platform: "aws-lambda", region: "us-east-1", architecture: "arm64") == nil, "Arm not in the table")
    }

    @Test func everyRowSaysWhenItWasCheckedAndWhereItComesFrom() {
        #expect(!table.lines.isEmpty)
        for line in table.lines {
            #expect(line.source.hasPrefix(line.platform == "google-cloud-run" ? "https://cloud.google.com/run/pricing" : "https://aws.amazon.com/"), "\(line)")
            #expect(line.checked.count == 10 && line.price > 0, "\(line)")
            #expect(table.platforms[line.platform]?.source.hasPrefix("https://") == true)
        }
        #expect(table.platformNames == ["aws-lambda", "google-cloud-run", "sagemaker-serverless", "ecs-fargate", "sagemaker-realtime", "sagemaker-batch-transform"])
    }

    /// A target priced without a region is priced in us-east-1, without an architecture as x86_64; a region or
    /// an architecture the table lacks is an error that names what it has, never another region's price.
    @Test func regionAndArchitectureFallbacks() throws {
        let local = Target(name: "box", kind: .local, config: ["price_as": "aws-lambda"])
        let rates = try #require(try TargetPricing.rates(for: local, table: table))
        #expect(rates.region == "us-east-1" && rates.architecture == "x86_64")
        #expect(TargetPricing.label(of: local, table: table) == "aws-lambda x86_64 us-east-1")

        let arm = Target(name: "box", kind: .local, region: "eu-central-1", config: ["price_as": "aws-lambda", "architecture": "aarch64"])
        #expect(try TargetPricing.rates(for: arm, table: table)?.perGBSecond == decimal("0.0000133334"))

        #expect(throws: ModelDeckError("unknown region 'ap-south-1'; the price table (version 2026-11-30) has us-east-1, eu-central-1, us-central1, europe-west1")) {
            try table.invocationRates(platform: "aws-lambda", region: "ap-south-1", architecture: "x86_64")
        }
        // SageMaker serverless is not checked in eu-central-1: missing, not borrowed from us-east-1.
        #expect(throws: ModelDeckError("the price table (version 2026-11-30) has no sagemaker-serverless price per GB-second (x86_64) in eu-central-1")) {
            try table.invocationRates(platform: "sagemaker-serverless", region: "eu-central-1", architecture: "x86_64")
        }
        let sagemakerEU = Target(name: "sm", kind: .sagemakerServerless, region: "eu-central-1")
        #expect(TargetPricing.label(of: sagemakerEU, table: table) == nil, "shown as not priced")
        #expect(throws: ModelDeckError("architecture 'sparc' is not known; use x86_64 or arm64")) {
            try table.invocationRates(platform: "aws-lambda", region: "us-east-1", architecture: "sparc")
        }
        #expect(throws: ModelDeckError("platform 'ecs-fargate' is billed per task, not per invocation")) {
            try table.invocationRates(platform: "ecs-fargate", region: "us-east-1", architecture: "x86_64")
        }
        // Kinds that are not priced from invocations.
        #expect(try TargetPricing.rates(for: Target(name: "f", kind: .ecsFargate, region: "us-east-1"), table: table) == nil)
        #expect(try TargetPricing.rates(for: Target(name: "h", kind: .http, config: ["url": "http://x"]), table: table) == nil)
        #expect(try TargetPricing.rates(for: Target(name: "free", kind: .local), table: table) == nil)
        // Fargate is priced by task time: its target's region and architecture pick the rates, and burn says so.
        let fargate = Target(name: "f", kind: .ecsFargate, region: "eu-central-1")
        #expect(try TargetPricing.taskRates(for: fargate, table: table)?.perVCPUHour == Decimal(string: "0.04656"))
        #expect(TargetPricing.label(of: fargate, table: table) == "ecs-fargate x86_64 eu-central-1")
        #expect(try TargetPricing.taskRates(for: Target(name: "l", kind: .awsLambda, region: "us-east-1"), table: table) == nil)
    }

    /// `--prices FILE` / `$MODELDECK_PRICES` (both end in `PriceTable.load(path:)`) replace the whole table.
    @Test func aTableFromAFileReplacesTheBuiltInOne() throws {
        let path = NSTemporaryDirectory() + "modeldeck-prices-\(UUID().uuidString).yaml"
        defer { try? FileManager.default.removeItem(atPath: path) }
        let cheaper = standardPriceTableYAML
            .replacingOccurrences(of: "version: \"2026-11-30\"", with: "version: \"my-2027\"")
            .replacingOccurrences(of: "region: us-east-1, arch: x86_64, unit: GB-second, price: 0.0000166667",
                                  with: "region: us-east-1, arch: x86_64, unit: GB-second, price: 0.00001")
        try cheaper.write(toFile: path, atomically: true, encoding: .utf8)
        let loaded = try PriceTable.load(path: path)
        #expect(loaded.version == "my-2027")
        #expect(try loaded.invocationRates(platform: "aws-lambda", region: "us-east-1", architecture: "x86_64").perGBSecond == decimal("0.00001"))
        #expect(try loaded.invocationRates(platform: "aws-lambda", region: "eu-central-1", architecture: "x86_64").perGBSecond == decimal("0.0000166667"))
        #expect(loaded != table)
    }

    @Test func aBrokenTableFileIsRefusedWithOneLineNamingItAndTheProblem() throws {
        let path = NSTemporaryDirectory() + "modeldeck-prices-\(UUID().uuidString).yaml"
        defer { try? FileManager.default.removeItem(atPath: path) }
        let cases: [(String, String)] = [
            ("prices: [", "\(path): malformed YAML"),
            ("version: x\nplatforms: {}\n", "\(path): no prices"),
            ("version: x\nplatforms:\n  aws-lambda: {billing: sometimes}\nprices: []\n",
             "\(path): platform 'aws-lambda': billing must be invocation, task, instance or job"),
            ("version: x\nplatforms:\n  aws-lambda: {billing: invocation}\nprices:\n  - {platform: aws-lambda, region: us-east-1, unit: GB-second, price: '1e-5', checked: x, source: y}\n",
             "\(path): price row 1: price '1e-5' is not a plain decimal number of dollars"),
            ("version: x\nplatforms:\n  aws-lambda: {billing: invocation}\nprices:\n  - {platform: gcp-run, region: us-east-1, unit: GB-second, price: 1, checked: x, source: y}\n",
             "\(path): price row 1: platform 'gcp-run' is not declared under platforms"),
            ("version: x\nplatforms:\n  aws-lambda: {billing: invocation}\nprices:\n  - {platform: aws-lambda, region: us-east-1, unit: GB-minute, price: 1, checked: x, source: y}\n",
             "\(path): price row 1: unknown unit 'GB-minute'"),
        ]
        for (text, expected) in cases {
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            let error = #expect(throws: ModelDeckError.self) { try PriceTable.load(path: path) }
            #expect(error?.message.hasPrefix(expected) == true, "\(error?.message ?? "no error") for \(text)")
            #expect(error?.message.contains("\n") == false)
        }
        #expect(throws: ModelDeckError("cannot read price table \(path).missing")) { try PriceTable.load(path: path + ".missing") }
    }
}
