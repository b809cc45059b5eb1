import Foundation
import Yams

/// How a platform bills, as the price table declares it.
public enum BillingModel: String, Codable, Sendable {
    /// Each request pays a fee plus its duration × memory (Lambda, SageMaker serverless).
    case invocation
    /// A running task pays vCPU and memory by time, with a minimum per task (Fargate).
    case task
    /// An always-on instance pays by the hour, busy or not (SageMaker real-time).
    case instance
    /// An instance pays by the hour only while a batch job runs on it (SageMaker Batch Transform).
    case job
}

/// What one price row prices. The raw values are the units as the YAML (and AWS's pages) write them.
public enum PriceUnit: String, Codable, CaseIterable, Sendable {
    case gbSecond = "GB-second"
    case vcpuSecond = "vCPU-second"
    case millionRequests = "1M requests"
    case provisionedGBSecond = "provisioned GB-second"
    case provisionedDurationGBSecond = "provisioned duration GB-second"
    case gbIn = "GB in"
    case gbOut = "GB out"
    case vcpuHour = "vCPU-hour"
    case gbHour = "GB-hour"
    case instanceHour = "instance-hour"
}

/// One row of the price table: a list price with where it holds and where it comes from.
public struct PriceLine: Codable, Equatable, Sendable {
    public var platform: String
    public var region: String
    /// `x86_64` or `arm64`; nil when the price is the same for both (request fees).
    public var arch: String?
    /// Instance type for always-on platforms (`ml.t2.medium`).
    public var instance: String?
    public var unit: PriceUnit
    /// Dollars per `unit`, exact as written in the table.
    public var price: Decimal
    public var checked: String
    public var source: String
}

/// A platform's billing rules: the model, and the granularity and minimum of billed time.
public struct PlatformBilling: Codable, Equatable, Sendable {
    public var name: String
    public var billing: BillingModel
    public var granularityMilliseconds: Int64
    public var minimumMilliseconds: Int64
    /// Free requests and GB-seconds a month (Lambda: 1M and 400,000), if the platform has a free tier.
    public var freeRequestsPerMonth: Int64?
    public var freeGBSecondsPerMonth: Int64?
    public var source: String
}

/// The versioned price table (see `PriceTableData.swift`): every price the cost engine uses, per platform,
/// region and architecture, with the date it was checked and its source. Looking a price up never guesses:
/// a platform, region or architecture the table lacks is an error that names what the table has.
public struct PriceTable: Equatable, Sendable {
    public var version: String
    public var platforms: [String: PlatformBilling]
    public var lines: [PriceLine]

    /// The table shipped in the binary.
    public static let standard: PriceTable = {
        do { return try PriceTable(yaml: standardPriceTableYAML, source: "the built-in price table") } catch {
            // Only a broken edit of PriceTableData.swift gets here, and PriceTableTests catch that first.
            preconditionFailure("built-in price table: \(error)")
        }
    }()

    /// `path`, else `$MODELDECK_PRICES`, else the built-in table.
    public static func load(path: String? = nil) throws -> PriceTable {
        guard let file = path ?? ProcessInfo.processInfo.environment["MODELDECK_PRICES"], !file.isEmpty else { return standard }
        guard let data = FileManager.default.contents(atPath: file) else { throw ModelDeckError("cannot read price table \(file)") }
        return try PriceTable(yaml: String(decoding: data, as: UTF8.self), source: file)
    }

