import Foundation
import ModelDeckCore

/// Makes the driver for each target in the registry, so the daemon never names a platform.
public enum TargetDrivers {
    /// Where the AWS drivers find credentials, and the http driver its header variables: the process environment
    /// and the user's home folder, read when the daemon starts (a test passes its own).
    public struct AWSEnvironment: Sendable {
        public var variables: [String: String]
        public var home: String

        public init(variables: [String: String] = ProcessInfo.processInfo.environment,
                    home: String = FileManager.default.homeDirectoryForCurrentUser.path) {
            self.variables = variables
            self.home = home
        }
    }

    /// What a driver may need to be made: where the local gateway listens, what it routes, and where AWS
    /// credentials are found. Never the registry: drivers deal in values.
    public struct Context: Sendable {
        public var gateway: GatewayAddress
        public var routes: LocalDriver.Routes
        public var aws: AWSEnvironment
    }

    /// How the driver of one kind is made; each driver declares its own next to itself (`LocalDriver.maker`,
    /// `LambdaDriver.maker`, …). Throwing means the target cannot be driven from here (no credentials), and why.
    public struct Maker: Sendable {
        public let kind: TargetKind
        public let make: @Sendable (Target, Context) throws -> any TargetDriver

        public init(kind: TargetKind, make: @escaping @Sendable (Target, Context) throws -> any TargetDriver) {
            self.kind = kind
            self.make = make
        }
    }

    /// The driver of each kind that has one. A new kind adds its driver's maker here; a kind without one is
    /// declared, fit-checked and priced, but a deploy to it fails saying that ModelDeck cannot drive it yet.
    static let makers: [TargetKind: Maker] = Dictionary(uniqueKeysWithValues: [
        LocalDriver.maker, LambdaDriver.maker, SageMakerServerlessDriver.maker, HTTPDriver.maker,
        FargateDriver.maker,
        SageMakerRealtimeDriver.maker,
    ].map { ($0.kind, $0) })

    /// The driver of `target`. A target that cannot be driven from here (no credentials, a kind without a
    /// driver) still gets one: it refuses every call with the reason (`unavailableReason`), so a deploy to it
    /// fails and says why while every other target runs.
    ///
    /// `routes` tells what a local target's gateway routes for an endpoint (it follows the registry).
    public static func make(for target: Target, gateway: GatewayAddress, routes: @escaping LocalDriver.Routes,
                            aws: AWSEnvironment = AWSEnvironment()) -> any TargetDriver {
        guard let maker = makers[target.kind] else {
            return UnavailableDriver(target: target, reason: "ModelDeck cannot deploy to \(target.kind.rawValue) targets yet")
        }
        do {
            return try maker.make(target, Context(gateway: gateway, routes: routes, aws: aws))
        } catch {
            return UnavailableDriver(target: target, reason: "\((error as? ModelDeckError)?.message ?? "\(error)")")
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
    public var unavailableReason: String? { reason }

    public init(target: Target, reason: String) {
        self.target = target
        self.reason = reason
    }

    private var error: ModelDeckError { ModelDeckError("target \(target.label): \(reason)") }

    public func provision(_ version: ModelVersion, on endpoint: Endpoint) async throws { throw error }
    public func setWeights(_ weights: [String: Int], on endpoint: Endpoint, versions: [String: ModelVersion]) async throws { throw error }
    public func liveWeights(of endpoint: Endpoint, versions: [String: ModelVersion]) async throws -> [String: Int] { throw error }
    public func ping(_ version: ModelVersion, of endpoint: Endpoint, count: Int) async throws -> [PingResult] { throw error }
}
