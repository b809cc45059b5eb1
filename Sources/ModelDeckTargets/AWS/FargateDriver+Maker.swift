import ModelDeckCore

extension FargateDriver {
    /// The ecs-fargate entry in `TargetDrivers.makers`: fails (the target is unavailable) without credentials.
    static let maker = TargetDrivers.Maker(kind: .ecsFargate) { target, context in
        FargateDriver(target: target, client: try TargetDrivers.client(for: target, context.aws))
    }
}
