import Testing
@testable import ModelDeckCore

struct FitCheckTests {
    let lambda = Target(name: "lambda-eu", kind: .awsLambda, region: "eu-central-1")
    let sagemaker = Target(name: "sm", kind: .sagemakerServerless, region: "us-east-1")
    let local = Target(name: "local", kind: .local)

    func version(memory: Int = 512, size: Int64 = 10 << 20, command: [String]? = ["python3", "server.py"],
                 image: String? = nil, gpus: Int = 0, timeout: Int64? = nil, unzipped: Int64? = nil) -> ModelVersion {
        ModelVersion(model: "sentiment", version: "v3", digest: "sha256:" + String(repeating: "0", count: 64),
                     sizeBytes: size, unzippedSizeBytes: unzipped, command: command, image: image, memoryMB: memory,
                     gpus: gpus, timeoutSeconds: timeout)
    }

    func endpoint(memory: Int = 1_024, concurrency: Int = 1, maxInstances: Int = 4, target: String = "lambda-eu") -> Endpoint {
        Endpoint(name: "sentiment", model: "sentiment", target: target, memoryMB: memory, concurrency: concurrency,
                 maxInstances: maxInstances)
    }

    @Test func aVersionThatFitsHasNoProblems() {
        #expect(FitCheck.problems(endpoint: endpoint(), target: lambda).isEmpty)
        #expect(FitCheck.problems(version: version(), endpoint: endpoint(), target: lambda).isEmpty)
    }

