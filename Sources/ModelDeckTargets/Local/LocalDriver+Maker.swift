import ModelDeckCore

extension LocalDriver {
    /// The local target's entry in `TargetDrivers.makers`.
    static let maker = TargetDrivers.Maker(kind: .local) { target, context in
        LocalDriver(target: target, gateway: context.gateway, routes: context.routes)
    }
}
