import Foundation

/// A traffic profile to price: how many requests, how long each runs, on how much memory.
public struct TrafficProfile: Equatable, Sendable {
    /// Requests per day (a rate such as 10/s is converted; may be fractional).
    public var requestsPerDay: Decimal
    public var durationMilliseconds: Int64
    public var memoryMB: Int
    /// Request body size (data in) and response size (data out), in bytes.
    public var requestBytes: Int64
    public var responseBytes: Int64
    public var architecture: String
    public var region: String
    /// The always-on instance type to compare with (`ml.t2.medium`).
    public var instance: String
    /// The instance type a batch job runs on (SageMaker Batch Transform: `ml.m5.large`).
    public var batchInstance = "ml.m5.large"
    /// Subtract the platforms' monthly free tiers (the whole account's: only right for a lone workload).
    public var freeTier = false

    public init(requestsPerDay: Decimal, durationMilliseconds: Int64, memoryMB: Int, requestBytes: Int64 = 0,
                responseBytes: Int64 = 0, architecture: String = "x86_64", region: String = "us-east-1", instance: String = "ml.t2.medium") {
        self.requestsPerDay = requestsPerDay
        self.durationMilliseconds = durationMilliseconds
        self.memoryMB = memoryMB
        self.requestBytes = requestBytes
        self.responseBytes = responseBytes
        self.architecture = architecture
        self.region = region
        self.instance = instance
    }

    /// Parses a request rate: `10000/day`, `10/s`, `600/min`, `50/h`, `1M/month` (a month is 30 days), into
    /// requests per day.
    public static func requestsPerDay(_ text: String, what: String = "--requests") throws -> Decimal {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        let expected = "use a count per s, min, h, day or month, e.g. 10000/day or 5/s"
        guard parts.count == 2 else { throw ModelDeckError("\(what) '\(text)' is not a request rate; \(expected)") }
        var number = String(parts[0]).trimmingCharacters(in: .whitespaces)
        var scale: Decimal = 1
        if let last = number.last, "kKmM".contains(last) {
            scale = "kK".contains(last) ? 1_000 : 1_000_000
            number.removeLast()
        }
        if number.hasPrefix("-") { throw ModelDeckError("\(what) '\(text)' is negative; a request rate must be above zero") }
        guard !number.isEmpty, number.allSatisfy({ ($0.isASCII && $0.isNumber) || $0 == "." }),
              number.filter({ $0 == "." }).count <= 1,
              let count = Decimal(string: number, locale: Locale(identifier: "en_US_POSIX")) else {
            throw ModelDeckError("\(what) '\(text)' is not a request rate; \(expected)")
        }
        let perDay: Decimal
        switch parts[1].trimmingCharacters(in: .whitespaces).lowercased() {
        case "s", "sec", "second": perDay = 86_400
        case "min", "minute": perDay = 1_440
        case "h", "hour": perDay = 24
        case "d", "day": perDay = 1
        case "month", "mo": perDay = 1
        default: throw ModelDeckError("\(what) '\(text)' has an unknown period '\(parts[1])'; \(expected)")
        }
        // A month is 30 days; divide last so a round monthly count stays exact.
        let rate = count * scale * perDay / (parts[1].lowercased().hasPrefix("mo") ? 30 : 1)
        guard rate > 0 else { throw ModelDeckError("\(what) '\(text)' is zero; a request rate must be above zero") }
        guard rate <= 1_000_000_000_000 else { throw ModelDeckError("\(what) '\(text)' is over 10¹² requests a day") }
        return rate
    }
}

/// One line of `modeldeck cost estimate`: what a profile costs on one platform and option.
public struct CostEstimateRow: Codable, Equatable, Sendable {
    public var platform: String
    public var option: String
    /// Memory as billed (a platform may round up), in MB; nil for instances.
    public var billedMemoryMB: Int?
    public var perDayMicros: Int64?
    public var perMonthMicros: Int64?
    /// Requests a day below which this (request-billed) option is cheaper than the always-on reference.
    public var breakEvenRequestsPerDay: Int64?
    public var note: String?
}