    @Test func memoryOutsideLambdasRangeNamesValueAndLimit() {
        #expect(FitCheck.problems(endpoint: endpoint(memory: 64), target: lambda)
            == ["endpoint 'sentiment' memory 64 MB is outside target 'lambda-eu' (aws-lambda) range 128 MB–10,240 MB"])
        #expect(FitCheck.problems(endpoint: endpoint(memory: 12_288), target: lambda).first?.contains("10,240 MB") == true)
        #expect(FitCheck.problems(endpoint: endpoint(memory: 128), target: lambda).isEmpty)
        #expect(FitCheck.problems(endpoint: endpoint(memory: 10_240), target: lambda).isEmpty)
    }

    @Test func aVersionNeedingMoreThanLambdaAllowsIsRefused() {
        let problems = FitCheck.problems(version: version(memory: 12_288), endpoint: endpoint(memory: 10_240), target: lambda)
        #expect(problems.contains("version 'sentiment@v3' needs 12,288 MB; target 'lambda-eu' (aws-lambda) allows at most 10,240 MB"))
        #expect(problems.contains("version 'sentiment@v3' needs 12,288 MB; endpoint 'sentiment' gives it 10,240 MB"))
    }

    @Test func sagemakerServerlessWantsWholeGigabyteSteps() {
        #expect(FitCheck.problems(endpoint: endpoint(memory: 1_500, target: "sm"), target: sagemaker).first?
            .contains("not a step of 1,024 MB from 1,024 MB") == true)
        #expect(FitCheck.problems(endpoint: endpoint(memory: 3_072, target: "sm"), target: sagemaker).isEmpty)
        #expect(FitCheck.problems(endpoint: endpoint(memory: 2_048, maxInstances: 201, target: "sm"), target: sagemaker)
            == ["endpoint 'sentiment' max instances 201; target 'sm' (sagemaker-serverless) allows at most 200"])
    }

    /// Fargate runs only its task sizes (AWS's task-size table): a memory of the table, with the target's `cpu`
    /// when it names one, else the fewest vCPUs that allow it; up to 16 vCPU and 120 GB, no GPU.
    @Test func fargateTakesOnlyItsCPUAndMemoryPairs() {
        func problems(memory: Int, cpu: String? = nil) -> [String] {
            let fargate = Target(name: "fg", kind: .ecsFargate, region: "us-east-1", config: cpu.map { ["cpu": $0] } ?? [:])
            return FitCheck.problems(endpoint: endpoint(memory: memory, target: "fg"), target: fargate)
        }
        for memory in [512, 1_024, 2_048, 3_072, 30_720, 32_768, 61_440, 122_880] { #expect(problems(memory: memory) == [], "\(memory)") }
        #expect(problems(memory: 1_500) == ["endpoint 'sentiment' on target 'fg' (ecs-fargate): Fargate has no task with 1,500 MB of memory; it takes 512 MB, 1 GB, 2 GB, then whole GB up to 30 GB, 4 GB steps up to 60 GB and 8 GB steps up to 120 GB"])
        #expect(problems(memory: 34_816).count == 1, "34 GB: above 30 GB only 4 GB steps")
        #expect(problems(memory: 4_096, cpu: "0.25") == ["endpoint 'sentiment' on target 'fg' (ecs-fargate): Fargate has no task of 0.25 vCPU with 4,096 MB; 0.25 vCPU takes 512 MB, 1,024 MB, 2,048 MB"])
        #expect(problems(memory: 2_048, cpu: "4") == ["endpoint 'sentiment' on target 'fg' (ecs-fargate): Fargate has no task of 4 vCPU with 2,048 MB; 4 vCPU takes 8,192 MB–30,720 MB in 1,024 MB steps"])
        #expect(problems(memory: 4_096, cpu: "0.5") == [] && problems(memory: 122_880, cpu: "16") == [])
        #expect(problems(memory: 131_072).first?.contains("outside target 'fg' (ecs-fargate) range 512 MB–122,880 MB") == true)
        #expect(FargateSize.vcpu(memoryMB: 8_192, cpu: nil) == 1 && FargateSize.vcpu(memoryMB: 8_192, cpu: "2") == 2)
        #expect(FargateSize.cpuUnits(FargateSize.vcpu(memoryMB: 512, cpu: nil)!) == 256)
        let fargate = Target(name: "fg", kind: .ecsFargate, region: "us-east-1")
        #expect(FitCheck.problems(version: version(memory: 512, command: nil, image: "img:1", gpus: 1), endpoint: endpoint(memory: 1_024, target: "fg"), target: fargate)
            == ["version 'sentiment@v3' needs a GPU; target 'fg' (ecs-fargate) has none"])
    }

    @Test func aGPUModelCannotRunWhereThereIsNoGPU() {
        #expect(FitCheck.problems(version: version(gpus: 1), endpoint: endpoint(), target: lambda)
            == ["version 'sentiment@v3' needs a GPU; target 'lambda-eu' (aws-lambda) has none"])
        let gpuBox = Target(name: "box", kind: .local, config: ["gpus": "1"])
        #expect(FitCheck.problems(version: version(gpus: 1), endpoint: endpoint(target: "box"), target: gpuBox).isEmpty)
        #expect(FitCheck.problems(version: version(gpus: 2), endpoint: endpoint(target: "box"), target: gpuBox)
            == ["version 'sentiment@v3' needs 2 GPUs; target 'box' (local) has 1"])
    }

    @Test func packageAndImageSizesAreCheckedAgainstTheirOwnLimits() {
        let bigZip = FitCheck.problems(version: version(size: 60 << 20), endpoint: endpoint(), target: lambda)
        #expect(bigZip == ["version 'sentiment@v3' package is 60 MB; target 'lambda-eu' (aws-lambda) allows at most 50 MB zipped (use a container image up to 10 GB)"])
        let unzipped = FitCheck.problems(version: version(unzipped: 300 << 20), endpoint: endpoint(), target: lambda)
        #expect(unzipped == ["version 'sentiment@v3' unpacks to 300 MB; target 'lambda-eu' (aws-lambda) allows at most 250 MB unzipped"])
        let bigImage = version(size: 12 << 30, command: nil, image: "123.dkr.ecr/sentiment:v3")
        #expect(FitCheck.problems(version: bigImage, endpoint: endpoint(), target: lambda)
            == ["version 'sentiment@v3' image is 12 GB; target 'lambda-eu' (aws-lambda) allows at most 10 GB"])
        let fineImage = version(size: 9 << 30, command: nil, image: "123.dkr.ecr/sentiment:v3")
        #expect(FitCheck.problems(version: fineImage, endpoint: endpoint(), target: lambda).isEmpty)
    }

    @Test func durationAndConcurrencyLimits() {
        #expect(FitCheck.problems(version: version(timeout: 1_200), endpoint: endpoint(), target: lambda)
            == ["version 'sentiment@v3' timeout 20m; target 'lambda-eu' (aws-lambda) allows at most 15m per request"])
        #expect(FitCheck.problems(endpoint: endpoint(concurrency: 4), target: lambda)
            == ["endpoint 'sentiment' concurrency 4 per instance; target 'lambda-eu' (aws-lambda) serves at most 1 request at a time per instance"])
        #expect(FitCheck.problems(endpoint: endpoint(concurrency: 4, target: "local"), target: local).isEmpty)
    }

    @Test func packagingMustMatchTheTarget() {
        #expect(FitCheck.problems(version: version(command: nil, image: "img:1"), endpoint: endpoint(memory: 512, target: "local"), target: local)
            == ["version 'sentiment@v3' has no command; target 'local' (local) runs a command that serves HTTP on $PORT"])
        #expect(FitCheck.problems(version: version(), endpoint: endpoint(memory: 2_048, target: "sm"), target: sagemaker)
            == ["version 'sentiment@v3' has no container image; target 'sm' (sagemaker-serverless) runs images only"])
        let http = Target(name: "theirs", kind: .http, config: ["url": "http://127.0.0.1:9"])
        #expect(FitCheck.problems(version: version(), endpoint: endpoint(target: "theirs"), target: http).first?
            .contains("only observes and pings an http target") == true)
    }

    @Test func localTargetMemoryCanBeRaisedByTheDeck() {
        let bigBox = Target(name: "box", kind: .local, config: ["max_memory": "64GB"])
        #expect(FitCheck.problems(endpoint: endpoint(memory: 32_768, target: "box"), target: bigBox).isEmpty)
        #expect(!FitCheck.problems(endpoint: endpoint(memory: 32_768, target: "local"), target: local).isEmpty)
    }
}
