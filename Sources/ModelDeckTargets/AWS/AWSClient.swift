import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// One AWS API as the drivers call it: the name it signs with and the host prefix of its regional endpoint.
public struct AWSService: Sendable, Equatable {
    public let signingName: String
    public let endpointPrefix: String

    public init(signingName: String, endpointPrefix: String) {
        self.signingName = signingName
        self.endpointPrefix = endpointPrefix
    }

    public static let lambda = AWSService(signingName: "lambda", endpointPrefix: "lambda")
    public static let cloudWatch = AWSService(signingName: "monitoring", endpointPrefix: "monitoring")
    public static let sagemaker = AWSService(signingName: "sagemaker", endpointPrefix: "api.sagemaker")
    public static let sagemakerRuntime = AWSService(signingName: "sagemaker", endpointPrefix: "runtime.sagemaker")
}

/// An AWS answer that was not a failure.
public struct AWSResponse: Sendable {
    public var status: Int
    public var headers: HTTPHeaders
    public var body: Data

    public func header(_ name: String) -> String? { headers.first(name: name) }

    /// The body decoded as JSON into `T`, or an error that names the operation.
    public func decode<T: Decodable>(_ type: T.Type, operation: String) throws -> T {
        do {
            return try JSONDecoder().decode(T.self, from: body)
        } catch {
            throw AWSError(kind: .badResponse, operation: operation, status: status, code: nil,
                           message: "answer is not the expected JSON (\(error))", attempts: 1)
        }
    }
}

/// Why an AWS call failed, in words an on-call engineer can act on.
public struct AWSError: Error, Equatable, CustomStringConvertible {
    public enum Kind: String, Sendable {
        case accessDenied, notFound, throttled, limitExceeded, invalidRequest, conflict, serverError, timeout,
             unreachable, badResponse
    }

    public var kind: Kind
    /// e.g. `lambda:GetFunction`.
    public var operation: String
    /// The HTTP status; 0 when there was no answer.
    public var status: Int
    /// AWS's error code, e.g. `ResourceNotFoundException`.
    public var code: String?
    public var message: String
    public var attempts: Int

    public var description: String {
        let what = code.map { "\($0): \(message)" } ?? message
        let tries = attempts > 1 ? " (after \(attempts) attempts)" : ""
        switch kind {
        case .accessDenied:
            return "AWS denied \(operation): \(what) — check the credentials and the IAM permissions listed in the README"
        case .notFound: return "AWS \(operation): not found: \(what)"
        case .throttled: return "AWS kept throttling \(operation)\(tries): \(what)"
        case .limitExceeded: return "AWS \(operation) hit an account or service limit: \(what)"
        case .invalidRequest: return "AWS refused \(operation) as invalid: \(what)"
        case .conflict: return "AWS \(operation): conflict: \(what)"
        case .serverError: return "AWS \(operation) failed on the server side\(tries): \(what)"
        case .timeout, .unreachable: return "AWS \(operation)\(tries): \(what)"
        case .badResponse: return "AWS \(operation): \(what)"
        }
    }

    /// Sorts an error answer by its code first (AWS reuses 400 for most things), then its status.
    static func kind(code: String?, status: Int) -> Kind {
        let code = code ?? ""
        if Self.throttlingCodes.contains(code) || status == 429 { return .throttled }
        if code.contains("AccessDenied") || ["UnrecognizedClientException", "InvalidSignatureException",
                                             "ExpiredToken", "ExpiredTokenException", "InvalidClientTokenId",
                                             "MissingAuthenticationToken", "SignatureDoesNotMatch",
                                             "IncompleteSignature"].contains(code) || status == 401 || status == 403 {
            return .accessDenied
        }
        if code.contains("NotFound") || status == 404 { return .notFound }
        if code.contains("LimitExceeded") || code == "CodeStorageExceededException" || code == "ServiceQuotaExceededException" {
            return .limitExceeded
        }
        if code.contains("Conflict") || code == "ResourceInUse" || status == 409 { return .conflict }
        if status >= 500 { return .serverError }
        return .invalidRequest
    }

    static let throttlingCodes: Set<String> = [
        "Throttling", "ThrottlingException", "ThrottledException", "TooManyRequestsException", "RequestLimitExceeded",
        "RequestThrottled", "RequestThrottledException", "SlowDown", "ProvisionedThroughputExceededException",
        "TransactionInProgressException", "EC2ThrottledException", "PriorRequestNotComplete",
    ]

