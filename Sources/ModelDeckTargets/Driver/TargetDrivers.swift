import Foundation
import ModelDeckCore

/// Makes the driver for each target in the registry, so the daemon never names a platform.
public enum TargetDrivers {
    /// Where the AWS drivers find credentials: the process environment and the user's home folder, read
    /// when the daemon starts (a test passes its own).
    public struct AWSEnvironment: Sendable {
        public var variables: [String: String]
        public var home: String

        public init(variables: [String: String] = ProcessInfo.processInfo.environment,
                    home: String = FileManager.default.homeDirectoryForCurrentUser.path) {
            self.variables = variables
            self.home = home
        }
    }

    /// The driver of `target`. A target that cannot be driven from here (no credentials, a kind without a
    /// driver) still gets one: it refuses every call with the reason, so a deploy to it fails and says why
    /// while every other target runs.
    ///
    /// `routes` tells what a local target's gateway routes for an endpoint (it follows the registry).
    public static func make(for target: Target, gateway: GatewayAddress, routes: @escaping LocalDriver.Routes,
                            aws: AWSEnvironment = AWSEnvironment(), prices: PriceTable = .standard) -> any TargetDriver {
        switch target.kind {
        case .local:
            return LocalDriver(target: target, gateway: gateway, routes: routes)
        case .sagemakerServerless, .awsLambda:
            do {
                let client = try client(for: target, aws)
                return target.kind == .awsLambda
                    ? LambdaDriver(target: target, client: client)
                    : SageMakerServerlessDriver(target: target, client: client)
            } catch {
                return UnavailableDriver(target: target, reason: "\((error as? ModelDeckError)?.message ?? "\(error)")")
            }
        case .ecsFargate, .http:
            return UnavailableDriver(target: target, reason: "ModelDeck cannot deploy to \(target.kind.rawValue) targets yet")
        }
    }

    /// The AWS client for `target`: credentials from the standard chain, the target's own region first.
    static func client(for target: Target, _ aws: AWSEnvironment) throws -> AWSClient {
        var variables = aws.variables
        if let region = target.region { variables["AWS_REGION"] = region }
        return AWSClient(configuration: try AWSConfiguration.resolve(environment: variables, home: aws.home))
    }
}

/// A target the daemon cannot drive: every call fails with the reason, which the deployment records.
public struct UnavailableDriver: TargetDriver {
    public let target: Target
    public let reason: String

    public init(target: Target, reason: String) {
        self.target = target
        self.reason = reason
    }

    public var unavailableReason: String? { reason }

    private var error: ModelDeckError { ModelDeckError("target \(target.label): \(reason)") }

    public func provision(_ version: ModelVersion, on endpoint: Endpoint) async throws { throw error }
    public func setWeights(_ weights: [String: Int], on endpoint: Endpoint, versions: [String: ModelVersion]) async throws { throw error }
    public func liveWeights(of endpoint: Endpoint, versions: [String: ModelVersion]) async throws -> [String: Int] { throw error }
    public func ping(_ version: ModelVersion, of endpoint: Endpoint, count: Int) async throws -> [PingResult] { throw error }
}
