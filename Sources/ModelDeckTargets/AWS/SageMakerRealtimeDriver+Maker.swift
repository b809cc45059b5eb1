import ModelDeckCore

extension SageMakerRealtimeDriver {
    /// The sagemaker-realtime entry in `TargetDrivers.makers`: fails (the target is unavailable) without credentials.
    static let maker = TargetDrivers.Maker(kind: .sagemakerRealtime) { target, context in
        SageMakerRealtimeDriver(target: target, client: try TargetDrivers.client(for: target, context.aws))
    }
}
