import Foundation
import Testing
@testable import ModelDeckCore

/// Each kind's descriptor: its settings (required, defaults, checks), region, traffic splitting, pricing, and
/// how the daemon treats it. `problems(in:)` is what `apply` asks, so a bad setting never reaches the daemon.
struct TargetDescriptorTests {
    let role = "arn:aws:iam::123456789012:role/modeldeck-lambda"

    func problems(_ kind: TargetKind, region: String? = nil, _ config: [String: String]) -> [String] {
        kind.descriptor.problems(in: Target(name: "t", kind: kind, region: region, config: config)).map(\.message)
    }

    // MARK: Kinds

    @Test func everyKindHasOneDescriptorAndOnlyDeclaredKindsParse() throws {
        #expect(TargetKind.allKinds.map(\.rawValue) == ["local", "aws-lambda", "sagemaker-serverless", "ecs-fargate", "http", "sagemaker-realtime"])
        #expect(TargetKind.names == "local, aws-lambda, sagemaker-serverless, ecs-fargate, http, sagemaker-realtime")
        for kind in TargetKind.allKinds {
            #expect(kind.descriptor.kind == kind)
            #expect(TargetKind(rawValue: kind.rawValue) == kind)
            #expect(Set(kind.descriptor.configKeyNames).count == kind.descriptor.configKeys.count, "\(kind): a key twice")
        }
        #expect(TargetKind(rawValue: "kubernetes") == nil)
        #expect(TargetKind(rawValue: "Local") == nil)
    }

    @Test func kindsEncodeAsTheirNamesAndAnUnknownOneDoesNotDecode() throws {
        let target = Target(name: "a", kind: .awsLambda, region: "eu-central-1", config: ["role_arn": role])
        let json = try JSONEncoder().encode(target)
        #expect(String(decoding: json, as: UTF8.self).contains(#""kind":"aws-lambda""#))
        #expect(try JSONDecoder().decode(Target.self, from: json) == target)
        let unknown = Data(#"{"name": "a", "kind": "kubernetes", "config": {}}"#.utf8)
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(Target.self, from: unknown) }
    }

