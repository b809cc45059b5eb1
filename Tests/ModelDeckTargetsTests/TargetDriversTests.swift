import Foundation
import ModelDeckCore
import Testing
@testable import ModelDeckTargets

/// `TargetDrivers.make` picks each target's driver from the table the drivers declare (`LocalDriver.maker`, …):
/// no switch over kinds. A target that cannot be driven still gets a driver, which says why.
struct TargetDriversTests {
    let folder = NSTemporaryDirectory() + "modeldeck-drivers-" + UUID().uuidString
    let role = "arn:aws:iam::123456789012:role/modeldeck-lambda"

    func make(_ target: Target, environment: [String: String]) -> any TargetDriver {
        TargetDrivers.make(for: target, gateway: GatewayAddress(), routes: { _ in [:] },
                           aws: TargetDrivers.AWSEnvironment(variables: environment, home: folder + "/home"))
    }

    @Test func eachKindGetsTheDriverDeclaredForItOrOneThatSaysWhyNot() async throws {
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let credentials = ["AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "secret"]
        let local = make(Target(name: "box", kind: .local), environment: [:])
        #expect(local is LocalDriver && local.unavailableReason == nil)
        let lambda = make(Target(name: "l", kind: .awsLambda, region: "eu-central-1", config: ["role_arn": role]), environment: credentials)
        #expect(lambda is LambdaDriver && lambda.unavailableReason == nil)
        let sagemaker = make(Target(name: "s", kind: .sagemakerServerless, region: "eu-central-1"), environment: credentials)
        #expect(sagemaker is SageMakerServerlessDriver && sagemaker.unavailableReason == nil)
        let realtime = make(Target(name: "r", kind: .sagemakerRealtime, region: "us-east-1", config: ["instance_type": "ml.m5.large"]), environment: credentials)
        #expect(realtime is SageMakerRealtimeDriver && realtime.unavailableReason == nil)

        // No credentials: the AWS kinds' drivers cannot be made, and the one in their place says why.
        let noCredentials = make(Target(name: "l", kind: .awsLambda, region: "eu-central-1", config: ["role_arn": role]), environment: [:])
        #expect(noCredentials.unavailableReason?.hasPrefix("no AWS credentials") == true)
        let http = make(Target(name: "h", kind: .http, config: ["url": "http://a"]), environment: [:])
        #expect(http is HTTPDriver && http.unavailableReason == nil)
        // A header whose variable is not set in the daemon's environment: the target cannot be driven, and says which.
        let unset = make(Target(name: "h", kind: .http, config: ["url": "http://a", "headers": "Authorization: Bearer ${RUN_TOKEN}"]), environment: [:])
        #expect(unset.unavailableReason == "header Authorization reads $RUN_TOKEN, which is not set in the daemon's environment (header values are never stored)")
        let fargate = make(Target(name: "f", kind: .ecsFargate, region: "us-east-1"), environment: credentials)
        #expect(fargate is FargateDriver && fargate.unavailableReason == nil)
    }

    @Test func theTableHasOneDriverPerKindAndOnlyDeclaredKinds() {
        #expect(Set(TargetDrivers.makers.keys) == [.local, .awsLambda, .sagemakerServerless, .http, .ecsFargate, .sagemakerRealtime])
        for (kind, maker) in TargetDrivers.makers {
            #expect(maker.kind == kind)
            #expect(TargetKind.allKinds.contains(kind))
        }
    }
}