/// The whole estimate: the profile as understood, one row per platform option, and the reference.
public struct CostEstimateReport: Codable, Equatable, Sendable {
    public var priceTableVersion: String
    public var region: String
    public var architecture: String
    public var requestsPerDay: String
    public var durationMs: Int64
    public var memoryMB: Int
    /// What break-even is measured against ("sagemaker-realtime ml.t2.medium").
    public var alwaysOnReference: String?
    /// A month is 30 days (720 hours), as AWS's worked examples count it.
    public var monthDays: Int
    public var rows: [CostEstimateRow]
}

/// Prices a traffic profile on every platform of the price table that has prices in its region. Pure.
public enum CostEstimate {
    public static let monthDays: Decimal = 30

    public static func report(_ profile: TrafficProfile, table: PriceTable) throws -> CostEstimateReport {
        guard table.regions.contains(profile.region) else {
            throw ModelDeckError("unknown region '\(profile.region)'; the price table (version \(table.version)) has \(table.regions.joined(separator: ", "))")
        }
        let arch = try Architecture.normalized(profile.architecture)
        var rows: [CostEstimateRow] = []
        // Per-request platforms first; their break-even is filled in once the always-on reference is known.
        var perRequestCost: [Int: Decimal] = [:]
        for name in table.platformNames {
            let billing = table.platforms[name]!
            switch billing.billing {
            case .invocation:
                do {
                    let rates = try table.invocationRates(platform: name, region: profile.region, architecture: arch)
                    let (memory, note) = billedMemory(profile.memoryMB, on: name)
                    guard let memory else { rows.append(row(name, "on demand", note: note)); continue }
                    let usage = rates.usage(ofOneRunning: profile.durationMilliseconds * 1_000, memoryMB: memory,
                                            bytesIn: profile.requestBytes, bytesOut: profile.responseBytes)
                    let one = rates.cost(usage)
                    perRequestCost[rows.count] = one
                    if profile.freeTier, billing.freeRequestsPerMonth != nil || billing.freeGBSecondsPerMonth != nil {
                        rows.append(row(name, "on demand, free tier", memory: memory,
                                        perDay: afterFreeTier(usage, profile.requestsPerDay, rates, billing) / monthDays,
                                        note: [note, "after \(Format.grouped(billing.freeRequestsPerMonth ?? 0)) requests and "
                                            + "\(Format.grouped(billing.freeGBSecondsPerMonth ?? 0)) GB-s free a month; break-even without it"]
                                            .compactMap { $0 }.joined(separator: "; ")))
                    } else {
                        rows.append(row(name, "on demand", memory: memory, perDay: one * profile.requestsPerDay, note: note))
                    }
                    if let provisioned = try table.provisionedRates(platform: name, region: profile.region, architecture: arch) {
                        // One environment provisioned all day serves the requests at the lower duration price.
                        let enabled = Decimal(memory) * 86_400 * provisioned.perGBSecondEnabled / 1_024
                        let perRequest = rates.perRequest + Decimal(usage.billedMBMilliseconds) * provisioned.perGBSecondDuration / 1_024_000
                        rows.append(row(name, "provisioned ×1", memory: memory, perDay: enabled + perRequest * profile.requestsPerDay,
                                        note: "one environment kept initialised all day; more concurrency costs more"))
                    } else if table.lines.contains(where: { $0.platform == name && $0.region == profile.region && $0.unit == .provisionedGBSecond }) {
                        rows.append(row(name, "provisioned ×1", note: "the price table has no \(arch) provisioned-concurrency price in \(profile.region)"))
                    }
                } catch let error as ModelDeckError {
                    rows.append(row(name, "on demand", note: error.message))
                }
            case .task:
                do {
                    let rates = try table.taskRates(platform: name, region: profile.region, architecture: arch)
                    guard let size = FargateSize.smallest(fitting: profile.memoryMB) else {
                        rows.append(row(name, "task", note: "memory \(Format.megabytes(profile.memoryMB)) is over the largest task size"))
                        continue
                    }
                    let sizeText = "\(size.vcpu) vCPU, \(Format.megabytes(size.memoryMB))"
                    let alwaysOn = rates.cost(billedMilliseconds: 86_400_000, vcpu: size.vcpu, memoryMB: size.memoryMB)
                    rows.append(row(name, "1 task always on", memory: size.memoryMB, perDay: alwaysOn, note: sizeText))
                    let billed = rates.billedMilliseconds(running: profile.durationMilliseconds)
                    let one = rates.cost(billedMilliseconds: billed, vcpu: size.vcpu, memoryMB: size.memoryMB)
                    perRequestCost[rows.count] = one
                    rows.append(row(name, "a task per request", memory: size.memoryMB, perDay: one * profile.requestsPerDay,
                                    note: "\(sizeText); each task billed \(Format.duration(milliseconds: billed))"
                                        + (billed > profile.durationMilliseconds ? " (the minimum)" : "")))
                    let batch = BatchJob(profile)
                    let batchBilled = rates.billedMilliseconds(running: batch.milliseconds)
                    rows.append(row(name, "a batch job a day", memory: size.memoryMB,
                                    perDay: rates.cost(billedMilliseconds: batchBilled, vcpu: size.vcpu, memoryMB: size.memoryMB),
                                    note: "\(sizeText); \(batch.summary) of task time, billed \(Format.duration(milliseconds: batchBilled))"
                                        + (batchBilled > batch.milliseconds && batchBilled == rates.minimumMilliseconds ? " (the minimum)" : "")
                                        + batch.overADay))
                } catch let error as ModelDeckError {
                    rows.append(row(name, "task", note: error.message))
                }
            case .job:
                let batch = BatchJob(profile)
                let hours = batch.hours
                let option = "\(profile.batchInstance), a job a day"
                if let rate = table.instanceRates(platform: name, region: profile.region).first(where: { $0.instance == profile.batchInstance }) {
                    rows.append(row(name, option, perDay: rate.cost(hours: hours), note: "\(batch.summary) on one instance, \(Self.twoDecimals(hours)) instance-hours" + batch.overADay))
                } else {
                    rows.append(row(name, option, note: "\(batch.summary) on one instance, \(Self.twoDecimals(hours)) instance-hours; the price table has no \(name) \(profile.batchInstance) price in \(profile.region)"))
                }
            case .instance:
                let instances = table.instanceRates(platform: name, region: profile.region)
                if instances.isEmpty { rows.append(row(name, "always on", note: "the price table has no \(name) price in \(profile.region)")) }
                for rate in instances {
                    rows.append(row(name, "\(rate.instance) always on", perDay: rate.cost(hours: 24),
                                    note: rate.instance == profile.instance ? "break-even reference" : nil))
                }
            }
        }
        // The reference: the named instance, else one always-on task.
        var reference: (name: String, perDay: Decimal)?
        if let rate = table.platforms.values.filter({ $0.billing == .instance })
            .flatMap({ table.instanceRates(platform: $0.name, region: profile.region) })
            .first(where: { $0.instance == profile.instance }) {
            reference = ("\(rate.platform) \(rate.instance)", rate.cost(hours: 24))
        } else if let index = rows.firstIndex(where: { $0.option == "1 task always on" && $0.perDayMicros != nil }),
                  let rates = try? table.taskRates(platform: rows[index].platform, region: profile.region, architecture: arch),
                  let size = FargateSize.smallest(fitting: profile.memoryMB) {
            reference = ("\(rows[index].platform) 1 task always on", rates.cost(billedMilliseconds: 86_400_000, vcpu: size.vcpu, memoryMB: size.memoryMB))
            rows[index].note = (rows[index].note.map { $0 + "; " } ?? "") + "break-even reference (\(profile.instance) not priced in \(profile.region))"
        }
        if let reference {
            for (index, one) in perRequestCost where one > 0 {
                var breakEven = reference.perDay / one
                var whole = Decimal()
                NSDecimalRound(&whole, &breakEven, 0, .down)
                rows[index].breakEvenRequestsPerDay = NSDecimalNumber(decimal: whole).int64Value
            }
        }
        return CostEstimateReport(priceTableVersion: table.version, region: profile.region, architecture: arch,
                                  requestsPerDay: Self.twoDecimals(profile.requestsPerDay), durationMs: profile.durationMilliseconds,
                                  memoryMB: profile.memoryMB, alwaysOnReference: reference?.name, monthDays: 30, rows: rows)
    }

