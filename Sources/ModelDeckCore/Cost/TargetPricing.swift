/// How a target's invocations are priced.
///
/// - `aws-lambda`, `sagemaker-serverless`: by the price table for the target's kind, `region` and
///   `architecture` config (default x86_64).
/// - `local`: free, unless it sets `price_as: aws-lambda` (or another invocation-billed platform of the
///   price table): then every invocation is priced as if it ran there, in the target's `region` (default
///   us-east-1) and `architecture` — so the demo and a capacity plan show real burn.
/// - `ecs-fargate` bills running tasks, not invocations; `http` is someone else's bill: neither is priced
///   from invocations.
public enum TargetPricing {
    public static let defaultRegion = "us-east-1"

    /// The platform a target's invocations are priced as, or nil when they cost nothing here.
    public static func platform(of target: Target) -> String? {
        switch target.kind {
        case .local: target.config["price_as"]
        case .awsLambda, .sagemakerServerless: target.kind.rawValue
        case .ecsFargate, .http: nil
        }
    }

    /// Rates for `target`'s invocations, or nil when they cost nothing here; an unknown platform, region or
    /// architecture is an error.
    public static func rates(for target: Target, table: PriceTable) throws -> InvocationRates? {
        guard let platform = platform(of: target) else { return nil }
        return try table.invocationRates(platform: platform, region: target.region ?? defaultRegion,
                                         architecture: target.config["architecture"] ?? "x86_64")
    }

    /// `aws-lambda x86_64 eu-central-1`, or nil when unpriced (free, or no prices for it in `table`).
    public static func label(of target: Target, table: PriceTable) -> String? {
        guard let rates = try? rates(for: target, table: table) else { return nil }
        return "\(rates.platform) \(rates.architecture) \(rates.region)"
    }
}
