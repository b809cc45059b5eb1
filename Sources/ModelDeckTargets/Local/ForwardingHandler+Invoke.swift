import Foundation
import ModelDeckCore
import NIOCore
import NIOHTTP1

/// A routed invocation: from the endpoint's name to its answer, on the connection's event loop when an instance
/// has a free slot; through the runtime actor (a task) for a cold start, the queue, a bench token to check, and
/// a failed forward.
extension ForwardingHandler {
    /// What one invocation needs once it is routed: a reference, handed on (to the upstream's callback, the
    /// slow path's task) with one retain rather than a copy of each of its fields.
    private final class Routed {
        let name: String
        let route: EndpointRoute
        let versionID: String
        let timeout: TimeAmount
        let warmup: Bool
        let bench: Bool
        let holdMilliseconds: Int
        let head: HTTPRequestHead
        let contentType: String?
        let body: ByteBuffer
        let arrival: NIODeadline
        let at: Date

        init(name: String, route: EndpointRoute, versionID: String, timeout: TimeAmount, warmup: Bool, bench: Bool,
             holdMilliseconds: Int, head: HTTPRequestHead, contentType: String?, body: ByteBuffer, arrival: NIODeadline, at: Date) {
            self.name = name
            self.route = route
            self.versionID = versionID
            self.timeout = timeout
            self.warmup = warmup
            self.bench = bench
            self.holdMilliseconds = holdMilliseconds
            self.head = head
            self.contentType = contentType
            self.body = body
            self.arrival = arrival
            self.at = at
        }
    }

    func invoke(_ name: String, head: HTTPRequestHead, fields: RequestFields, body: ByteBuffer, context: ChannelHandlerContext) {
        let at = Date()
        guard let endpoint = shared.catalog.route(named: name) else {
            return respond(.notFound, ["error": "unknown endpoint '\(name)' on this gateway", "endpoint": name], head: head, context: context)
        }
        // A caller without the daemon's secret is user traffic, whatever it claims: it must not pin a version,
        // hold instances, or keep its requests out of the SLO gate's figures.
        let warmup = fields.warmup == "1" && WarmupSecret.matches(fields.warmupSecret, shared.warmupSecret)
        let token = warmup ? nil : fields.benchToken
        let arrival = self.arrival
        if let known = shared.bench.known(token, endpoint: name) {
            return route(name, endpoint: endpoint, warmup: warmup, bench: known, head: head, fields: fields, body: body, arrival: arrival, at: at,
                         context: context)
        }
        // A bench token not checked in the last second: the registry says (off the loop).
        let bench = shared.bench
        context.eventLoop.makeFutureWithTask { await bench.isValid(token, endpoint: name) }
            .assumeIsolated().whenSuccess { [self] known in
                route(name, endpoint: endpoint, warmup: warmup, bench: known, head: head, fields: fields, body: body, arrival: arrival, at: at,
                      context: context)
            }
    }

    private func route(_ name: String, endpoint: EndpointRoute, warmup: Bool, bench: Bool, head: HTTPRequestHead, fields: RequestFields,
                       body: ByteBuffer, arrival: NIODeadline, at: Date, context: ChannelHandlerContext) {
        // A keep-warm ping or a bench request may name its version; user traffic always follows the weights.
        let weights = endpoint.local.weights
        let pinned = warmup || bench ? fields.version.flatMap { weights[$0] != nil ? $0 : nil } : nil
        // The roll on a local copy: `random` is not accessed (and checked for exclusivity) while it runs.
        var random = self.random
        let picked = pinned ?? WeightedRouter.pick(weights, using: &random)
        self.random = random
        guard let versionID = picked, let timeout = endpoint.timeouts[versionID] else {
            return respond(.serviceUnavailable, ["error": "endpoint '\(name)' has no version taking traffic; deploy one", "endpoint": name],
                           head: head, context: context)
        }
        let hold = warmup ? min(1_000, Int(fields.holdMilliseconds ?? "") ?? 0) : 0
        let invocation = Routed(name: name, route: endpoint, versionID: versionID, timeout: timeout, warmup: warmup, bench: bench,
                                holdMilliseconds: hold, head: head, contentType: fields.contentType, body: body, arrival: arrival, at: at)
        let runtime = shared.runtime
        let cold = bench && fields.benchCold == "1"
        // The hot path: a free slot, taken under the slots' lock.
        if !cold, let lease = runtime.takeFree(endpoint: name, version: versionID) {
            return forward(invocation, lease: lease, context: context)
        }
        // The slow path: a cold start, the queue, or a bench run's cold request, through the runtime actor.
        let local = endpoint.local
        guard let version = local.versions[versionID] else { return }
        context.eventLoop.makeFutureWithTask { () async -> Result<Lease, RuntimeFailure> in
            if cold { await runtime.stopIdle(endpoint: name, version: versionID) }
            do {
                return .success(try await runtime.acquire(local, version: version))
            } catch let failure as RuntimeFailure {
                return .failure(failure)
            } catch {
                return .failure(.startFailed(endpoint: name, version: versionID, reason: "\(error)"))
            }
        }.assumeIsolated().whenSuccess { [self] acquired in
            switch acquired {
            case .success(let lease):
                forward(invocation, lease: lease, context: context)
            case .failure(let failure):
                let status: HTTPResponseStatus = if case .startFailed = failure { .badGateway } else { .serviceUnavailable }
                record(invocation, status: Int(status.code), cold: false, inFlight: 0)
                respond(status, ["error": failure.message, "endpoint": name, "version": versionID], head: head, context: context)
            }
        }
    }