    /// `33333.33`: a rate as people read it (the figures above use the exact value).
    static func twoDecimals(_ value: Decimal) -> String {
        var source = value, result = Decimal()
        NSDecimalRound(&result, &source, 2, .plain)
        return "\(result)"
    }

    /// A month of `one`-sized requests at `perDay`, less the free requests and GB-seconds: exact.
    static func afterFreeTier(_ one: InvocationUsage, _ perDay: Decimal, _ rates: InvocationRates, _ billing: PlatformBilling) -> Decimal {
        let requests = perDay * monthDays
        let gbSeconds = requests * Decimal(one.billedMBMilliseconds) / 1_024_000
        let paidRequests = max(0, requests - Decimal(billing.freeRequestsPerMonth ?? 0))
        let paidGBSeconds = max(0, gbSeconds - Decimal(billing.freeGBSecondsPerMonth ?? 0))
        return paidRequests * rates.perRequest + paidGBSeconds * rates.perGBSecond
            + requests * (Decimal(one.bytesIn) * rates.perGBIn + Decimal(one.bytesOut) * rates.perGBOut) / 1_000_000_000
    }

    private static func row(_ platform: String, _ option: String, memory: Int? = nil, perDay: Decimal? = nil, note: String? = nil) -> CostEstimateRow {
        CostEstimateRow(platform: platform, option: option, billedMemoryMB: memory, perDayMicros: perDay.map(Money.micros),
                        perMonthMicros: perDay.map { Money.micros($0 * monthDays) }, breakEvenRequestsPerDay: nil, note: note)
    }

