import AsyncHTTPClient
import Foundation
import ModelDeckCore
import NIOCore
import NIOHTTP1

/// The http driver: an endpoint someone else runs, reached at its URL with async-http-client. It never
/// changes anything there — `provision`, `setWeights` and `liveWeights` refuse, saying ModelDeck observes the
/// target but does not control it — and sends two kinds of requests, both marked `X-ModelDeck-Warmup: 1`:
/// probes (the daemon's synthetic requests on the target's `probe_interval`) and keep-warm pings. Each says its
/// status, its round trip and whether it waited for a cold start (`HTTPProbe.isColdStart`).
///
/// Header values are read from the environment once, when the driver is made (the daemon's start): a variable
/// that is not set makes the target unavailable, with the variable named.
public struct HTTPDriver: TargetDriver {
    public let target: Target
    let probeSettings: HTTPProbe
    private let headers: [(name: String, value: String)]
    private let http: HTTPClient

    /// The most of an answer read (the rest is not waited for): a probe needs the status and headers.
    static let maxAnswerBytes = 1 << 20

    public init(target: Target, environment: [String: String], http: HTTPClient = .shared) throws {
        self.target = target
        probeSettings = HTTPProbe(target: target)
        do { headers = try probeSettings.headerValues(environment: environment) } catch let error as ModelDeckError {
            throw ModelDeckError("\(error.message) in the daemon's environment (header values are never stored)")
        }
        self.http = http
    }

    private var refusal: ModelDeckError {
        ModelDeckError("ModelDeck observes \(target.kind.rawValue) targets but does not control them: target \(target.label) is deployed by whoever runs it")
    }

    public func provision(_ version: ModelVersion, on endpoint: Endpoint) async throws { throw refusal }
    public func setWeights(_ weights: [String: Int], on endpoint: Endpoint, versions: [String: ModelVersion]) async throws { throw refusal }
    public func liveWeights(of endpoint: Endpoint, versions: [String: ModelVersion]) async throws -> [String: Int] { throw refusal }

    /// `count` pings at once; a ping that reached nothing throws (keep-warm then tries again later).
    public func ping(_ version: ModelVersion, of endpoint: Endpoint, count: Int) async throws -> [PingResult] {
        try await sendConcurrently(count) {
            let result = await send()
            if let failure = result.failure { throw ModelDeckError("ping of \(endpoint.name) at \(probeSettings.url): \(failure)") }
            return result.ping
        }
    }

    /// One probe; no answer in time is a failed probe (status 0), which counts against availability.
    public func probe(_ version: ModelVersion, of endpoint: Endpoint) async throws -> PingResult {
        await send().ping
    }

    /// Sends one marked request and times it. `failure` says why nothing answered.
    func send() async -> (ping: PingResult, failure: String?) {
        var request = HTTPClientRequest(url: probeSettings.url)
        request.method = HTTPMethod(rawValue: probeSettings.method)
        request.headers.add(name: "User-Agent", value: "modeldeck")
        request.headers.add(name: "X-ModelDeck-Warmup", value: "1")
        for header in headers { request.headers.replaceOrAdd(name: header.name, value: header.value) }
        if let body = probeSettings.body {
            request.headers.replaceOrAdd(name: "Content-Type", value: probeSettings.contentType ?? "application/json")
            request.body = .bytes(ByteBuffer(string: body))
        }
        let timeout = TimeAmount.seconds(probeSettings.timeoutSeconds)
        let started = ContinuousClock.now
        func elapsed() -> Int {
            let duration = ContinuousClock.now - started
            return Int(duration.components.seconds * 1_000 + duration.components.attoseconds / 1_000_000_000_000_000)
        }
        do {
            let response = try await http.execute(request, deadline: .now() + timeout)
            // The answer is read (so the round trip is the caller's) but not kept.
            _ = try? await response.body.collect(upTo: Self.maxAnswerBytes)
            let milliseconds = elapsed()
            let header = probeSettings.coldStartHeader.flatMap { response.headers.first(name: $0) }
            return (PingResult(status: Int(response.status.code),
                               coldStart: probeSettings.isColdStart(milliseconds: milliseconds, headerValue: header),
                               milliseconds: milliseconds), nil)
        } catch let error as HTTPClientError where error == .deadlineExceeded || error == .readTimeout || error == .connectTimeout {
            return (PingResult(status: 0, coldStart: false, milliseconds: elapsed()),
                    "no answer within \(Format.duration(seconds: probeSettings.timeoutSeconds)) (probe_timeout)")
        } catch {
            return (PingResult(status: 0, coldStart: false, milliseconds: elapsed()), "cannot reach it: \(error)")
        }
    }
}

extension HTTPDriver {
    /// The http entry in `TargetDrivers.makers`: fails (the target is unavailable) when a header's variable is not set.
    static let maker = TargetDrivers.Maker(kind: .http) { target, context in
        try HTTPDriver(target: target, environment: context.aws.variables)
    }
}
