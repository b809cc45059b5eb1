/// One setting a deck may give a target of some kind (`role_arn`, `port`, …): whether it is required, its
/// default, and a check of its value, so `apply` refuses a bad setting with one line instead of the daemon
/// failing later.
public struct ConfigKey: Sendable {
    public let name: String
    /// What the setting is, said when it is missing: "the execution role Lambda assumes to run the function".
    public let meaning: String
    public let required: Bool
    /// Other settings that satisfy a required one when given instead (SageMaker: `role_arn` for
    /// `execution_role_arn`).
    public let satisfiedBy: [String]
    /// The value used when the target gives none.
    public let defaultValue: String?
    /// Whether a deck gives it as a mapping (`headers: {Authorization: …}`), stored as one `key: value` a line in
    /// the deck's order.
    public let isMapping: Bool
    /// Nil when `value` is fine, else what is wrong, as the end of a sentence that starts with the key and
    /// value: "must be an IAM role ARN, arn:aws:iam::ACCOUNT:role/NAME".
    public let check: @Sendable (String) -> String?

    public init(_ name: String, meaning: String, required: Bool = false, satisfiedBy: [String] = [],
                default defaultValue: String? = nil, isMapping: Bool = false, check: @escaping @Sendable (String) -> String? = { _ in nil }) {
        self.name = name
        self.meaning = meaning
        self.required = required
        self.satisfiedBy = satisfiedBy
        self.defaultValue = defaultValue
        self.isMapping = isMapping
        self.check = check
    }
}

/// Checks shared by several kinds' settings.
public enum ConfigChecks {
    /// x86_64 or arm64 (amd64, x86, aarch64, arm are read as those), the two architectures AWS Lambda and
    /// Fargate offer (https://docs.aws.amazon.com/lambda/latest/dg/foundation-arch.html).
    @Sendable public static func architecture(_ value: String) -> String? {
        (try? Architecture.normalized(value)) == nil ? "must be x86_64 or arm64" : nil
    }

    /// An IAM role ARN, `arn:PARTITION:iam::ACCOUNT:role/[PATH/]NAME`: the partition `aws`, `aws-cn` or
    /// `aws-us-gov`, a 12-digit account id, and a role name of 1–64 letters, digits and `+=,.@_-`
    /// (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference-arns.html,
    /// https://docs.aws.amazon.com/IAM/latest/APIReference/API_Role.html).
    @Sendable public static func iamRoleARN(_ value: String) -> String? {
        AWSNames.isRoleARN(value) ? nil : "must be an IAM role ARN, arn:aws:iam::ACCOUNT:role/NAME (a 12-digit account id)"
    }

    /// A whole number in `range`.
    public static func integer(in range: ClosedRange<Int>) -> @Sendable (String) -> String? {
        { value in Int(value).map { range.contains($0) } == true ? nil : "must be a whole number from \(range.lowerBound) to \(range.upperBound)" }
    }

    /// Any text without spaces or control characters, at most `limit` characters.
    public static func token(max limit: Int) -> @Sendable (String) -> String? {
        { value in
            !value.isEmpty && value.count <= limit && value.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value != 0x7F })
                ? nil : "must be 1–\(limit) characters without spaces"
        }
    }
}

/// The shapes of AWS names, checked by hand: each is a short character-class rule from AWS's API reference,
/// simpler to state than a regular expression.
enum AWSNames {
    /// `us-east-1`, `eu-central-1`, `us-gov-west-1`, `ap-southeast-4`: letters and hyphens, then a number
    /// (https://docs.aws.amazon.com/global-infrastructure/latest/regions/aws-regions.html).
    static func isRegion(_ text: String) -> Bool { AWSRegion.isValid(text) }

    static func isRoleARN(_ text: String) -> Bool {
        let parts = text.split(separator: ":", maxSplits: 5, omittingEmptySubsequences: false)
        guard parts.count == 6, parts[0] == "arn", ["aws", "aws-cn", "aws-us-gov"].contains(parts[1]), parts[2] == "iam",
              parts[3].isEmpty, parts[4].count == 12, parts[4].allSatisfy(\.isASCIIDigit), parts[5].hasPrefix("role/") else { return false }
        // role/NAME or role/PATH/NAME: a path is printable ASCII; the name is 1–64 of [A-Za-z0-9+=,.@_-].
        let resource = parts[5].dropFirst("role/".count)
        guard let name = resource.split(separator: "/", omittingEmptySubsequences: false).last,
              resource.allSatisfy({ $0.isASCII && $0 > " " && $0 != "\u{7F}" }) else { return false }
        return (1...64).contains(name.count) && name.allSatisfy { $0.isASCIIAlphanumeric || "+=,.@_-".contains($0) }
    }

    /// Letters, digits, hyphens and underscores only (Lambda function names).
    static func isFunctionNamePart(_ text: Substring) -> Bool {
        text.allSatisfy { $0.isASCIIAlphanumeric || $0 == "-" || $0 == "_" }
    }
}

extension Character {
    var isASCIIDigit: Bool { isASCII && isNumber }
    var isASCIIAlphanumeric: Bool { isASCII && (isLetter || isNumber) }
}
