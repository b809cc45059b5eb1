import Foundation
import ModelDeckCore

/// The Lambda REST-JSON shapes the driver sends and reads, with AWS's own member names
/// (https://docs.aws.amazon.com/lambda/latest/api/API_Operations.html). Only the members the driver uses.
enum LambdaAPI {
    static let basePath = "/2015-03-31/functions"

    struct Environment: Codable, Equatable {
        var Variables: [String: String]?
    }

    /// `GetFunctionConfiguration`, one entry of `ListVersionsByFunction`, and the answer of the calls that change a function.
    struct FunctionConfiguration: Decodable {
        var FunctionName: String
        var Version: String
        var Description: String?
        var MemorySize: Int?
        var Timeout: Int?
        var Role: String?
        var Runtime: String?
        var Handler: String?
        var PackageType: String?
        var Architectures: [String]?
        var Environment: Environment?
        /// `Pending`, `Active`, `Inactive`, `Failed`.
        var State: String?
        var StateReason: String?
        /// `InProgress`, `Successful`, `Failed`.
        var LastUpdateStatus: String?
        var LastUpdateStatusReason: String?
    }

    struct VersionList: Decodable {
        var Versions: [FunctionConfiguration]
        var NextMarker: String?
    }

    struct Code: Encodable {
        var ZipFile: String?
        var S3Bucket: String?
        var S3Key: String?
        var ImageUri: String?
    }

    struct CreateFunction: Encodable {
        var FunctionName: String
        var Role: String
        var PackageType: String
        var Code: Code
        var Runtime: String?
        var Handler: String?
        var MemorySize: Int
        var Timeout: Int
        var Architectures: [String]
        var Environment: Environment
        var Description: String
        var Publish = false
    }

    struct UpdateFunctionCode: Encodable {
        var ZipFile: String?
        var S3Bucket: String?
        var S3Key: String?
        var ImageUri: String?
        var Architectures: [String]
        var Publish = false
    }

    struct UpdateFunctionConfiguration: Encodable {
        var Role: String
        var Runtime: String?
        var Handler: String?
        var MemorySize: Int
        var Timeout: Int
        var Environment: Environment
    }

    struct PublishVersion: Encodable {
        var Description: String
    }

    struct RoutingConfig: Codable, Equatable {
        /// Published version number → share of the alias's traffic (0…1).
        var AdditionalVersionWeights: [String: Double]?
    }

    struct Alias: Decodable {
        var Name: String
        var FunctionVersion: String
        var RoutingConfig: RoutingConfig?
    }

    struct CreateAlias: Encodable {
        var Name: String
        var FunctionVersion: String
        var Description: String
        var RoutingConfig: RoutingConfig?
    }

    struct UpdateAlias: Encodable {
        var FunctionVersion: String
        /// An empty `AdditionalVersionWeights` is how Lambda is told to drop the routing config.
        var RoutingConfig: RoutingConfig
    }
}

/// What Lambda's `REPORT` log line says about one invocation — the last line of the log tail an `Invoke` with
/// `X-Amz-Log-Type: Tail` returns, base64-encoded, in `X-Amz-Log-Result`:
///
///     REPORT RequestId: 8f5a…	Duration: 12.34 ms	Billed Duration: 13 ms	Memory Size: 128 MB	Max Memory Used: 40 MB	Init Duration: 180.55 ms
///
/// Fields are tab-separated; `Init Duration` appears only when the invocation started a new execution
/// environment (a cold start). https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs.html
public struct LambdaReport: Equatable, Sendable {
    /// Nil when the line's figure was refused (see `refused`).
    public var durationMilliseconds: Double?
    public var billedMilliseconds: Int64?
    public var memoryMB: Int?
    public var maxMemoryUsedMB: Int?
    /// Present on a cold start only.
    public var initMilliseconds: Double?
    /// Fields left out because no Lambda invocation can report them (`"Memory Size: 1e300 MB"`), as the line had them.
    public var refused: [String] = []

    /// The most milliseconds one invocation's line can carry: Lambda's longest timeout (900 s) for the run, as
    /// much again for an init phase (which Lambda caps far lower).
    public static let maxMilliseconds = Double(2 * (LambdaTarget.descriptor.limits.maxTimeoutSeconds ?? 900) * 1_000)
    /// The memory a function can have (`LambdaTarget`'s limits).
    public static let memoryMB = LambdaTarget.descriptor.limits.memoryMB

    public var coldStart: Bool { initMilliseconds != nil }

    /// The last `REPORT` line of `log`, or nil when there is none (a log tail cut short, or moto, which returns no tail).
    public static func parse(log: String) -> LambdaReport? {
        guard let line = log.split(whereSeparator: \.isNewline).last(where: { $0.hasPrefix("REPORT ") }) else { return nil }
        // Some log pipelines turn the tabs into spaces: split after each unit instead.
        let fields: [Substring] = line.contains("\t")
            ? line.split(separator: "\t")
            : line.replacing(/(RequestId: \S+|\s(?:ms|MB))\s+/, with: { "\($0.output.1)\t" }).split(separator: "\t")
        var values: [String: Substring] = [:]
        for field in fields {
            guard let colon = field.range(of: ": ") else { continue }
            let key = field[..<colon.lowerBound].trimmingCharacters(in: .whitespaces)
            values[key.hasPrefix("REPORT ") ? String(key.dropFirst("REPORT ".count)) : key] = field[colon.upperBound...]
        }
        guard values["Duration"] != nil else { return nil }
        // Within what Lambda itself allows, or left out and named: the log tail is text from the function
        // itself, and a billed duration or memory size beyond Lambda's limits would be priced as if real
        // (10¹² MB × 10¹² ms overflowed the cost's arithmetic and ended the daemon).
        var refused: [String] = []
        func number(_ key: String, in range: ClosedRange<Double>) -> Double? {
            guard let text = values[key] else { return nil }
            guard let value = Double(text.split(separator: " ").first ?? ""), range.contains(value) else {  // NaN is in no range
                refused.append("\(key): \(text.prefix(40))")
                return nil
            }
            return value
        }
        let duration = 0...maxMilliseconds
        let memory = Double(Self.memoryMB.lowerBound)...Double(Self.memoryMB.upperBound)
        return LambdaReport(durationMilliseconds: number("Duration", in: duration),
                            billedMilliseconds: number("Billed Duration", in: duration).map { Int64($0.rounded(.up)) },
                            memoryMB: number("Memory Size", in: memory).map { Int($0) },
                            maxMemoryUsedMB: number("Max Memory Used", in: 0...memory.upperBound).map { Int($0) },
                            initMilliseconds: number("Init Duration", in: duration), refused: refused)
    }

    /// Decodes the `X-Amz-Log-Result` header (base64 of the last 4 KB of the log) and parses it.
    public static func parse(logResult base64: String) -> LambdaReport? {
        guard let data = Data(base64Encoded: base64), let text = String(data: data, encoding: .utf8) else { return nil }
        return parse(log: text)
    }
}
