import Foundation

extension TargetKind {
    /// SageMaker real-time endpoints on instances: a production variant per version, weights between them.
    public static let sagemakerRealtime = TargetKind(declaring: "sagemaker-realtime")
}

/// SageMaker real-time inference on instances, always on, as ModelDeck drives it (the driver is
/// `SageMakerRealtimeDriver`): a production variant per version, canary and linear steps as variant weights.
///
/// Facts relied on, from AWS's documentation:
/// - An endpoint config holds production variants, each a model on `InitialInstanceCount` instances of one
///   `InstanceType`, with a weight; `UpdateEndpointWeightsAndCapacities` moves the weights without a new config
///   (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_ProductionVariant.html,
///   https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_UpdateEndpointWeightsAndCapacities.html).
/// - A version fits when the instance type has the memory and GPUs it needs: `SageMakerInstanceType.table`.
/// - Billed per instance-hour while the endpoint runs, busy or not (https://aws.amazon.com/sagemaker/pricing/);
///   the hourly prices are in the price table (`sagemaker-realtime`).
public enum SageMakerRealtimeTarget {
    public static let descriptor = TargetDescriptor(
        kind: .sagemakerRealtime,
        summary: "SageMaker real-time endpoints on instances, a weighted variant per version",
        // The instance type decides the memory and GPUs (`adjustLimits`); before one is known, the largest in the table.
        limits: TargetLimits(memoryMB: 1...SageMakerInstanceType.table.map(\.memoryMB).max()!,
                             gpus: SageMakerInstanceType.table.map(\.gpus).max()!),
        packaging: .image,
        configKeys: [
            ConfigKey.sageMakerExecutionRole, ConfigKey.sageMakerRole,
            ConfigKey("instance_type", meaning: "the instance type each variant runs on, e.g. ml.m5.large", required: true) { value in
                SageMakerInstanceType.named(value) == nil
                    ? "is not in ModelDeck's instance table (known: \(SageMakerInstanceType.table.map(\.name).joined(separator: ", ")))" : nil
            },
            // AWS's default quota is far lower for most types; 100 is a ceiling against typos, not a promise.
            ConfigKey("instance_count", meaning: "instances per variant", default: "1", check: ConfigChecks.integer(in: 1...100)),
            ConfigKey.sageMakerEndpointPrefix,
        ],
        needsRegion: true,
        splitsTraffic: true,
        // Billed by instance-hours × instances, not invocations (the price table's `sagemaker-realtime` rows).
        pricing: .instances("sagemaker-realtime", typeKey: "instance_type", countKey: "instance_count"),
        isRemote: true,
        metrics: .platform,
        adjustLimits: { limits, config in
            guard let type = config["instance_type"].flatMap(SageMakerInstanceType.named) else { return }
            limits.memoryMB = 1...type.memoryMB
            limits.gpus = type.gpus
        }
    )
}

/// The instance types a `sagemaker-realtime` target may name, with what a version's fit check needs: memory,
/// vCPUs and GPUs of one instance. From AWS's instance pages (the SageMaker pricing page lists vCPU and memory
/// per ML instance, https://aws.amazon.com/sagemaker/pricing/; the EC2 family each `ml.` type is built on,
/// https://aws.amazon.com/ec2/instance-types/), read 2026-11-30. Memory in MiB (GiB × 1,024), as AWS counts it.
/// A type missing here is refused at `apply`; adding one is a line.
public struct SageMakerInstanceType: Equatable, Sendable {
    public var name: String
    public var vcpus: Int
    public var memoryMB: Int
    public var gpus: Int

    public static let table: [SageMakerInstanceType] = [
        .init(name: "ml.t2.medium", vcpus: 2, memoryMB: 4 * 1_024, gpus: 0),
        .init(name: "ml.t2.large", vcpus: 2, memoryMB: 8 * 1_024, gpus: 0),
        .init(name: "ml.m5.large", vcpus: 2, memoryMB: 8 * 1_024, gpus: 0),
        .init(name: "ml.m5.xlarge", vcpus: 4, memoryMB: 16 * 1_024, gpus: 0),
        .init(name: "ml.m5.2xlarge", vcpus: 8, memoryMB: 32 * 1_024, gpus: 0),
        .init(name: "ml.m5.4xlarge", vcpus: 16, memoryMB: 64 * 1_024, gpus: 0),
        .init(name: "ml.c5.large", vcpus: 2, memoryMB: 4 * 1_024, gpus: 0),
        .init(name: "ml.c5.xlarge", vcpus: 4, memoryMB: 8 * 1_024, gpus: 0),
        .init(name: "ml.c5.2xlarge", vcpus: 8, memoryMB: 16 * 1_024, gpus: 0),
        .init(name: "ml.g4dn.xlarge", vcpus: 4, memoryMB: 16 * 1_024, gpus: 1),
        .init(name: "ml.g5.xlarge", vcpus: 4, memoryMB: 16 * 1_024, gpus: 1),
        .init(name: "ml.p3.2xlarge", vcpus: 8, memoryMB: 61 * 1_024, gpus: 1),
    ]

    public static func named(_ name: String) -> SageMakerInstanceType? { table.first { $0.name == name } }
}
