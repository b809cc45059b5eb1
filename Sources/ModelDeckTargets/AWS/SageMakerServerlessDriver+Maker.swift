import ModelDeckCore

extension SageMakerServerlessDriver {
    /// The sagemaker-serverless entry in `TargetDrivers.makers`: fails (the target is unavailable) without credentials.
    static let maker = TargetDrivers.Maker(kind: .sagemakerServerless) { target, context in
        SageMakerServerlessDriver(target: target, client: try TargetDrivers.client(for: target, context.aws))
    }
}
