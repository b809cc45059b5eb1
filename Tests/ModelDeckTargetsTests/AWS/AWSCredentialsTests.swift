import Foundation
import ModelDeckCore
import Testing
@testable import ModelDeckTargets

/// The credential chain over a throwaway home folder and a made-up environment.
struct AWSCredentialsTests {
    /// A home folder with `~/.aws/credentials` and `~/.aws/config`, removed after the test.
    final class Home {
        let path = NSTemporaryDirectory() + "modeldeck-aws-home-" + UUID().uuidString

        init(credentials: String? = nil, config: String? = nil) throws {
            try FileManager.default.createDirectory(atPath: path + "/.aws", withIntermediateDirectories: true)
            if let credentials { try credentials.write(toFile: path + "/.aws/credentials", atomically: true, encoding: .utf8) }
            if let config { try config.write(toFile: path + "/.aws/config", atomically: true, encoding: .utf8) }
        }

        deinit { try? FileManager.default.removeItem(atPath: path) }
    }

    static let credentialsFile = """
    # comment
    [default]
    aws_access_key_id = AKIDDEFAULT
    aws_secret_access_key = default-secret

    [staging]
    aws_access_key_id=AKIDSTAGING
    aws_secret_access_key=staging-secret
    aws_session_token = staging-token
    """

    static let configFile = """
    [default]
    region = us-east-1

    [profile staging]
    region = eu-west-1
    s3 =
      max_concurrent_requests = 4
    endpoint_url = http://127.0.0.1:5000
    """

    @Test func environmentWinsOverFiles() throws {
        let home = try Home(credentials: Self.credentialsFile, config: Self.configFile)
        let configuration = try AWSConfiguration.resolve(environment: [
            "AWS_ACCESS_KEY_ID": "AKIDENV", "AWS_SECRET_ACCESS_KEY": "env-secret", "AWS_SESSION_TOKEN": "env-token",
            "AWS_REGION": "ap-southeast-2", "AWS_DEFAULT_REGION": "us-west-2", "AWS_ENDPOINT_URL": "http://127.0.0.1:5555",
        ], home: home.path)
        #expect(configuration.credentials == AWSCredentials(accessKeyID: "AKIDENV", secretAccessKey: "env-secret", sessionToken: "env-token"))
        #expect(configuration.region == "ap-southeast-2")
        #expect(configuration.endpointURL == "http://127.0.0.1:5555")
    }

    @Test func defaultProfileComesFromFilesWithConfigRegion() throws {
        let home = try Home(credentials: Self.credentialsFile, config: Self.configFile)
        let configuration = try AWSConfiguration.resolve(environment: [:], home: home.path)
        #expect(configuration.profile == "default")
        #expect(configuration.credentials == AWSCredentials(accessKeyID: "AKIDDEFAULT", secretAccessKey: "default-secret"))
        #expect(configuration.region == "us-east-1")
        #expect(configuration.endpointURL == nil)
    }

    @Test func awsProfileSelectsSectionsInBothFiles() throws {
        let home = try Home(credentials: Self.credentialsFile, config: Self.configFile)
        let configuration = try AWSConfiguration.resolve(environment: ["AWS_PROFILE": "staging"], home: home.path)
        #expect(configuration.credentials == AWSCredentials(accessKeyID: "AKIDSTAGING", secretAccessKey: "staging-secret", sessionToken: "staging-token"))
        #expect(configuration.region == "eu-west-1")
        #expect(configuration.endpointURL == "http://127.0.0.1:5000")
        // AWS_DEFAULT_REGION still wins over the profile's region.
        let overridden = try AWSConfiguration.resolve(environment: ["AWS_PROFILE": "staging", "AWS_DEFAULT_REGION": "us-west-2"], home: home.path)
        #expect(overridden.region == "us-west-2")
    }

    @Test func credentialsInConfigFileAreUsedWhenCredentialsFileIsAbsent() throws {
        let home = try Home(config: "[profile ci]\naws_access_key_id = AKIDCI\naws_secret_access_key = ci-secret\nregion = eu-central-1\n")
        let configuration = try AWSConfiguration.resolve(environment: ["AWS_PROFILE": "ci"], home: home.path)
        #expect(configuration.credentials.accessKeyID == "AKIDCI")
        #expect(configuration.region == "eu-central-1")
    }

    @Test func missingCredentialsNameEverythingThatWasLookedAt() throws {
        let home = try Home()
        let error = #expect(throws: ModelDeckError.self) {
            try AWSConfiguration.resolve(environment: ["AWS_PROFILE": "prod", "AWS_REGION": "us-east-1"], home: home.path)
        }
        #expect(error?.message == "no AWS credentials: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set, and profile 'prod' has no aws_access_key_id and aws_secret_access_key in \(home.path)/.aws/credentials or \(home.path)/.aws/config")
    }

    @Test func halfSetEnvironmentCredentialsAreRefused() throws {
        let home = try Home(credentials: Self.credentialsFile, config: Self.configFile)
        let error = #expect(throws: ModelDeckError.self) {
            try AWSConfiguration.resolve(environment: ["AWS_ACCESS_KEY_ID": "AKIDENV"], home: home.path)
        }
        #expect(error?.message == "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not; set both or neither")
    }

    @Test func missingRegionIsAClearError() throws {
        let home = try Home(credentials: Self.credentialsFile)
        let error = #expect(throws: ModelDeckError.self) {
            try AWSConfiguration.resolve(environment: [:], home: home.path)
        }
        #expect(error?.message == "no AWS region: AWS_REGION and AWS_DEFAULT_REGION are not set, and profile 'default' has no region in \(home.path)/.aws/config")
    }

    @Test func descriptionRedactsSecretAndToken() throws {
        let credentials = AWSCredentials(accessKeyID: "AKIDPUBLIC", secretAccessKey: "very-secret", sessionToken: "session-token")
        let configuration = AWSConfiguration(credentials: credentials, region: "us-east-1", endpointURL: nil, profile: "default")
        for text in [credentials.description, String(reflecting: credentials), "\(credentials)", "\(configuration)"] {
            #expect(!text.contains("very-secret"))
            #expect(!text.contains("session-token"))
        }
        #expect(credentials.description == "AWSCredentials(accessKeyID: AKIDPUBLIC, secretAccessKey: <redacted>, sessionToken: <redacted>)")
    }
}
