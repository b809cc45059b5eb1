import ArgumentParser
import Foundation
import ModelDeckCLI
import ModelDeckCore

struct CostCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cost",
        abstract: "What a traffic profile would cost on each platform, and what endpoints burn now.",
        subcommands: [CostEstimateCommand.self, CostBurnCommand.self])
}

/// `--prices FILE`, shared by the commands that price something.
struct PriceOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Price table (YAML) to use instead of the built-in one; also $MODELDECK_PRICES.", valueName: "file"),
            completion: .file(extensions: ["yaml", "yml"]))
    var prices: String?

    func load() throws -> PriceTable { try PriceTable.load(path: prices) }
}

struct CostEstimateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "estimate",
        abstract: "Price a traffic profile on Lambda, SageMaker serverless, Fargate, an always-on instance and as a daily batch job.",
        discussion: """
            Per day and per month (30 days) from the price table, with the request rate below which each \
            request-billed option is cheaper than the always-on instance (--instance). Example:
              modeldeck cost estimate --requests 10000/day --duration 200ms --memory 512 --arch arm64
            """)

    @Option(help: ArgumentHelp("Request rate: 10000/day, 5/s, 300/min, 20/h, 1M/month.", valueName: "rate"))
    var requests: String

    @Option(help: ArgumentHelp("How long one request runs, e.g. 200ms.", valueName: "duration"))
    var duration: String

    @Option(help: ArgumentHelp("Memory per instance: 512 (MB), 512MB, 2GB.", valueName: "size"))
    var memory: String

    @Option(help: ArgumentHelp("Request size (data in), e.g. 1KB.", valueName: "size"))
    var payload: String = "1KB"

    @Option(help: ArgumentHelp("Response size (data out); default: the payload size.", valueName: "size"))
    var response: String?

    @Option(help: ArgumentHelp("CPU architecture: x86_64 or arm64.", valueName: "arch"))
    var arch: String = "x86_64"

    @Option(help: ArgumentHelp("Region of the prices.", valueName: "region"))
    var region: String = "us-east-1"

    @Option(help: ArgumentHelp("Always-on instance type to compare with.", valueName: "type"))
    var instance: String = "ml.t2.medium"

    @Option(name: .customLong("batch-instance"), help: ArgumentHelp("Instance type a SageMaker Batch Transform job runs on.", valueName: "type"))
    var batchInstance: String = "ml.m5.large"

    @Flag(name: .customLong("free-tier"), help: "Subtract Lambda's monthly free tier (it is per account: right only for a lone workload).")
    var freeTier = false

    @OptionGroup var prices: PriceOptions

    @Option(name: [.customShort("o"), .long], help: "Output format: table, json or yaml.")
    var output: OutputFormat = .table

    func profile() throws -> TrafficProfile {
        let perDay = try TrafficProfile.requestsPerDay(requests)
        let ms = try Quantity.milliseconds(duration, what: "--duration")
        guard ms > 0 else { throw ModelDeckError("--duration \(duration) must be above zero") }
        guard ms <= Trace.maxDurationMilliseconds else { throw ModelDeckError("--duration \(duration) is over the limit of 1d") }
        let mb = try Quantity.megabytes(memory, what: "--memory")
        guard mb > 0 else { throw ModelDeckError("--memory \(memory) must be above zero") }
        let bytesIn = try Quantity.bytes(payload, what: "--payload")
        let bytesOut = try response.map { try Quantity.bytes($0, what: "--response") } ?? bytesIn
        var profile = TrafficProfile(requestsPerDay: perDay, durationMilliseconds: ms, memoryMB: mb, requestBytes: bytesIn,
                                     responseBytes: bytesOut, architecture: try Architecture.normalized(arch), region: region, instance: instance)
        profile.freeTier = freeTier
        let parts = batchInstance.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0] == "ml", parts.dropFirst().allSatisfy({ !$0.isEmpty && $0.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber) } }) else {
            throw ModelDeckError("--batch-instance '\(batchInstance)' is not a SageMaker instance type such as ml.m5.large")
        }
        profile.batchInstance = batchInstance
        return profile
    }

    func run() throws {
        let profile = try profile()
        let report = try CostEstimate.report(profile, table: try prices.load())
        switch output {
        case .table:
            print("\(requests) × \(Format.duration(milliseconds: profile.durationMilliseconds)) on \(Format.megabytes(profile.memoryMB)), "
                  + "\(report.architecture), \(report.region) — prices of \(report.priceTableVersion); a month is 30 days"
                  + (report.alwaysOnReference.map { "; break-even against \($0)" } ?? "; no always-on price to break even against"))
            print(CostEstimate.table(report).render(), terminator: "")
        case .json, .yaml:
            try Output.printDocument(report, as: output)
        }
    }
}

struct CostBurnCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "burn",
        abstract: "What each endpoint and version costs: $/hour now (last 5 minutes), today, month projected, budget.",
        discussion: "Keep-warm pings are shown apart from user traffic. Read from the registry's metric buckets.")

    @Option(name: [.customShort("o"), .long], help: "Output format: table, json or yaml.")
    var output: OutputFormat = .table

    @OptionGroup var registry: RegistryOptions

    func run() throws {
        let report = try registry.open().costBurn(now: Date())
        switch output {
        case .table: print(CostBurn.table(report).render(), terminator: "")
        case .json, .yaml: try Output.printDocument(report, as: output)
        }
    }
}