    /// Code and message from the three error shapes the drivers meet: REST-JSON (Lambda: `x-amzn-ErrorType`
    /// header, `message`), JSON 1.1 (SageMaker: `__type`), and query XML (CloudWatch: `<Code>`, `<Message>`).
    static func parse(body: Data, headers: HTTPHeaders) -> (code: String?, message: String?) {
        var code = headers.first(name: "x-amzn-ErrorType").map(Self.trimCode)
        var message: String?
        if let json = try? JSONSerialization.jsonObject(with: body) as? [String: Any] {
            if code == nil { code = (json["__type"] as? String ?? json["code"] as? String ?? json["Code"] as? String).map(Self.trimCode) }
            message = json["message"] as? String ?? json["Message"] as? String ?? json["errorMessage"] as? String
        } else if let text = String(data: body, encoding: .utf8), text.contains("<") {
            code = code ?? Self.xmlElement("Code", in: text)
            message = Self.xmlElement("Message", in: text)
        }
        return (code, message)
    }

    /// `aws.protocols#ValidationException:http://…` and `…#ValidationException` name the same code.
    private static func trimCode(_ raw: String) -> String {
        let beforeColon = raw.split(separator: ":", maxSplits: 1).first.map(String.init) ?? raw
        return beforeColon.split(separator: "#").last.map(String.init) ?? beforeColon
    }

    static func xmlElement(_ name: String, in text: String) -> String? {
        guard let open = text.range(of: "<\(name)>"), let close = text.range(of: "</\(name)>", range: open.upperBound..<text.endIndex)
        else { return nil }
        return String(text[open.upperBound..<close.lowerBound])
    }
}

/// Retries with capped exponential backoff and full jitter, as the AWS SDKs do
/// (https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/): attempt n waits a random time
/// in 0…min(cap, base·2ⁿ⁻¹).
public struct AWSRetryPolicy: Sendable, Equatable {
    public var maxAttempts: Int
    public var base: Duration
    public var cap: Duration
    /// Off for calls that may have run although no answer came (an `Invoke` that timed out was billed,
    /// and sending it again runs the model again).
    public var retriesTimeouts = true

    public init(maxAttempts: Int = 4, base: Duration = .milliseconds(100), cap: Duration = .seconds(5)) {
        self.maxAttempts = max(1, maxAttempts)
        self.base = base
        self.cap = cap
    }

    /// The wait before attempt `attempt + 1` (attempt counts from 1); `unit` is a random number in 0..<1.
    public func delay(afterAttempt attempt: Int, unit: Double) -> Duration {
        let ceiling = min(cap, base * (1 << min(attempt - 1, 20)))
        return ceiling * min(max(unit, 0), 1)
    }

    /// Whether another attempt may help: throttling, a server error, no answer in time, or no connection.
    public func isRetryable(_ error: AWSError) -> Bool {
        [.throttled, .serverError, .unreachable].contains(error.kind) || (error.kind == .timeout && retriesTimeouts)
    }

    /// A client for calls that run a model: this one's deadline raised to `seconds` plus a margin, and no
    /// retry after a timeout.
    static func invoking(_ client: AWSClient, upToSeconds seconds: Int64) -> AWSClient {
        var invoking = client
        invoking.timeout = max(client.timeout, .seconds(seconds + 15))
        invoking.retry.retriesTimeouts = false
        return invoking
    }
}

/// Signs and sends AWS API calls with async-http-client, retrying what may pass on a second try.
///
/// The endpoint is the region's (`https://lambda.eu-central-1.amazonaws.com`) unless the configuration
/// names one (`AWS_ENDPOINT_URL`, which is how the tests reach moto on loopback). Credentials are read from
/// the configuration at each call and never logged.
public struct AWSClient: Sendable {
    public let configuration: AWSConfiguration
    /// Each attempt's deadline, from sending to the last byte of the answer.
    public var timeout: Duration
    public var retry: AWSRetryPolicy
    /// The largest answer read (Lambda's synchronous payload limit is 6 MB).
    public var maxResponseBytes = 16 << 20
    private let http: HTTPClient

    public init(configuration: AWSConfiguration, timeout: Duration = .seconds(30), retry: AWSRetryPolicy = AWSRetryPolicy(),
                http: HTTPClient = .shared) {
        self.configuration = configuration
        self.timeout = timeout
        self.retry = retry
        self.http = http
    }

    /// `https://<prefix>.<region>.amazonaws.com`, or the configured endpoint.
    public func baseURL(for service: AWSService) -> String {
        if let url = configuration.endpointURL { return url.hasSuffix("/") ? String(url.dropLast()) : url }
        return "https://\(service.endpointPrefix).\(configuration.region).amazonaws.com"
    }

