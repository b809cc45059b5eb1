import Foundation
import Testing
@testable import ModelDeckCore

/// SageMaker real-time targets: declared and fit-checked against the instance type they name.
struct SageMakerRealtimeTargetTests {
    let role = "arn:aws:iam::123456789012:role/modeldeck-sagemaker"

    func target(_ instance: String) -> Target {
        Target(name: "rt", kind: .sagemakerRealtime, region: "us-east-1", config: ["execution_role_arn": role, "instance_type": instance])
    }

    func version(memoryMB: Int, gpus: Int = 0) -> ModelVersion {
        ModelVersion(model: "m", version: "v1", digest: "sha256:" + String(repeating: "a", count: 64), sizeBytes: 1,
                     image: "example.com/m:v1", memoryMB: memoryMB, gpus: gpus)
    }

    @Test func theInstanceTypeMustBeInTheTableAndTheRoleGiven() {
        #expect(SageMakerRealtimeTarget.descriptor.problems(in: target("ml.m5.large")).isEmpty)
        let unknown = SageMakerRealtimeTarget.descriptor.problems(in: target("ml.m5.huge")).map(\.message)
        #expect(unknown == ["target 'rt' (sagemaker-realtime): instance_type 'ml.m5.huge' is not in ModelDeck's instance table (known: "
            + SageMakerInstanceType.table.map(\.name).joined(separator: ", ") + ")"])
        let bare = Target(name: "rt", kind: .sagemakerRealtime, region: "us-east-1", config: [:])
        #expect(SageMakerRealtimeTarget.descriptor.problems(in: bare).map(\.message) == [
            "target 'rt' (sagemaker-realtime) needs execution_role_arn (or role_arn): the IAM role SageMaker assumes to pull the image and the model data",
            "target 'rt' (sagemaker-realtime) needs instance_type: the instance type each variant runs on, e.g. ml.m5.large",
        ])
        #expect(SageMakerRealtimeTarget.descriptor.problems(in: Target(name: "rt", kind: .sagemakerRealtime, config: ["role_arn": role, "instance_type": "ml.t2.medium"]))
            .map(\.message) == ["target 'rt' (sagemaker-realtime) needs a region, e.g. region: eu-central-1"])
    }

    /// ml.t2.medium: 2 vCPU, 4 GiB, no GPU; ml.g4dn.xlarge: 4 vCPU, 16 GiB, one GPU.
    @Test func aVersionFitsWhenTheInstanceHasItsMemoryAndGPUs() {
        #expect(SageMakerInstanceType.named("ml.t2.medium") == SageMakerInstanceType(name: "ml.t2.medium", vcpus: 2, memoryMB: 4_096, gpus: 0))
        let small = target("ml.t2.medium")
        let endpoint = Endpoint(name: "e", model: "m", target: "rt", memoryMB: 4_096)
        #expect(FitCheck.problems(version: version(memoryMB: 3_000), endpoint: endpoint, target: small).isEmpty)
        #expect(FitCheck.problems(version: version(memoryMB: 1_024, gpus: 1), endpoint: endpoint, target: small)
            == ["version 'm@v1' needs a GPU; target 'rt' (sagemaker-realtime) has none"])
        let big = Endpoint(name: "e", model: "m", target: "rt", memoryMB: 8_192)
        #expect(FitCheck.problems(endpoint: big, target: small)
            == ["endpoint 'e' memory 8,192 MB is outside target 'rt' (sagemaker-realtime) range 1 MB–4,096 MB"])
        let gpu = target("ml.g4dn.xlarge")
        #expect(FitCheck.problems(version: version(memoryMB: 12_000, gpus: 1), endpoint: Endpoint(name: "e", model: "m", target: "rt", memoryMB: 16_384), target: gpu).isEmpty)
        #expect(FitCheck.problems(version: version(memoryMB: 1_024, gpus: 2), endpoint: endpoint, target: gpu)
            == ["version 'm@v1' needs 2 GPUs; target 'rt' (sagemaker-realtime) has 1"])
    }

    @Test func aDeckNamingAnInstanceTypeTheTableLacksIsRefusedWhereItIs() throws {
        let deck = """
        targets:
          - {name: rt, kind: sagemaker-realtime, region: us-east-1, role_arn: '\(role)', instance_type: ml.x9.mega}
        """
        let error = #expect(throws: ModelDeckError.self) { try parseDeck(deck) }
        #expect(error?.message.hasPrefix("deck.yaml:2:140: target 'rt' (sagemaker-realtime): instance_type 'ml.x9.mega' is not in ModelDeck's instance table (known: ml.t2.medium") == true,
                "\(error?.message ?? "")")
    }
}
