import AsyncHTTPClient
import Foundation
import Logging
import ModelDeckCore
import ModelDeckTargets
import NIOCore
import Synchronization

/// `modeldeck demo`: a fresh registry with the example deck, the daemon with the local target, traffic in
/// bursts with idle gaps, a canary of the bad version that the daemon rolls back by itself, then a canary
/// of a good version that it promotes — narrated as it happens.
public struct Demo: Sendable {
    public struct Timing: Sendable {
        public var canaryPercent = 25
        public var canaryInterval: Int64 = 20
        public var bake: Int64 = 10
        public var warmUp: Duration = .seconds(6)

        public static let normal = Timing()
        /// For tests and impatient people: shorter steps, same story.
        public static let quick = Timing(canaryPercent: 50, canaryInterval: 4, bake: 3, warmUp: .seconds(2))
    }

    let registry: Registry
    let timing: Timing
    let say: @Sendable (String) -> Void
    /// Print a status line every 3 s (when nothing else shows the figures; the dashboard does).
    let narrateStatus: Bool

    public init(registry: Registry, timing: Timing, narrateStatus: Bool = true, say: @escaping @Sendable (String) -> Void) {
        self.registry = registry
        self.timing = timing
        self.narrateStatus = narrateStatus
        self.say = say
    }

    /// Runs the whole story; returns true when the bad canary was rolled back and the good one promoted.
    public func run() async throws -> Bool {
        var logger = Logger(label: "modeldeck.demo")
        logger.logLevel = .warning
        let (port, stopper, daemon) = try await Daemon.startInProcess(registry: registry, logger: logger)
        say("daemon running; gateway on http://127.0.0.1:\(port) — try: curl -X POST -H 'Content-Type: application/json' -d '{\"text\":\"great\"}' http://127.0.0.1:\(port)/endpoints/sentiment/invoke")

        let traffic = Task { await Self.traffic(port: port) }
        let status = narrateStatus ? Task { await statusLines() } : nil
        defer {
            traffic.cancel()
            status?.cancel()
        }
        do {
            let succeeded = try await story()
            await stopper.stop()
            try await daemon.value
            return succeeded
        } catch {
            // Cancelled (the user quit the dashboard) or failed: the daemon still stops cleanly.
            await stopper.stop()
            _ = try? await daemon.value
            throw error
        }
    }

    private func story() async throws -> Bool {
        try await Task.sleep(for: timing.warmUp)

        let strategy = DeploymentStrategy.canary(percent: timing.canaryPercent, intervalSeconds: timing.canaryInterval)
        say("▶ deploying sentiment v2 (the bad one: 30% errors, 250 ms slower) as \(strategy)")
        let bad = try Intents.deploy(registry, endpoint: "sentiment", version: "v2", strategy: strategy, bakeSeconds: timing.bake,
                                     reason: "demo: a retrained model", actor: "demo")
        let badEnd = try await waitForEnd(of: bad)
        let rolledBack = badEnd.state == .rolledBack
        say(rolledBack ? "✔ v2 was rolled back automatically: \(badEnd.alarm ?? "")" : "✘ v2 ended \(badEnd.state.rawValue)")

        say("▶ deploying sentiment v3 (a good one) as \(strategy), bake \(Format.duration(seconds: timing.bake))")
        let good = try Intents.deploy(registry, endpoint: "sentiment", version: "v3", strategy: strategy, bakeSeconds: timing.bake,
                                      reason: "demo: a better model", actor: "demo")
        let goodEnd = try await waitForEnd(of: good)
        let promoted = goodEnd.state == .succeeded
        say(promoted ? "✔ v3 was promoted: it takes all traffic of sentiment" : "✘ v3 ended \(goodEnd.state.rawValue): \(goodEnd.alarm ?? "")")

        say("the audit log of this run:")
        let events = try registry.listEvents(endpoint: "sentiment", limit: 30)
        for event in events where event.kind.hasPrefix("deploy.") || event.kind.hasPrefix("rollback.") {
            say("  \(event.actor.padding(toLength: 7, withPad: " ", startingAt: 0)) \(event.kind.padding(toLength: 20, withPad: " ", startingAt: 0)) \(event.message)")
        }
        return rolledBack && promoted
    }