    private func forward(_ invocation: Routed, lease: Lease, context: ChannelHandlerContext) {
        guard let upstreams else { return }
        upstreams.send(port: lease.port, contentType: invocation.contentType, warmup: invocation.warmup,
                       body: invocation.body, timeout: invocation.timeout) { [self] result in
            switch result {
            case .success(let answer):
                if invocation.holdMilliseconds > 0 {
                    context.eventLoop.assumeIsolated().scheduleTask(in: .milliseconds(Int64(invocation.holdMilliseconds))) { [self] in
                        answered(invocation, lease: lease, answer: answer, context: context)
                    }
                } else {
                    answered(invocation, lease: lease, answer: answer, context: context)
                }
            case .failure(let error):
                failed(invocation, lease: lease, error: error, context: context)
            }
        }
    }

    private func answered(_ invocation: Routed, lease: Lease, answer: UpstreamAnswer, context: ChannelHandlerContext) {
        shared.runtime.releaseNow(lease)
        record(invocation, status: answer.status, cold: lease.coldStart, inFlight: lease.inFlight)
        write(answer.status, body: answer.body, head: invocation.head, context: context) { out in
            if let type = answer.contentType {
                out.writeHeader("Content-Type", type)
            } else {
                out.writeStaticString("Content-Type: application/octet-stream\r\n")
            }
            out.writeHeader("X-ModelDeck-Version", invocation.versionID)
            out.writeHeader("X-ModelDeck-Instance", lease.instanceID)
            out.writeStaticString(lease.coldStart ? "X-ModelDeck-Cold-Start: true\r\n" : "X-ModelDeck-Cold-Start: false\r\n")
            if let ms = lease.processStartMilliseconds { out.writeHeader("X-ModelDeck-Process-Start-Ms", decimal: ms) }
            if let ms = lease.modelLoadMilliseconds { out.writeHeader("X-ModelDeck-Model-Load-Ms", decimal: ms) }
        }
    }

    /// The forward failed at the HTTP level: the runtime says whether the instance's process ended.
    private func failed(_ invocation: Routed, lease: Lease, error: any Error, context: ChannelHandlerContext) {
        let runtime = shared.runtime
        context.eventLoop.makeFutureWithTask { () async -> String? in
            await runtime.release(lease)
            return await runtime.processEnded(for: lease)
        }.assumeIsolated().whenSuccess { [self] ended in
            record(invocation, status: 502, cold: lease.coldStart, inFlight: lease.inFlight)
            let message = ended.map { "\($0) during the request" }
                ?? "instance \(lease.instanceID) of \(invocation.versionID) did not answer: \(error)"
            respond(.badGateway, ["error": message, "endpoint": invocation.name, "version": invocation.versionID],
                    head: invocation.head, context: context) { out in
                out.writeHeader("X-ModelDeck-Version", invocation.versionID)
                out.writeHeader("X-ModelDeck-Instance", lease.instanceID)
            }
        }
    }

    private func record(_ invocation: Routed, status: Int, cold: Bool, inFlight: Int) {
        // Bench traffic is measured and priced by its run (`bench_runs`), never in the user figures.
        if invocation.bench { return }
        shared.recorder.record(Invocation(
            endpoint: invocation.name, version: invocation.versionID, at: invocation.at,
            latencyMicroseconds: UInt64(max(0, (NIODeadline.now() - invocation.arrival).nanoseconds / 1_000)),
            status: status, coldStart: cold, warmup: invocation.warmup, inFlight: inFlight,
            memoryMB: invocation.route.local.endpoint.memoryMB, rates: invocation.route.local.rates))
    }
}
