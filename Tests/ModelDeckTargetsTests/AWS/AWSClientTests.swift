import Foundation
import ModelDeckTestSupport
import Testing
@testable import ModelDeckTargets

/// The signed HTTP client: real calls to moto for AWS's own answers, and a fault server for what moto
/// cannot do (throttle, hang, deny).
@Suite(.serialized) struct AWSClientTests {
    private func client(_ url: String, timeout: Duration = .seconds(10), attempts: Int = 4) -> AWSClient {
        let configuration = AWSConfiguration(credentials: AWSCredentials(accessKeyID: "AKIDTEST", secretAccessKey: "secret"),
                                             region: "eu-central-1", endpointURL: url, profile: "test")
        return AWSClient(configuration: configuration, timeout: timeout,
                         retry: AWSRetryPolicy(maxAttempts: attempts, base: .milliseconds(10), cap: .milliseconds(50)))
    }

    @Test func anUnknownFunctionIsNotFoundInAWSsOwnWords() async throws {
        let client = AWSClient(configuration: try await Moto.shared.configuration())
        let error = await #expect(throws: AWSError.self) {
            try await client.send(.lambda, operation: "GetFunction", method: .GET, path: "/2015-03-31/functions/modeldeck-no-such-function")
        }
        #expect(error?.kind == .notFound)
        #expect(error?.code == "ResourceNotFoundException")
        #expect(error?.attempts == 1) // not retried
        #expect(error?.description.contains("modeldeck-no-such-function") == true)
    }

    @Test func aQueryCallReachesCloudWatch() async throws {
        let client = AWSClient(configuration: try await Moto.shared.configuration())
        let answer = try await client.query(.cloudWatch, action: "ListMetrics", version: "2010-08-01",
                                            parameters: [(name: "Namespace", value: "ModelDeck/Test")])
        #expect(answer.status == 200)
        #expect(String(decoding: answer.body, as: UTF8.self).contains("ListMetricsResponse"))
    }

    @Test func throttlingIsRetriedUntilItPasses() async throws {
        let throttled = FaultServer.Answer.error(status: 429, type: "TooManyRequestsException",
                                                 body: #"{"message": "Rate exceeded", "Type": "User"}"#)
        let server = FaultServer([throttled, throttled, .ok(#"{"Functions": []}"#)])
        defer { server.stop() }
        let answer = try await client(try await server.start())
            .send(.lambda, operation: "ListFunctions", method: .POST, path: "/2015-03-31/functions")
        #expect(answer.status == 200)
        #expect(server.requests.count == 3)
    }

    @Test func throttlingThatNeverStopsEndsWithAClearMessage() async throws {
        let server = FaultServer([.error(status: 400, type: nil, body: #"{"__type": "com.amazon.coral#ThrottlingException", "message": "Rate exceeded"}"#)])
        defer { server.stop() }
        let error = await #expect(throws: AWSError.self) {
            try await client(try await server.start(), attempts: 3)
                .send(.sagemaker, operation: "DescribeEndpoint", method: .POST, path: "/")
        }
        #expect(error?.kind == .throttled)
        #expect(error?.code == "ThrottlingException")
        #expect(server.requests.count == 3)
        #expect(error?.description == "AWS kept throttling sagemaker:DescribeEndpoint (after 3 attempts): ThrottlingException: Rate exceeded")
    }

    @Test func serverErrorsAreRetriedAndAccessDeniedIsNot() async throws {
        let flaky = FaultServer([.error(status: 503, type: nil, body: "{}"), .ok("{}")])
        defer { flaky.stop() }
        _ = try await client(try await flaky.start()).send(.lambda, operation: "Invoke", method: .POST, path: "/")
        #expect(flaky.requests.count == 2)

        let denied = FaultServer([.error(status: 403, type: "AccessDeniedException",
                                         body: #"{"Message": "User: arn:aws:iam::123456789012:user/ci is not authorized to perform: lambda:PublishVersion"}"#)])
        defer { denied.stop() }
        let error = await #expect(throws: AWSError.self) {
            try await client(try await denied.start()).send(.lambda, operation: "PublishVersion", method: .POST, path: "/")
        }
        #expect(error?.kind == .accessDenied)
        #expect(denied.requests.count == 1)
        #expect(error?.description.contains("not authorized to perform: lambda:PublishVersion") == true)
        #expect(error?.description.contains("IAM permissions") == true)
    }

    @Test func aServerThatNeverAnswersTimesOut() async throws {
        let server = try SilentServer()
        defer { server.stop() }
        let error = await #expect(throws: AWSError.self) {
            try await client(server.url, timeout: .milliseconds(300), attempts: 2)
                .send(.lambda, operation: "Invoke", method: .POST, path: "/")
        }
        #expect(error?.kind == .timeout)
        #expect(error?.attempts == 2)
        #expect(error?.description.contains("no answer from http://127.0.0.1:") == true)
        #expect(error?.description.contains("(after 2 attempts)") == true)
    }

    @Test func aModelInvocationThatTimedOutIsNotSentAgain() async throws {
        let server = try SilentServer()
        defer { server.stop() }
        let invoking = AWSRetryPolicy.invoking(client(server.url, timeout: .milliseconds(100), attempts: 4), upToSeconds: -14)
        #expect(invoking.timeout == .seconds(1)) // the function's timeout plus 15 s, here 1 s
        let error = await #expect(throws: AWSError.self) {
            try await invoking.send(.lambda, operation: "Invoke", method: .POST, path: "/")
        }
        #expect(error?.kind == .timeout)
        #expect(error?.attempts == 1) // billed once, not four times
    }

    @Test func nothingListeningIsUnreachable() async throws {
        let error = await #expect(throws: AWSError.self) {
            try await client("http://127.0.0.1:1", timeout: .seconds(2), attempts: 1).send(.lambda, operation: "ListFunctions", method: .GET, path: "/")
        }
        #expect(error?.kind == .unreachable)
        #expect(error?.description.contains("cannot reach http://127.0.0.1:1") == true)
    }

    @Test func backoffIsCappedExponentialWithFullJitter() {
        let policy = AWSRetryPolicy(maxAttempts: 5, base: .milliseconds(100), cap: .seconds(1))
        #expect(policy.delay(afterAttempt: 1, unit: 1) == .milliseconds(100))
        #expect(policy.delay(afterAttempt: 3, unit: 1) == .milliseconds(400))
        #expect(policy.delay(afterAttempt: 3, unit: 0.5) == .milliseconds(200))
        #expect(policy.delay(afterAttempt: 9, unit: 1) == .seconds(1))
        #expect(policy.delay(afterAttempt: 2, unit: 0) == .zero)
    }

    @Test func errorShapesOfTheThreeProtocolsAreRead() {
        let xml = Data("<ErrorResponse><Error><Type>Sender</Type><Code>LimitExceeded</Code><Message>too many metrics</Message></Error></ErrorResponse>".utf8)
        let parsed = AWSError.parse(body: xml, headers: [:])
        #expect(parsed.code == "LimitExceeded" && parsed.message == "too many metrics")
        #expect(AWSError.kind(code: parsed.code, status: 400) == .limitExceeded)
        let rest = AWSError.parse(body: Data(#"{"Type": "User", "message": "Function not found: arn:aws:lambda:x"}"#.utf8),
                                  headers: ["x-amzn-ErrorType": "ResourceNotFoundException:http://internal.amazon.com/"])
        #expect(rest.code == "ResourceNotFoundException" && rest.message == "Function not found: arn:aws:lambda:x")
        #expect(AWSError.kind(code: "ValidationException", status: 400) == .invalidRequest)
        #expect(AWSError.kind(code: "ResourceInUse", status: 400) == .conflict)
    }

    @Test func theRegionalEndpointIsUsedUnlessOneIsConfigured() {
        let configuration = AWSConfiguration(credentials: AWSCredentials(accessKeyID: "a", secretAccessKey: "b"),
                                             region: "eu-central-1", endpointURL: nil, profile: "default")
        #expect(AWSClient(configuration: configuration).baseURL(for: .sagemakerRuntime) == "https://runtime.sagemaker.eu-central-1.amazonaws.com")
        #expect(client("http://127.0.0.1:5000/").baseURL(for: .lambda) == "http://127.0.0.1:5000")
    }
}