    private func waitForEnd(of deployment: Deployment) async throws -> Deployment {
        var lastState = deployment.state
        var lastWeight = -1
        while true {
            try await Task.sleep(for: .milliseconds(250))
            guard let current = try registry.deployment(id: deployment.id) else {
                throw ModelDeckError("deployment #\(deployment.id ?? 0) disappeared")
            }
            if current.state != lastState || current.currentWeight != lastWeight {
                if current.state.isActive && current.state != .pending && current.state != .provisioning {
                    say("  deployment #\(current.id ?? 0): \(current.state.rawValue), \(current.toVersion) at \(current.currentWeight)%")
                }
                lastState = current.state
                lastWeight = current.currentWeight
            }
            if !current.state.isActive { return current }
        }
    }

    /// Every 3 seconds: what a person would glance at in the dashboard.
    private func statusLines() async {
        while !Task.isCancelled {
            try? await Task.sleep(for: .seconds(3))
            guard let line = try? Self.status(registry, endpoint: "sentiment") else { continue }
            say("  │ \(line)")
        }
    }

    /// The last 10 seconds of `endpoint`, per version, read as every view reads a window (`LiveFigures`).
    static func status(_ registry: Registry, endpoint: String) throws -> String {
        let traffic = (try? TrafficSplit(registry.desiredWeights(endpoint: endpoint), endpoint: endpoint).summary) ?? "no traffic"
        let figures = try registry.liveFigures(window: LiveWindow(last: 10, now: Date()), endpoint: endpoint)[endpoint]
        var parts: [String] = []
        for (version, live) in (figures?.versions ?? [:]).sorted(by: { $0.key < $1.key }) where live.requests > 0 {
            let p99 = live.p99Milliseconds.map { "\(Int($0.rounded())) ms" } ?? "-"
            parts.append("\(version): \(live.requests) req, \(live.errors * 100 / live.requests)% errors, p99 \(p99), \(live.coldStarts) cold")
        }
        let instances = try registry.instanceCount(endpoint: endpoint)
        return "sentiment [\(traffic)] last 10 s — \(parts.isEmpty ? "idle" : parts.joined(separator: "; ")) — \(instances) instance(s)"
    }

    /// Bursts of requests with idle gaps, to both endpoints: cold starts, scale-out and quiet spells.
    static func traffic(port: Int) async {
        let texts = ["great, I love it", "terrible and slow", "fast and reliable", "broken again", "excellent work"]
        var burst = 0
        while !Task.isCancelled {
            burst += 1
            let perSecond = burst % 3 == 0 ? 40 : 20
            let until = ContinuousClock.now + .seconds(burst % 4 == 0 ? 2 : 6)
            await withTaskGroup(of: Void.self) { group in
                var index = 0
                while ContinuousClock.now < until && !Task.isCancelled {
                    index += 1
                    let endpoint = index % 5 == 0 ? "sentiment-batch" : "sentiment"
                    let text = texts[index % texts.count]
                    group.addTask {
                        var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/endpoints/\(endpoint)/invoke")
                        request.method = .POST
                        request.headers.add(name: "Content-Type", value: "application/json")
                        request.body = .bytes(ByteBuffer(string: "{\"text\": \"\(text)\"}"))
                        if let response = try? await HTTPClient.shared.execute(request, timeout: .seconds(30)) {
                            _ = try? await response.body.collect(upTo: 1 << 20)
                        }
                    }
                    try? await Task.sleep(for: .milliseconds(1_000 / perSecond))
                }
            }
            try? await Task.sleep(for: .seconds(burst % 4 == 0 ? 4 : 1)) // an idle gap
        }
    }
}
