import AsyncHTTPClient
import Foundation
import GRDB
import Logging
import ModelDeckCore
import NIOCore
import NIOPosix
import Testing
@testable import ModelDeckTargets

/// The gateway's HTTP/1.1 on the wire, with real model processes: answers framed every way a model server may
/// frame them, an answer cut short, pipelined requests, a request the decoder refuses.
@Suite(.serialized)
struct GatewayWireTests {
    static func harness(_ arguments: [String] = []) throws -> GatewayHarness {
        try GatewayHarness(versions: ["v1": arguments], endpoint: """
          - {name: sentiment, model: sentiment, target: local, memory: 256MB, traffic: {v1: 100}}
        """)
    }

    static func counted(_ harness: GatewayHarness) throws -> (requests: Int, errors: Int) {
        let row = try harness.registry.read { db in
            try Row.fetchOne(db, sql: "SELECT SUM(requests) AS requests, SUM(errors) AS errors FROM metric_buckets WHERE endpoint = 'sentiment'")
        }
        return ((row?["requests"] as Int?) ?? 0, (row?["errors"] as Int?) ?? 0)
    }

    @Test(arguments: ["chunked", "close"])
    func answersFramedWithoutContentLengthAreForwardedWhole(framing: String) async throws {
        let harness = try Self.harness(["--answer-framing", framing])
        defer { harness.cleanUp() }
        try await harness.withGateway { client in
            // Several on one kept-alive connection: a chunked answer keeps the instance's connection, one framed
            // by its close takes a new one each time.
            for text in ["great, I love it", "terrible, I hate it", "great"] {
                let answer = try await client.invoke(text: text)
                #expect(answer.status == 200, "\(answer.body)")
                #expect(answer.version == "sentiment@v1")
                #expect(answer.body.hasPrefix("{\"label\": \"\(text.hasPrefix("great") ? "positive" : "negative")\""), "\(answer.body)")
                #expect(answer.body.hasSuffix("\"version\": \"v1\"}\n"), "\(answer.body)")
            }
        }
        #expect(try Self.counted(harness) == (3, 0))
    }

    @Test func anAnswerCutShortIsA502CountedAsAnError() async throws {
        let harness = try Self.harness(["--answer-framing", "cut"])
        defer { harness.cleanUp() }
        try await harness.withGateway { client in
            let answer = try await client.invoke()
            #expect(answer.status == 502)
            #expect(answer.body.contains("closed before the answer was complete"), "\(answer.body)")
            #expect(answer.version == "sentiment@v1")
        }
        #expect(try Self.counted(harness) == (1, 1))
    }

    @Test func pipelinedRequestsAreAnsweredInOrder() async throws {
        let harness = try Self.harness(["--extra-latency-ms", "100"])
        defer { harness.cleanUp() }
        try await harness.withGateway { client in
            #expect(try await client.invoke().status == 200) // the cold start
            func invoke(_ body: String) -> String {
                "POST /endpoints/sentiment/invoke HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                    + "Content-Length: \(body.utf8.count)\r\n\r\n" + body
            }
            let first = invoke("{\"text\": \"I love it\"}")
            let second = "GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n"
            let third = invoke("{\"text\": \"I hate it\"}")
            // All three in one write: the second and third wait until the slow first one is answered.
            let read = try await RawConnection.exchange(port: client.port, send: first + second + third) { text in
                text.components(separatedBy: "HTTP/1.1 200 OK").count == 4 && text.hasSuffix("}\n")
            }
            let positive = try #require(read.range(of: "\"label\": \"positive\""))
            let health = try #require(read.range(of: "{\"status\":\"ok\"}"))
            let negative = try #require(read.range(of: "\"label\": \"negative\""))
            #expect(positive.upperBound <= health.lowerBound && health.upperBound <= negative.lowerBound, "\(read)")
        }
        #expect(try Self.counted(harness).requests == 3)
    }

    @Test func aRequestTheDecoderRefusesGets400AndTheConnectionCloses() async throws {
        let harness = try Self.harness()
        defer { harness.cleanUp() }
        try await harness.withGateway { client in
            let read = try await RawConnection.exchange(port: client.port, send: "NOT HTTP AT ALL\r\n\r\n") { _ in false }
            #expect(read.hasPrefix("HTTP/1.1 400 Bad Request\r\n"), "\(read)")
            #expect(read.contains("Connection: close"))
        }
    }

    @Test func aHeadRequestGetsNoBodyAndHTTP10GetsItsVersion() async throws {
        let harness = try Self.harness()
        defer { harness.cleanUp() }
        try await harness.withGateway { client in
            let head = try await RawConnection.exchange(port: client.port, send: "HEAD /nope HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n") { _ in false }
            #expect(head.hasPrefix("HTTP/1.1 404 Not Found\r\n"), "\(head)")
            #expect(head.hasSuffix("\r\n\r\n"), "a HEAD answer has no body: \(head)")
            let old = try await RawConnection.exchange(port: client.port, send: "GET /healthz HTTP/1.0\r\n\r\n") { _ in false }
            #expect(old.hasPrefix("HTTP/1.0 200 OK\r\n"), "\(old)")
            #expect(old.contains("Connection: close") && old.hasSuffix("{\"status\":\"ok\"}"), "\(old)")
        }
    }

