import Foundation

/// How a target's invocations are priced, as its descriptor says (`TargetDescriptor.pricing`):
///
/// - `.platform(name)` (aws-lambda, sagemaker-serverless): by the price table for that platform, the target's
///   `region` and `architecture` config (default x86_64).
/// - `.configured(key)` (local, `price_as`): free, unless the setting names an invocation-billed platform of the
///   price table: then every invocation is priced as if it ran there, in the target's `region` (default
///   us-east-1) and `architecture` — so the demo and a capacity plan show real burn.
/// - `.tasks(name)`: ecs-fargate bills running tasks, not invocations: its invocations cost nothing apart, and
///   the driver's task time is priced with `taskRates` (per second, one-minute minimum per task).
/// - `.instances` (sagemaker-realtime): invocations cost nothing more; the instances cost by the hour
///   (`instanceRate`), busy or not.
/// - http (`price_as`, as local): free unless it names a platform; its probes and pings are then priced there
///   (Google Cloud Run's request-based prices, say, in `us-central1`).
public enum TargetPricing {
    public static let defaultRegion = "us-east-1"

    /// The platform a target's invocations are priced as, or nil when they cost nothing here.
    public static func platform(of target: Target) -> String? {
        switch target.descriptor.pricing {
        case .none, .tasks, .instances: nil
        case .platform(let platform): platform
        case .configured(let key): target.config[key]
        }
    }

    /// Rates for `target`'s invocations, or nil when they cost nothing here; an unknown platform, region or
    /// architecture is an error.
    public static func rates(for target: Target, table: PriceTable) throws -> InvocationRates? {
        guard let platform = platform(of: target) else { return nil }
        var rates = try table.invocationRates(platform: platform, region: target.region ?? defaultRegion,
                                              architecture: target.config["architecture"] ?? "x86_64")
        // A platform that prices vCPU time apart (Cloud Run) is priced at the target's `cpu` (an http target's).
        if let cpu = target.config["cpu"].flatMap({ Decimal(string: $0, locale: Locale(identifier: "en_US_POSIX")) }) { rates.vcpus = cpu }
        return rates
    }

    /// Rates for `target`'s running tasks (a task-billed kind: Fargate), or nil when it is not billed by task time.
    public static func taskRates(for target: Target, table: PriceTable) throws -> TaskRates? {
        guard case .tasks(let platform) = target.descriptor.pricing else { return nil }
        return try table.taskRates(platform: platform, region: target.region ?? defaultRegion,
                                   architecture: target.descriptor.value("architecture", of: target) ?? "x86_64")
    }

    /// Provisioned-concurrency rates for `target` (Lambda), or nil when its platform has none in `table`.
    public static func provisionedRates(for target: Target, table: PriceTable) throws -> ProvisionedRates? {
        guard target.descriptor.provisionsConcurrency, let platform = platform(of: target) else { return nil }
        return try table.provisionedRates(platform: platform, region: target.region ?? defaultRegion,
                                          architecture: target.config["architecture"] ?? "x86_64")
    }

    /// What one hour of `target`'s instances costs, all of them (instance type × count), or nil when the kind is
    /// not billed by the instance or the price table has no price for its type in its region.
    public static func instanceRate(for target: Target, table: PriceTable) -> (rate: InstanceRate, count: Int)? {
        guard case .instances(let platform, let typeKey, let countKey) = target.descriptor.pricing,
              let type = target.setting(typeKey), let count = target.setting(countKey).flatMap(Int.init) else { return nil }
        guard let rate = table.instanceRates(platform: platform, region: target.region ?? defaultRegion).first(where: { $0.instance == type })
        else { return nil }
        return (rate, count)
    }

    /// `aws-lambda x86_64 eu-central-1` or `sagemaker-realtime 2 × ml.m5.large us-east-1`, or nil when unpriced
    /// (free, or no prices for it in `table`).
    public static func label(of target: Target, table: PriceTable) -> String? {
        if let instances = instanceRate(for: target, table: table) {
            return "\(instances.rate.platform) \(instances.count) × \(instances.rate.instance) \(instances.rate.region)"
        }
        if let rates = try? taskRates(for: target, table: table) { return "\(rates.platform) \(rates.architecture) \(rates.region)" }
        guard let rates = try? rates(for: target, table: table) else { return nil }
        return "\(rates.platform) \(rates.architecture) \(rates.region)"
    }
}