    @Test func whatEachKindIs() {
        let local = LocalTarget.descriptor, lambda = LambdaTarget.descriptor, sagemaker = SageMakerServerlessTarget.descriptor
        let fargate = FargateTarget.descriptor, http = HTTPTarget.descriptor
        #expect([local, lambda, sagemaker, fargate, http].map(\.needsRegion) == [false, true, true, true, false])
        #expect([local, lambda, sagemaker, fargate, http].map(\.splitsTraffic) == [true, true, false, true, false])
        #expect([local, lambda, sagemaker, fargate, http].map(\.isRemote) == [false, true, true, true, true])
        #expect([local, lambda, sagemaker, fargate, http].map(\.metrics) == [.gateway, .platform, .platform, .platform, .probes])
        #expect([local, lambda, sagemaker, fargate, http].map(\.controlsDeployments) == [true, true, true, true, false])
        #expect([local, lambda, sagemaker, fargate, http].map(\.servedByGateway) == [true, false, false, false, false])
        #expect([local, lambda, sagemaker, fargate, http].map(\.pricing)
            == [.configured(key: "price_as"), .platform("aws-lambda"), .platform("sagemaker-serverless"), .tasks("ecs-fargate"), .configured(key: "price_as")])
        #expect(local.packaging == .command && lambda.packaging == .commandOrImage && sagemaker.packaging == .image)
        #expect(fargate.packaging == .image && http.packaging == .none)
    }

    // MARK: Limits

    /// Lambda: 128–10,240 MB, 50 MB zipped, 250 MB unzipped, 10 GB image, 900 s, one request per environment.
    /// SageMaker serverless: 1–6 GB in 1 GB steps, 200 concurrent, 10 GB image, 60 s. Fargate: 512 MB–120 GB.
    @Test func publishedLimits() {
        let mb: Int64 = 1 << 20, gb: Int64 = 1 << 30
        #expect(LambdaTarget.descriptor.limits == TargetLimits(memoryMB: 128...10_240, maxZippedBytes: 50 * mb, maxUnzippedBytes: 250 * mb,
                                                              maxImageBytes: 10 * gb, maxTimeoutSeconds: 900, maxConcurrencyPerInstance: 1))
        #expect(SageMakerServerlessTarget.descriptor.limits == TargetLimits(memoryMB: 1_024...6_144, memoryStepMB: 1_024, maxImageBytes: 10 * gb,
                                                                           maxTimeoutSeconds: 60, maxConcurrencyPerInstance: 1, maxInstances: 200))
        #expect(FargateTarget.descriptor.limits.memoryMB == 512...122_880)
        #expect(LocalTarget.descriptor.limits.memoryMB == 64...16_384 && LocalTarget.descriptor.limits.gpus == 0)
    }

    @Test func aLocalTargetsOwnSettingsChangeItsLimits() {
        let box = Target(name: "box", kind: .local, config: ["max_memory": "64GB", "gpus": "2"])
        #expect(box.limits.memoryMB == 64...65_536 && box.limits.gpus == 2)
        // Below the floor, the floor stays; settings of other kinds change nothing.
        #expect(Target(name: "tiny", kind: .local, config: ["max_memory": "1MB"]).limits.memoryMB == 64...64)
        #expect(Target(name: "l", kind: .awsLambda, config: ["max_memory": "64GB", "gpus": "2"]).limits == LambdaTarget.descriptor.limits)
    }

    // MARK: Settings: required keys and region

    @Test func aLambdaTargetNeedsItsRoleAndARegion() {
        #expect(problems(.awsLambda, region: "eu-central-1", ["role_arn": role]) == [])
        #expect(problems(.awsLambda, region: "eu-central-1", [:])
            == ["target 't' (aws-lambda) needs role_arn: the IAM role Lambda assumes to run the function (arn:aws:iam::ACCOUNT:role/NAME)"])
        #expect(problems(.awsLambda, ["role_arn": role]) == ["target 't' (aws-lambda) needs a region, e.g. region: eu-central-1"])
        let missing = LambdaTarget.descriptor.problems(in: Target(name: "t", kind: .awsLambda, region: "eu-central-1"))
        #expect(missing.map(\.key) == [nil], "a missing key is the target's problem, said where the target is")
    }

    @Test func aSageMakerTargetNeedsAnExecutionRoleUnderEitherName() {
        #expect(problems(.sagemakerServerless, region: "us-east-1", ["execution_role_arn": role]) == [])
        #expect(problems(.sagemakerServerless, region: "us-east-1", ["role_arn": role]) == [])
        #expect(problems(.sagemakerServerless, region: "us-east-1", [:])
            == ["target 't' (sagemaker-serverless) needs execution_role_arn (or role_arn): the IAM role SageMaker assumes to pull the image and the model data"])
        #expect(problems(.sagemakerServerless, region: "us-east-1", ["role_arn": "nope"]).first?.contains("role_arn 'nope' must be an IAM role ARN") == true)
    }

    @Test func anHTTPTargetNeedsAURLWithAHost() {
        #expect(problems(.http, ["url": "https://models.example.com/v1/predict"]) == [])
        #expect(problems(.http, ["url": "http://127.0.0.1:8080"]) == [])
        #expect(problems(.http, [:]) == ["target 't' (http) needs url: where the endpoint answers, http:// or https://"])
        for bad in ["ftp://example.com", "example.com", "http://", "https:///path", "", "https://me:secret@example.com/", "http://a b"] {
            #expect(problems(.http, ["url": bad]) == ["target 't' (http): url '\(bad)' must be an http:// or https:// URL with a host and no user or password (headers carry credentials)"], "\(bad)")
        }
    }

    static let fargate = ["listener_arn": "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/lb/50dc6c495c0c9188/f2f7dc8efc522ab2",
                          "subnets": "subnet-1a2b, subnet-3c4d", "security_groups": "sg-0abc"]

    @Test func localTargetsNeedNoSettingAndFargateNeedsItsListenerAndNetwork() {
        #expect(problems(.local, [:]) == [])
        #expect(problems(.ecsFargate, region: "us-east-1", Self.fargate) == [])
        #expect(problems(.ecsFargate, Self.fargate) == ["target 't' (ecs-fargate) needs a region, e.g. region: eu-central-1"])
        #expect(problems(.ecsFargate, region: "us-east-1", [:]) == [
            "target 't' (ecs-fargate) needs listener_arn: the Application Load Balancer listener whose rules route the endpoints (arn:aws:elasticloadbalancing:…:listener/app/…)",
            "target 't' (ecs-fargate) needs subnets: the subnets the tasks run in, comma-separated (subnet-…)",
            "target 't' (ecs-fargate) needs security_groups: the security groups of the tasks, comma-separated (sg-…)",
        ])
    }

    @Test func fargateSettingsAreChecked() {
        func fargate(_ key: String, _ value: String) -> [String] { problems(.ecsFargate, region: "us-east-1", Self.fargate.merging([key: value]) { $1 }) }
        #expect(fargate("cpu", "3") == ["target 't' (ecs-fargate): cpu '3' is not a Fargate task size; use one of 0.25, 0.5, 1, 2, 4, 8, 16"])
        #expect(fargate("cpu", "0.25") == [] && fargate("cpu", "16") == [])
        #expect(fargate("subnets", "subnet-1,vpc-2") == ["target 't' (ecs-fargate): subnets 'subnet-1,vpc-2' must be a comma-separated list of subnet-… ids"])
        #expect(fargate("security_groups", "") == ["target 't' (ecs-fargate): security_groups '' must be a comma-separated list of sg-… ids"])
        #expect(fargate("listener_arn", "arn:aws:elasticloadbalancing:us-east-1:1:loadbalancer/app/lb/1") ==
            ["target 't' (ecs-fargate): listener_arn 'arn:aws:elasticloadbalancing:us-east-1:1:loadbalancer/app/lb/1' must be an Application Load Balancer listener ARN, arn:aws:elasticloadbalancing:REGION:ACCOUNT:listener/app/NAME/ID/ID"])
        #expect(fargate("container_port", "0") == ["target 't' (ecs-fargate): container_port '0' must be a whole number from 1 to 65535"])
    }

    @Test func regionsMustLookLikeAWSRegions() {
        for good in ["us-east-1", "eu-central-1", "us-gov-west-1", "ap-southeast-4", "cn-north-1"] {
            #expect(problems(.ecsFargate, region: good, Self.fargate) == [], "\(good)")
        }
        for bad in ["eu-central", "EU-CENTRAL-1", "us_east_1", "useast1", "us-east-1a", "-east-1", "us--1", ""] {
            #expect(problems(.ecsFargate, region: bad, Self.fargate) == ["target 't' (ecs-fargate): region '\(bad)' is not an AWS region name such as eu-central-1"], "\(bad)")
        }
        // A local target's region only says where it is priced, so it is not checked here (the price table does).
        #expect(problems(.local, region: "my-laptop", [:]) == [])
    }

    @Test func unknownSettingsAreNamedWithTheKnownOnes() {
        #expect(problems(.http, ["url": "http://a", "token": "x"]) == ["target 't' (http): unknown setting 'token' (known: url, probe_method, probe_body, probe_content_type, headers, probe_interval, probe_timeout, cold_start_over, cold_start_header, price_as, architecture, cpu)"])
        #expect(problems(.awsLambda, region: "us-east-1", ["role_arn": role, "memory": "1GB"])
            == ["target 't' (aws-lambda): unknown setting 'memory' (known: role_arn, function_prefix, architecture, runtime, handler, drift)"])
    }

    // MARK: Settings: each value's check

    @Test func iamRoleARNs() {
        for good in [role, "arn:aws:iam::123456789012:role/service-role/modeldeck", "arn:aws-cn:iam::123456789012:role/a",
                     "arn:aws-us-gov:iam::123456789012:role/Name+=,.@_-", "arn:aws:iam::000000000000:role/" + String(repeating: "r", count: 64)] {
            #expect(ConfigChecks.iamRoleARN(good) == nil, "\(good)")
        }
        for bad in ["modeldeck-lambda", "arn:aws:iam::1:role/r", "arn:aws:iam::12345678901a:role/r", "arn:aws:iam::123456789012:user/ci",
                    "arn:aws:iam:eu-central-1:123456789012:role/r", "arn:aws:lambda::123456789012:role/r", "arn:gcp:iam::123456789012:role/r",
                    "arn:aws:iam::123456789012:role/", "arn:aws:iam::123456789012:role/a b", "arn:aws:iam::123456789012:role/a*",
                    "arn:aws:iam::123456789012:role/" + String(repeating: "r", count: 65), ""] {
            #expect(ConfigChecks.iamRoleARN(bad) != nil, "\(bad)")
            #expect(problems(.awsLambda, region: "us-east-1", ["role_arn": bad])
                == ["target 't' (aws-lambda): role_arn '\(bad)' must be an IAM role ARN, arn:aws:iam::ACCOUNT:role/NAME (a 12-digit account id)"])
        }
    }

    @Test func lambdaFunctionPrefixRuntimeAndHandler() {
        func lambda(_ key: String, _ value: String) -> [String] { problems(.awsLambda, region: "us-east-1", ["role_arn": role, key: value]) }
        for good in ["modeldeck-", "md_", "A1-", String(repeating: "p", count: 63)] { #expect(lambda("function_prefix", good) == [], "\(good)") }
        for bad in ["", "my prefix", "md/", "md.", "mödel-", String(repeating: "p", count: 64)] {
            #expect(lambda("function_prefix", bad)
                == ["target 't' (aws-lambda): function_prefix '\(bad)' must be 1–63 letters, digits, hyphens or underscores (a Lambda function name is at most 64)"], "\(bad)")
        }
        for good in ["provided.al2023", "python3.12", "nodejs22.x"] { #expect(lambda("runtime", good) == [], "\(good)") }
        for bad in ["", "Python3.12", "provided al2023", "java-21"] { #expect(lambda("runtime", bad).count == 1, "\(bad)") }
        for good in ["bootstrap", "app.handler", "index.main"] { #expect(lambda("handler", good) == [], "\(good)") }
        for bad in ["", "my handler", String(repeating: "h", count: 129)] { #expect(lambda("handler", bad).count == 1, "\(bad)") }
    }

    @Test func architectures() {
        for good in ["x86_64", "arm64", "amd64", "aarch64", "ARM64"] {
            #expect(problems(.awsLambda, region: "us-east-1", ["role_arn": role, "architecture": good]) == [], "\(good)")
            #expect(problems(.local, ["architecture": good]) == [], "\(good)")
            #expect(problems(.ecsFargate, region: "us-east-1", Self.fargate.merging(["architecture": good]) { $1 }) == [], "\(good)")
        }
        for bad in ["sparc", "", "x86-64", "riscv64"] {
            #expect(problems(.local, ["architecture": bad]) == ["target 't' (local): architecture '\(bad)' must be x86_64 or arm64"], "\(bad)")
        }
    }

    @Test func localGatewaySettings() {
        for good in ["0", "8765", "65535"] { #expect(problems(.local, ["port": good]) == [], "\(good)") }
        for bad in ["-1", "65536", "http", "", "87 65"] {
            #expect(problems(.local, ["port": bad]) == ["target 't' (local): port '\(bad)' must be a whole number from 0 to 65535"], "\(bad)")
        }
        for good in ["127.0.0.1", "0.0.0.0", "::1", "localhost"] { #expect(problems(.local, ["host": good]) == [], "\(good)") }
        for bad in ["", "my host"] { #expect(problems(.local, ["host": bad]).count == 1, "\(bad)") }
        for good in ["32GB", "2048MB", "4096"] { #expect(problems(.local, ["max_memory": good]) == [], "\(good)") }
        for bad in ["lots", "1.5KB", "-1GB"] {
            #expect(problems(.local, ["max_memory": bad]) == ["target 't' (local): max_memory '\(bad)' must be a size in whole megabytes, such as 32GB or 2048MB"], "\(bad)")
        }
        for good in ["0", "1", "8"] { #expect(problems(.local, ["gpus": good]) == [], "\(good)") }
        for bad in ["-1", "one", "1.5"] { #expect(problems(.local, ["gpus": bad]).count == 1, "\(bad)") }
    }

    @Test func sageMakerEndpointPrefixAndFargateCluster() {
        func sagemaker(_ prefix: String) -> [String] {
            problems(.sagemakerServerless, region: "us-east-1", ["execution_role_arn": role, "endpoint_prefix": prefix])
        }
        for good in ["modeldeck", "md-prod", "A1", String(repeating: "e", count: 63)] { #expect(sagemaker(good) == [], "\(good)") }
        for bad in ["", "-md", "md_prod", "md prod", String(repeating: "e", count: 64)] {
            #expect(sagemaker(bad) == ["target 't' (sagemaker-serverless): endpoint_prefix '\(bad)' must be 1–63 letters, digits or hyphens, starting with a letter or digit"], "\(bad)")
        }
        for good in ["default", "prod_cluster-1"] { #expect(problems(.ecsFargate, region: "us-east-1", Self.fargate.merging(["cluster": good]) { $1 }) == [], "\(good)") }
        for bad in ["", "my cluster", "a/b", String(repeating: "c", count: 256)] {
            #expect(problems(.ecsFargate, region: "us-east-1", Self.fargate.merging(["cluster": bad]) { $1 }).count == 1, "\(bad)")
        }
    }

    @Test func defaultsFillWhatATargetLeavesOut() {
        let lambda = Target(name: "l", kind: .awsLambda, region: "us-east-1", config: ["role_arn": role])
        #expect(lambda.setting("function_prefix") == "modeldeck-")
        #expect(lambda.setting("architecture") == "x86_64")
        #expect(lambda.setting("runtime") == "provided.al2023")
        #expect(lambda.setting("handler") == "bootstrap")
        #expect(lambda.setting("role_arn") == role)
        #expect(lambda.setting("url") == nil, "not a Lambda setting")
        #expect(Target(name: "l", kind: .awsLambda, config: ["function_prefix": "md-"]).setting("function_prefix") == "md-")
        #expect(Target(name: "s", kind: .sagemakerServerless).setting("endpoint_prefix") == "modeldeck")
        #expect(Target(name: "f", kind: .ecsFargate).setting("cluster") == "default")
        #expect(Target(name: "box", kind: .local).setting("port") == "8765")
        #expect(Target(name: "box", kind: .local).setting("host") == "127.0.0.1")
        // Every default passes its own check.
        for descriptor in TargetDescriptor.all {
            for key in descriptor.configKeys {
                if let value = key.defaultValue { #expect(key.check(value) == nil, "\(descriptor.kind) \(key.name) default '\(value)'") }
            }
        }
    }

    @Test func allowedConfigKeysAreTheDescriptorsKeys() {
        #expect(Target.allowedConfigKeys(for: .local) == ["host", "port", "max_memory", "gpus", "price_as", "architecture", "drift"])
        #expect(Target.allowedConfigKeys(for: .awsLambda) == ["role_arn", "function_prefix", "architecture", "runtime", "handler", "drift"])
        #expect(Target.allowedConfigKeys(for: .sagemakerServerless) == ["execution_role_arn", "role_arn", "endpoint_prefix", "drift"])
        #expect(Target.allowedConfigKeys(for: .ecsFargate) == ["listener_arn", "subnets", "security_groups", "cluster", "cpu", "execution_role_arn", "container_port", "url", "architecture", "drift"])
        #expect(Target.allowedConfigKeys(for: .http) == ["url", "probe_method", "probe_body", "probe_content_type", "headers", "probe_interval",
                                                         "probe_timeout", "cold_start_over", "cold_start_header", "price_as", "architecture", "cpu"])
    }
}