    /// Memory a platform bills for `memoryMB`: raised to its minimum or step where it has one, nil above its maximum.
    static func billedMemory(_ memoryMB: Int, on platform: String) -> (Int?, String?) {
        guard let kind = TargetKind(rawValue: platform) else { return (memoryMB, nil) }
        let limits = kind.descriptor.limits
        if memoryMB > limits.memoryMB.upperBound {
            return (nil, "memory \(Format.megabytes(memoryMB)) is over \(platform)'s \(Format.megabytes(limits.memoryMB.upperBound))")
        }
        let low = limits.memoryMB.lowerBound, step = limits.memoryStepMB
        let billed = max(low, low + (memoryMB - low + step - 1) / step * step)
        return billed == memoryMB ? (billed, nil) : (billed, "billed at \(Format.megabytes(billed)), the nearest size \(platform) offers")
    }

    /// A table for people.
    public static func table(_ report: CostEstimateReport) -> Table {
        Table(headers: ["platform", "option", "memory", "per day", "per month", "cheaper than always-on below", "note"],
              rows: report.rows.map { row in
                  [row.platform, row.option, row.billedMemoryMB.map(Format.megabytes) ?? "-",
                   row.perDayMicros.map { Format.dollars(micros: $0) } ?? "-", row.perMonthMicros.map { Format.dollars(micros: $0) } ?? "-",
                   row.breakEvenRequestsPerDay.map(breakEven) ?? "-", row.note ?? ""]
              })
    }

    /// `720,000/day (8.3/s)`.
    static func breakEven(_ perDay: Int64) -> String {
        let tenthsPerSecond = (perDay * 10 + 43_200) / 86_400
        return "\(Format.grouped(perDay))/day (\(Format.grouped(tenthsPerSecond / 10)).\(tenthsPerSecond % 10)/s)"
    }
}

/// A day's requests run as one batch job, one after another on one task or instance: what the batch rows of
/// `cost estimate` price (Fargate: task time billed per second with a one-minute minimum,
/// https://aws.amazon.com/fargate/pricing/; SageMaker Batch Transform: instance-hours while the job runs, on the
/// instance named, https://aws.amazon.com/sagemaker/pricing/ — `ml.m5.large` by default, one of the two types the
/// API reference recommends, https://docs.aws.amazon.com/sagemaker/latest/dg/API_TransformResources.html).
struct BatchJob {
    /// The job's running time: requests × duration, exact to the millisecond (fractional requests rounded up).
    let milliseconds: Int64

    init(_ profile: TrafficProfile) {
        var requests = profile.requestsPerDay, whole = Decimal()
        NSDecimalRound(&whole, &requests, 0, .up)
        milliseconds = NSDecimalNumber(decimal: whole).int64Value * profile.durationMilliseconds
    }

    var hours: Decimal { Decimal(milliseconds) / 3_600_000 }

    /// `2h 46m 40s` of running time.
    var summary: String { "requests × duration = \(Format.duration(milliseconds: milliseconds))" }

    /// A job longer than a day cannot run on one task once a day; the time (and so the cost) is the same split
    /// over several in parallel.
    var overADay: String { milliseconds > 86_400_000 ? "; over a day: split it over tasks in parallel (the same time in all)" : "" }
}
