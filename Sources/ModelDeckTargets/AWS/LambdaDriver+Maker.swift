import ModelDeckCore

extension LambdaDriver {
    /// The aws-lambda entry in `TargetDrivers.makers`: fails (the target is unavailable) without credentials.
    static let maker = TargetDrivers.Maker(kind: .awsLambda) { target, context in
        LambdaDriver(target: target, client: try TargetDrivers.client(for: target, context.aws))
    }
}