    /// A runtime (queue timeout 20 s) for the endpoint `sentiment` with versions v1 and v2 split by `traffic`,
    /// on at most `maxInstances` instances of concurrency 1; the caller cleans the harness up.
    static func twoVersions(maxInstances: Int, traffic: String) throws
        -> (harness: GatewayHarness, local: LocalEndpoint, v1: ModelVersion, v2: ModelVersion, runtime: LocalRuntime) {
        let harness = try GatewayHarness(versions: ["v1": [], "v2": []], endpoint: """
          - {name: sentiment, model: sentiment, target: local, memory: 256MB, concurrency: 1, max_instances: \(maxInstances), traffic: \(traffic)}
        """)
        do {
            let local = try #require(try EndpointCatalog(registryPath: harness.registry.path, targets: ["local"]).endpoint(named: "sentiment"))
            let v1 = try #require(local.versions["sentiment@v1"]), v2 = try #require(local.versions["sentiment@v2"])
            let runtime = LocalRuntime(settings: harness.settings(queueTimeout: .seconds(20)), http: HTTPClient.shared, logger: Logger(label: "test"))
            return (harness, local, v1, v2, runtime)
        } catch {
            harness.cleanUp()
            throw error
        }
    }

    /// Issue #20's note: a request queued for one version at `max_instances` used to wait out the queue timeout
    /// while an instance of another version went idle.
    @Test func aRequestQueuedForAnotherVersionTakesTheRoomOfAnInstanceThatWentIdle() async throws {
        let (harness, local, v1, v2, runtime) = try Self.twoVersions(maxInstances: 1, traffic: "{v1: 50, v2: 50}")
        defer { harness.cleanUp() }
        let first = try await runtime.acquire(local, version: v1)
        let queued = Task { try await runtime.acquire(local, version: v2) }
        // The v2 request finds the one instance busy and queues (a v1 request would wait for its slot).
        try await Task.sleep(for: .milliseconds(300))
        await runtime.release(first)
        let second = await queued.result
        await runtime.shutdown()
        let lease = try second.get()
        #expect(lease.version == "sentiment@v2")
        #expect(lease.coldStart)
    }

    /// The full demo's good 25% canary was rolled back for cold starts: at `max_instances`, the two
    /// versions took each other's idle instances in turn. A version within its share of the instances (its
    /// weight × `max_instances`, rounded up) keeps them; the other version's request waits for its own.
    @Test func aVersionWithinItsShareOfTheInstancesKeepsThemWhenTheOtherVersionIsBusy() async throws {
        let (harness, local, v1, v2, runtime) = try Self.twoVersions(maxInstances: 2, traffic: "{v1: 90, v2: 10}")
        defer { harness.cleanUp() }
        let busy = try await runtime.acquire(local, version: v1)
        let canary = try await runtime.acquire(local, version: v2)
        await runtime.release(canary) // v2's one instance is idle; v1's is busy and the endpoint is at its maximum
        let queued = Task { try await runtime.acquire(local, version: v1) }
        try await Task.sleep(for: .milliseconds(300))
        let during = await runtime.snapshot().map(\.version).sorted()
        await runtime.release(busy)
        let next = await queued.result
        let after = await runtime.snapshot().map(\.version).sorted()
        await runtime.shutdown()
        let lease = try next.get()
        #expect(during == ["sentiment@v1", "sentiment@v2"], "v2's idle instance stays while the v1 request waits")
        #expect(lease.instanceID == busy.instanceID && !lease.coldStart, "the v1 request gets v1's instance, warm")
        #expect(after == ["sentiment@v1", "sentiment@v2"])
        #expect(LocalRuntime.share(of: "sentiment@v1", in: local) == 2 && LocalRuntime.share(of: "sentiment@v2", in: local) == 1)
    }
}

/// A raw TCP connection to the gateway: writes `send` as it is, reads until `done` says so or the gateway
/// closes the connection (at most 30 s), returns what was read.
enum RawConnection {
    static func exchange(port: Int, send: String, done: @escaping @Sendable (String) -> Bool) async throws -> String {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(host: "127.0.0.1", port: port) { channel in
                channel.eventLoop.makeCompletedFuture { try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel) }
            }
        return try await withThrowingTaskGroup(of: String?.self) { group in
            group.addTask {
                try await channel.executeThenClose { inbound, outbound in
                    try await outbound.write(ByteBuffer(string: send))
                    var read = ""
                    for try await part in inbound {
                        read += String(buffer: part)
                        if done(read) { break }
                    }
                    return read
                }
            }
            group.addTask {
                try await Task.sleep(for: .seconds(30))
                return nil
            }
            let first = try await group.next()!
            group.cancelAll()
            guard let read = first else { throw ModelDeckError("no answer within 30 s") }
            return read
        }
    }
}
