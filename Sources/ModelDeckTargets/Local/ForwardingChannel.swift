import Foundation
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP1

/// What every connection's handler shares: the catalog, the runtime, the recorder and the limits.
final class ForwardingShared: Sendable {
    let catalog: EndpointCatalog
    let runtime: LocalRuntime
    let recorder: InvocationRecorder
    let admission: GatewayAdmission
    let warmupSecret: String
    let maxRequestBytes: Int
    let buffered: BodyBudget
    let bench: BenchPasses
    let idleTimeout: TimeAmount
    let logger: Logger

    init(catalog: EndpointCatalog, runtime: LocalRuntime, recorder: InvocationRecorder, admission: GatewayAdmission,
         warmupSecret: String, maxRequestBytes: Int, buffered: BodyBudget, bench: BenchPasses, idleTimeout: TimeAmount,
         logger: Logger) {
        self.catalog = catalog
        self.runtime = runtime
        self.recorder = recorder
        self.admission = admission
        self.warmupSecret = warmupSecret
        self.maxRequestBytes = maxRequestBytes
        self.buffered = buffered
        self.bench = bench
        self.idleTimeout = idleTimeout
        self.logger = logger
    }
}

/// The gateway's connections: SwiftNIO's HTTP/1 request decoder and `ForwardingHandler`, served by
/// HummingbirdCore's `Server` (binding, the cap on open connections, graceful shutdown that lets requests in
/// flight finish).
///
/// Two handlers, where `configureHTTPServerPipeline` and an `IdleStateHandler` made five before ours (the
/// response encoder, the request decoder, pipelining assistance, protocol-error handling, the idle timer):
/// every event went through each of them (issue #20's `perf`). What those did is done by `ForwardingHandler`:
/// answers are written as bytes; one request at a time per connection, with pipelined requests kept until the
/// answer before them is written; a protocol error answered `400` and the connection closed; the connection
/// closed when idle for the idle timeout, when the caller closes its side, or when the server quiesces (at
/// once if idle, else after the answer in flight).
struct ForwardingChannel: ServerChildChannel {
    struct Value: ServerChildChannelValue {
        let channel: any Channel
    }

    let shared: ForwardingShared

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(HTTPRequestDecoder(leftOverBytesStrategy: .dropBytes)))
            try channel.pipeline.syncOperations.addHandler(ForwardingHandler(shared: shared))
            return Value(channel: channel)
        }
    }

    func handle(value: Value, logger: Logger) async {
        try? await value.channel.closeFuture.get()
    }
}

/// The bytes of a small JSON object with sorted keys (gateway errors, health).
enum GatewayJSON {
    static func object(_ fields: [String: String]) -> Data {
        (try? JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys])) ?? Data("{}".utf8)
    }
}