    /// Sends one call. `path` is already percent-encoded; `query` values are not. Throws `AWSError`.
    public func send(_ service: AWSService, operation: String, method: HTTPMethod, path: String,
                     query: [(name: String, value: String)] = [], headers: [(name: String, value: String)] = [],
                     body: Data = Data()) async throws -> AWSResponse {
        let name = "\(service.signingName):\(operation)"
        var attempt = 1
        while true {
            do {
                return try await sendOnce(service, operation: name, method: method, path: path, query: query, headers: headers, body: body)
            } catch var error as AWSError {
                error.attempts = attempt
                guard attempt < retry.maxAttempts, retry.isRetryable(error) else { throw error }
                try await Task.sleep(for: retry.delay(afterAttempt: attempt, unit: Double.random(in: 0..<1)))
                attempt += 1
            }
        }
    }

    /// An `awsJson1_1` call (SageMaker): `POST /` with `X-Amz-Target: <prefix>.<operation>`.
    public func json<Body: Encodable>(_ service: AWSService, targetPrefix: String, operation: String, _ body: Body) async throws -> AWSResponse {
        try await send(service, operation: operation, method: .POST, path: "/",
                       headers: [(name: "X-Amz-Target", value: "\(targetPrefix).\(operation)"),
                                 (name: "Content-Type", value: "application/x-amz-json-1.1")],
                       body: try JSONEncoder().encode(body))
    }

    /// A query-protocol call (CloudWatch): a form-encoded `POST /` with `Action` and `Version`; the answer is XML.
    public func query(_ service: AWSService, action: String, version: String,
                      parameters: [(name: String, value: String)]) async throws -> AWSResponse {
        let form = ([(name: "Action", value: action), (name: "Version", value: version)] + parameters)
            .map { "\(SigV4Signer.encode($0.name))=\(SigV4Signer.encode($0.value))" }
            .joined(separator: "&")
        return try await send(service, operation: action, method: .POST, path: "/",
                              headers: [(name: "Content-Type", value: "application/x-www-form-urlencoded; charset=utf-8")],
                              body: Data(form.utf8))
    }

    private func sendOnce(_ service: AWSService, operation: String, method: HTTPMethod, path: String,
                          query: [(name: String, value: String)], headers: [(name: String, value: String)],
                          body: Data) async throws -> AWSResponse {
        let base = baseURL(for: service)
        guard let url = URL(string: base), let host = url.host else {
            throw AWSError(kind: .unreachable, operation: operation, status: 0, code: nil,
                           message: "endpoint '\(base)' is not a URL (check AWS_ENDPOINT_URL)", attempts: 1)
        }
        let hostHeader = url.port.map { "\(host):\($0)" } ?? host
        let signer = SigV4Signer(service: service.signingName, region: configuration.region)
        let signed = signer.headers(for: .init(method: method.rawValue, host: hostHeader, path: path, query: query,
                                               headers: headers, body: body),
                                    credentials: configuration.credentials, date: Date())
        let queryString = query.isEmpty ? "" : "?" + query
            .map { "\(SigV4Signer.encode($0.name))=\(SigV4Signer.encode($0.value))" }
            .joined(separator: "&")

        var request = HTTPClientRequest(url: base + path + queryString)
        request.method = method
        request.headers.add(name: "Host", value: hostHeader)
        for header in headers + signed { request.headers.add(name: header.name, value: header.value) }
        request.headers.add(name: "User-Agent", value: "modeldeck")
        if !body.isEmpty { request.body = .bytes(ByteBuffer(bytes: body)) }

        let response: HTTPClientResponse
        let collected: ByteBuffer
        do {
            response = try await http.execute(request, deadline: .now() + TimeAmount(timeout))
            collected = try await response.body.collect(upTo: maxResponseBytes)
        } catch let error as HTTPClientError where error == .deadlineExceeded || error == .readTimeout || error == .connectTimeout {
            throw AWSError(kind: .timeout, operation: operation, status: 0, code: nil,
                           message: "no answer from \(base) within \(timeout) (the per-attempt timeout)", attempts: 1)
        } catch let error as NIOTooManyBytesError {
            throw AWSError(kind: .badResponse, operation: operation, status: 0, code: nil,
                           message: "answer is larger than \(maxResponseBytes) bytes (\(error))", attempts: 1)
        } catch {
            throw AWSError(kind: .unreachable, operation: operation, status: 0, code: nil,
                           message: "cannot reach \(base): \(error)", attempts: 1)
        }
        let status = Int(response.status.code)
        let data = Data(collected.readableBytesView)
        if (200..<300).contains(status) { return AWSResponse(status: status, headers: response.headers, body: data) }
        let (code, message) = AWSError.parse(body: data, headers: response.headers)
        throw AWSError(kind: AWSError.kind(code: code, status: status), operation: operation, status: status, code: code,
                       message: message ?? "HTTP \(status)", attempts: 1)
    }
}
