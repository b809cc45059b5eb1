import AsyncHTTPClient
import Foundation
import NIOCore
import ModelDeckTargets

/// moto's server on loopback: the AWS the driver tests talk to (real HTTP, real SigV4 headers, AWS's own
/// answer shapes). `scripts/test` starts one and sets `MODELDECK_MOTO_URL`; run alone (`swift test --filter`)
/// the tests start their own (`python3 -m moto.server`), killed with the test process.
public actor Moto {
    public static let shared = Moto()

    private var url: String?
    private var process: ChildProcess?

    /// The server's URL, once it answers and runs Lambda functions without Docker.
    public func baseURL() async throws -> String {
        if let url { return url }
        let found: String
        if let given = ProcessInfo.processInfo.environment["MODELDECK_MOTO_URL"], !given.isEmpty {
            found = given
        } else {
            found = try await start()
        }
        try await Self.waitUntilUp(found)
        // Without Docker, moto's Lambda still creates, publishes, aliases and invokes functions.
        var config = HTTPClientRequest(url: found + "/moto-api/config")
        config.method = .POST
        config.headers.add(name: "Content-Type", value: "application/json")
        config.body = .bytes(ByteBuffer(string: #"{"lambda": {"use_docker": false}}"#))
        let answer = try await HTTPClient.shared.execute(config, timeout: .seconds(10))
        guard answer.status == .ok || answer.status == .created else {
            throw TestFailure("moto at \(found) refused its Lambda configuration: HTTP \(answer.status.code)")
        }
        url = found
        return found
    }

    /// A configuration for moto: fixed test credentials (moto checks none), us-east-1.
    public func configuration(region: String = "us-east-1") async throws -> AWSConfiguration {
        AWSConfiguration(credentials: AWSCredentials(accessKeyID: "AKIDMODELDECKTEST", secretAccessKey: "modeldeck-test-secret"),
                         region: region, endpointURL: try await baseURL(), profile: "test")
    }

    /// An IAM role Lambda functions can be created with (moto checks that a function's role exists); its ARN.
    public func lambdaRole(named name: String = "modeldeck-lambda") async throws -> String {
        let client = AWSClient(configuration: try await configuration())
        do {
            _ = try await client.query(AWSService(signingName: "iam", endpointPrefix: "iam"), action: "CreateRole", version: "2010-05-08", parameters: [
                (name: "RoleName", value: name),
                (name: "AssumeRolePolicyDocument", value: #"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#),
            ])
        } catch let error as AWSError where error.code == "EntityAlreadyExists" {}
        return "arn:aws:iam::123456789012:role/\(name)"
    }

    private func start() async throws -> String {
        let port = Int.random(in: 20_000..<40_000)
        let log = NSTemporaryDirectory() + "modeldeck-moto-\(getpid()).log"
        process = try await ChildProcess.start(["python3", "-m", "moto.server", "-H", "127.0.0.1", "-p", "\(port)"],
                                               environment: ProcessInfo.processInfo.environment, directory: nil, logPath: log)
        if let exit = try await Self.exitSoon(process) {
            throw TestFailure("moto's server \(exit) (log: \(log)); install it with pip install 'moto[server]' (scripts/test does)")
        }
        return "http://127.0.0.1:\(port)"
    }

    /// How the server ended, if it ended within a second (not installed, port taken).
    private static func exitSoon(_ process: ChildProcess?) async throws -> ChildProcess.Exit? {
        for _ in 0..<10 {
            if let exit = process?.exitIfEnded() { return exit }
            try await Task.sleep(for: .milliseconds(100))
        }
        return nil
    }

    private static func waitUntilUp(_ url: String) async throws {
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            if let answer = try? await HTTPClient.shared.execute(HTTPClientRequest(url: url + "/moto-api/"), timeout: .seconds(2)),
               answer.status == .ok { return }
            try await Task.sleep(for: .milliseconds(200))
        }
        throw TestFailure("moto at \(url) did not answer within 30 s")
    }
}

public struct TestFailure: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
