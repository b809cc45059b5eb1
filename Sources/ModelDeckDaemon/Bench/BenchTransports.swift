import Foundation
import ModelDeckCore
import ModelDeckTargets

/// Bench requests sent by a target's driver, for targets the local gateway does not serve (Lambda, SageMaker
/// serverless): each is one of the driver's pings (`TargetDriver.ping`, count 1) — the payload marker the AWS
/// drivers put on pings tags it, and the platform's own answer says whether it was cold (Lambda's Init Duration).
/// The runner does not store these pings as pings: the run keeps them, and their cost, as bench traffic.
public struct DriverBenchTransport: BenchTransport {
    public var driver: any TargetDriver
    public var version: ModelVersion
    public var endpoint: Endpoint
    public var notes: [String]

    public init(driver: any TargetDriver, version: ModelVersion, endpoint: Endpoint, environment: [String: String]) {
        self.driver = driver
        self.version = version
        self.endpoint = endpoint
        var notes = ["requests are the driver's pings (the payload marker tags them); a published version cannot be made cold on demand: "
                     + "Lambda's configuration change recycles only $LATEST's environments, and SageMaker serverless has no such call"]
        // An endpoint URL on this machine is moto or a stand-in: its latencies are theirs, not the platform's.
        if let url = environment["AWS_ENDPOINT_URL"], url.contains("127.0.0.1") || url.contains("localhost") || url.contains("[::1]") {
            notes.append("figures come from a stand-in at \(url) (moto): latencies are its, cold starts only what it reports; prices are the platform's")
        }
        self.notes = notes
    }

    public var canForceCold: Bool { false }

    public func send(cold: Bool) async -> BenchAnswer {
        guard let result = try? await driver.ping(version, of: endpoint, count: 1).first else { return BenchAnswer(status: 0) }
        return BenchAnswer(status: result.status, coldStart: result.coldStart)
    }
}

/// How `modeldeck bench` reaches a subject's target: through the local gateway, or through the target's driver.
public enum BenchTransports {
    /// The transport maker (given a run's token), checked to answer before any run is stored. `gateway`: the
    /// local gateway's URL when the caller names one (else where the target's deck says it listens).
    public static func make(for subject: BenchSubject, gateway: String?, targets: [Target], payload: Data,
                            environment: [String: String] = ProcessInfo.processInfo.environment) async throws -> @Sendable (String) -> any BenchTransport {
        if subject.target.descriptor.servedByGateway {
            let base: String
            if let gateway {
                base = gateway.hasSuffix("/") ? String(gateway.dropLast()) : gateway
            } else {
                let listen = try LocalTargetHost.choose(from: targets, named: subject.target.name, host: nil, port: nil)
                base = "http://\(listen.host == "0.0.0.0" ? "127.0.0.1" : listen.host):\(listen.port)"
            }
            guard await GatewayBenchTransport.answers(base) else {
                throw ModelDeckError("the local gateway at \(base) does not answer; start `modeldeck daemon` (or pass --gateway URL)")
            }
            let endpoint = subject.endpoint.name, version = subject.version.id, timeout = Int(subject.version.timeoutSeconds ?? 60)
            let gatewayToken = environment["MODELDECK_GATEWAY_TOKEN"]
            return { token in
                GatewayBenchTransport(gateway: base, endpoint: endpoint, token: token, version: version, payload: payload,
                                      timeoutSeconds: timeout, gatewayToken: gatewayToken)
            }
        }
        let driver = TargetDrivers.make(for: subject.target, gateway: GatewayAddress(), routes: { _ in [:] },
                                        aws: TargetDrivers.AWSEnvironment(variables: environment))
        if let reason = driver.unavailableReason {
            throw ModelDeckError("cannot bench on target \(subject.target.label): \(reason)")
        }
        let transport = DriverBenchTransport(driver: driver, version: subject.version, endpoint: subject.endpoint, environment: environment)
        return { _ in transport }
    }
}