    public init(yaml: String, source: String) throws {
        func fail(_ message: String) -> ModelDeckError { ModelDeckError("\(source): \(message)") }
        let root: Node?
        try YAMLBudget.check(yaml, name: source)
        do { root = try Yams.compose(yaml: yaml) } catch { throw fail("malformed YAML: \(error)") }
        guard let top = root?.mapping else { throw fail("expected a mapping with version, platforms and prices") }
        guard let version = top["version"]?.string, !version.isEmpty else { throw fail("no version") }
        self.version = version
        guard let platformNodes = top["platforms"]?.mapping else { throw fail("no platforms") }
        var platforms: [String: PlatformBilling] = [:]
        for (key, node) in platformNodes {
            guard let name = key.string, let fields = node.mapping else { throw fail("platform entries are name: {billing: …}") }
            guard let text = fields["billing"]?.string, let billing = BillingModel(rawValue: text) else {
                throw fail("platform '\(name)': billing must be invocation, task, instance or job")
            }
            func milliseconds(_ key: String, default value: Int64) throws -> Int64 {
                guard let text = fields[key]?.string else { return value }
                return try Quantity.milliseconds(text, what: "platform '\(name)' \(key)")
            }
            let free = fields["free_tier"]?.mapping
            func amount(_ key: String) throws -> Int64? {
                guard let text = free?[key]?.string else { return nil }
                guard let value = Int64(text), value >= 0 else { throw fail("platform '\(name)': free_tier \(key) '\(text)' is not a whole number") }
                return value
            }
            platforms[name] = PlatformBilling(name: name, billing: billing,
                                              granularityMilliseconds: max(1, try milliseconds("granularity", default: 1)),
                                              minimumMilliseconds: try milliseconds("minimum", default: 0),
                                              freeRequestsPerMonth: try amount("requests"), freeGBSecondsPerMonth: try amount("gb_seconds"),
                                              source: fields["source"]?.string ?? "")
        }
        self.platforms = platforms
        guard let rows = top["prices"]?.sequence else { throw fail("no prices") }
        var lines: [PriceLine] = []
        for (index, node) in rows.enumerated() {
            let row = "price row \(index + 1)"
            guard let fields = node.mapping else { throw fail("\(row) is not a mapping") }
            func required(_ key: String) throws -> String {
                guard let value = fields[key]?.string, !value.isEmpty else { throw fail("\(row) has no \(key)") }
                return value
            }
            let platform = try required("platform")
            guard platforms[platform] != nil else { throw fail("\(row): platform '\(platform)' is not declared under platforms") }
            let unitText = try required("unit")
            guard let unit = PriceUnit(rawValue: unitText) else {
                throw fail("\(row): unknown unit '\(unitText)'; use one of \(PriceUnit.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            // The scalar's own text, so 0.0000166667 is never rounded through a Double.
            let priceText = try required("price")
            guard priceText.allSatisfy({ ($0.isASCII && $0.isNumber) || $0 == "." }),
                  let price = Decimal(string: priceText, locale: Locale(identifier: "en_US_POSIX")) else {
                throw fail("\(row): price '\(priceText)' is not a plain decimal number of dollars")
            }
            let arch = try fields["arch"]?.string.map { try Architecture.normalized($0) }
            lines.append(PriceLine(platform: platform, region: try required("region"), arch: arch, instance: fields["instance"]?.string,
                                   unit: unit, price: price, checked: try required("checked"), source: try required("source")))
        }
        self.lines = lines
    }

    /// Regions with at least one price, in table order.
    public var regions: [String] {
        var seen: [String] = []
        for line in lines where !seen.contains(line.region) { seen.append(line.region) }
        return seen
    }

    /// Platform names, invocation-billed first, then tasks, then instances; by name within each.
    public var platformNames: [String] {
        let order: [BillingModel] = [.invocation, .task, .instance, .job]
        return platforms.values.sorted {
            (order.firstIndex(of: $0.billing)!, $0.name) < (order.firstIndex(of: $1.billing)!, $1.name)
        }.map(\.name)
    }

    /// Checks a platform and region exist in the table (used to refuse bad input before anything runs).
    public func billing(of platform: String, in region: String) throws -> PlatformBilling {
        guard let billing = platforms[platform] else {
            throw ModelDeckError("unknown platform '\(platform)'; the price table (version \(version)) has \(platformNames.joined(separator: ", "))")
        }
        guard regions.contains(region) else {
            throw ModelDeckError("unknown region '\(region)'; the price table (version \(version)) has \(regions.joined(separator: ", "))")
        }
        return billing
    }

    /// The row for `unit` on `platform` in `region` (for `arch` or for any, and for `instance` when given).
    public func line(_ platform: String, _ region: String, _ unit: PriceUnit, arch: String? = nil, instance: String? = nil) throws -> PriceLine {
        let found = lines.first {
            $0.platform == platform && $0.region == region && $0.unit == unit
                && ($0.arch == nil || $0.arch == arch) && (instance == nil || $0.instance == instance)
        }
        guard let found else {
            let what = [arch, instance].compactMap { $0 }.joined(separator: ", ")
            throw ModelDeckError("the price table (version \(version)) has no \(platform) price per \(unit.rawValue)\(what.isEmpty ? "" : " (\(what))") in \(region)")
        }
        return found
    }

    private func optionalLine(_ platform: String, _ region: String, _ unit: PriceUnit, arch: String?) -> PriceLine? {
        try? line(platform, region, unit, arch: arch)
    }

    /// Rates of a platform billed per invocation.
    public func invocationRates(platform: String, region: String, architecture: String) throws -> InvocationRates {
        let billing = try billing(of: platform, in: region)
        guard billing.billing == .invocation else {
            throw ModelDeckError("platform '\(platform)' is billed per \(billing.billing.rawValue), not per invocation")
        }
        let arch = try Architecture.normalized(architecture)
        let duration = try line(platform, region, .gbSecond, arch: arch)
        let requests = optionalLine(platform, region, .millionRequests, arch: arch)
        let dataIn = optionalLine(platform, region, .gbIn, arch: arch), dataOut = optionalLine(platform, region, .gbOut, arch: arch)
        let cpu = optionalLine(platform, region, .vcpuSecond, arch: arch)
        return InvocationRates(platform: platform, region: region, architecture: arch,
                               perRequest: (requests?.price ?? 0) / 1_000_000, perGBSecond: duration.price,
                               perGBIn: dataIn?.price ?? 0, perGBOut: dataOut?.price ?? 0, perVCPUSecond: cpu?.price ?? 0,
                               granularityMilliseconds: billing.granularityMilliseconds, minimumMilliseconds: billing.minimumMilliseconds,
                               lines: [duration] + [cpu, requests, dataIn, dataOut].compactMap { $0 })
    }

    /// Rates of a platform billed per running task.
    public func taskRates(platform: String, region: String, architecture: String) throws -> TaskRates {
        let billing = try billing(of: platform, in: region)
        guard billing.billing == .task else {
            throw ModelDeckError("platform '\(platform)' is billed per \(billing.billing.rawValue), not per task")
        }
        let arch = try Architecture.normalized(architecture)
        let vcpu = try line(platform, region, .vcpuHour, arch: arch), memory = try line(platform, region, .gbHour, arch: arch)
        return TaskRates(platform: platform, region: region, architecture: arch, perVCPUHour: vcpu.price, perGBHour: memory.price,
                         granularityMilliseconds: billing.granularityMilliseconds, minimumMilliseconds: billing.minimumMilliseconds,
                         lines: [vcpu, memory])
    }

    /// Instance types priced for an always-on (or batch-job) platform in a region.
    public func instanceRates(platform: String, region: String) -> [InstanceRate] {
        lines.filter { $0.platform == platform && $0.region == region && $0.unit == .instanceHour && $0.instance != nil }
            .map { InstanceRate(platform: platform, region: region, instance: $0.instance!, perHour: $0.price, line: $0) }
    }

    /// Provisioned-concurrency rates of a platform that has them (Lambda), or nil.
    public func provisionedRates(platform: String, region: String, architecture: String) throws -> ProvisionedRates? {
        let arch = try Architecture.normalized(architecture)
        guard let enabled = optionalLine(platform, region, .provisionedGBSecond, arch: arch),
              let duration = optionalLine(platform, region, .provisionedDurationGBSecond, arch: arch) else { return nil }
        return ProvisionedRates(perGBSecondEnabled: enabled.price, perGBSecondDuration: duration.price, lines: [enabled, duration])
    }
}

/// CPU architectures the price table distinguishes.
public enum Architecture {
    public static let all = ["x86_64", "arm64"]

    public static func normalized(_ text: String) throws -> String {
        switch text.lowercased() {
        case "x86_64", "x86", "amd64": return "x86_64"
        case "arm64", "arm", "aarch64": return "arm64"
        default: throw ModelDeckError("architecture '\(text)' is not known; use x86_64 or arm64")
        }
    }
}
