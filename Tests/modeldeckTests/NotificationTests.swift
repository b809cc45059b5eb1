import AsyncHTTPClient
import Foundation
import GRDB
import HTTPTypes
import ModelDeckTestSupport
import Synchronization
import Testing

/// A local webhook receiver: answers 500 while `down`, 200 otherwise, and keeps what it accepted.
final class Receiver: Sendable {
    struct Accepted {
        var path: String
        var key: String
        var headers: HTTPFields
        var body: Data
    }

    final class Book: Sendable {
        let down = Mutex(false)
        let accepted = Mutex<[Accepted]>([])
        let refused = Mutex(0)
    }

    let book = Book()
    let server: FaultServer
    let url: String

    init() async throws {
        let book = book
        server = FaultServer { _, head, body in
            if book.down.withLock({ $0 }) {
                book.refused.withLock { $0 += 1 }
                return .error(status: 500, type: nil, body: "receiver down")
            }
            let key = head.headerFields[HTTPField.Name("Idempotency-Key")!] ?? ""
            book.accepted.withLock { $0.append(Accepted(path: head.path ?? "", key: key, headers: head.headerFields, body: body)) }
            return .ok("ok")
        }
        url = try await server.start()
    }

    var keys: [String] { book.accepted.withLock { $0.map(\.key) } }
    func keys(under path: String) -> [String] { book.accepted.withLock { $0.filter { $0.path.hasPrefix(path) }.map(\.key) } }

    func stop() { server.stop() }
}

/// Notifications end to end: the real daemon and CLI as processes, a real HTTP receiver on loopback.
@Suite(.serialized)
struct NotificationEndToEndTests {
    /// The example deck, then `notifications` (a deck of entries only) applied with `environment`.
    func setUp(_ scratch: Scratch, notifications: String, environment: [String: String] = [:]) throws {
        let example = try CLI.run(["apply", "-f", "fixtures/decks/example.yaml", "--registry", scratch.registry])
        #expect(example.status == 0, "\(example.stderr)")
        let deck = scratch.file("notify.yaml", "notifications:\n" + notifications)
        let applied = try CLI.run(["apply", "-f", deck, "--registry", scratch.registry], environment: environment)
        #expect(applied.status == 0, "\(applied.stderr)")
    }

    /// Appends on-call events to the audit log, as the daemon does; returns their ids.
    func record(_ scratch: Scratch, _ events: [(kind: String, endpoint: String)]) throws -> [String] {
        var configuration = Configuration()
        configuration.busyMode = .timeout(10) // the daemon writes too
        let queue = try DatabaseQueue(path: scratch.registry, configuration: configuration)
        return try queue.write { db in
            try events.map { event in
                try db.execute(sql: """
                    INSERT INTO events (at, actor, endpoint, kind, message)
                    VALUES (strftime('%Y-%m-%d %H:%M:%f','now'), 'daemon', ?, ?, 'test event')
                    """, arguments: [event.endpoint, event.kind])
                return "\(db.lastInsertedRowID)"
            }
        }
    }

    func notifications(_ scratch: Scratch) throws -> [[String: Any]] {
        let listed = try CLI.run(["get", "notifications", "-o", "json", "--registry", scratch.registry])
        #expect(listed.status == 0, "\(listed.stderr)")
        return (try JSONSerialization.jsonObject(with: Data(listed.stdout.utf8)) as? [[String: Any]]) ?? []
    }

    func metrics(_ daemon: BackgroundCommand) async throws -> String {
        let response = try await HTTPClient.shared.execute(HTTPClientRequest(url: "http://127.0.0.1:\(daemon.apiPort)/metrics"), timeout: .seconds(10))
        return String(buffer: try await response.body.collect(upTo: 1 << 22))
    }

    @Test func aBadCanaryRolledBackByTheGateReachesTheReceiverAsOneSlackPost() async throws {
        let scratch = Scratch()
        defer { scratch.cleanUp() }
        let receiver = try await Receiver()
        defer { receiver.stop() }
        let secret = ["HOOK_TOKEN": "tok-\(UUID().uuidString)"]
        try setUp(scratch, notifications: """
              - name: slack-oncall
                url: \(receiver.url)/services/${HOOK_TOKEN}
                format: slack
                events: [deploy.rolled_back]
                production: true

            """, environment: secret)
        let daemon = try BackgroundCommand("daemon", registry: scratch.registry, environment: secret)
        defer { daemon.stop() }
        let port = daemon.port
        let traffic = generateTraffic(port: { port })
        defer { traffic.cancel() }

        #expect(try CLI.run(["deploy", "sentiment", "v2", "--strategy", "canary:50%:1m", "--bake", "30s", "--registry", scratch.registry]).status == 0)
        #expect(try await waitUntil(60) { try deploymentState(scratch.registry, id: 1)?.state == "rolled_back" })
        #expect(try await waitUntil(10) { !receiver.keys.isEmpty })
        let rolledBack = try #require(try events(scratch.registry, kinds: "deploy.rolled_back").first)
        try await Task.sleep(for: .seconds(1))

        let posts = receiver.book.accepted.withLock { $0 }
        #expect(posts.count == 1, "one POST for one rollback")
        let post = try #require(posts.first)
        #expect(post.path == "/services/\(secret["HOOK_TOKEN"]!)", "the secret from the environment is in the URL")
        #expect(post.headers[.contentType] == "application/json")
        let body = try #require(try JSONSerialization.jsonObject(with: post.body) as? [String: Any])
        #expect(body.keys.sorted() == ["text"], "Slack's incoming-webhook shape")
        let text = try #require(body["text"] as? String)
        #expect(text.contains("*deploy.rolled_back* on `sentiment`: \(rolledBack.message)"), "\(text)")
        #expect(text.contains("_event \(post.key), "))

        // The outcome is a counter an Alertmanager rule can use, and the exposition still passes promtool.
        let exposition = try await metrics(daemon)
        #expect(exposition.contains("modeldeck_deployments_total{endpoint=\"sentiment\",result=\"rolled_back\"} 1"), "\(exposition)")
        try Promtool.check(exposition)

        // Never stored: not in the registry file, and `get notifications` shows the template.
        daemon.stop()
        let file = try String(contentsOfFile: scratch.registry, encoding: .isoLatin1)
        #expect(!file.contains(secret["HOOK_TOKEN"]!))
        #expect(try notifications(scratch).first?["destination"] as? String == "\(receiver.url)/services/${HOOK_TOKEN}")
    }

    @Test func aReceiverThatFailsForAWhileGetsEveryEventExactlyOnceInOrderWithItsKey() async throws {
        let scratch = Scratch()
        defer { scratch.cleanUp() }
        let receiver = try await Receiver()
        defer { receiver.stop() }
        try setUp(scratch, notifications: "  - {name: hook, url: '\(receiver.url)/hook', format: json}\n")
        receiver.book.down.withLock { $0 = true }
        let daemon = try BackgroundCommand("daemon", registry: scratch.registry, arguments: ["--notify-retry-max", "400ms"])
        defer { daemon.stop() }
        let ids = try record(scratch, [("deploy.failed", "sentiment"), ("drift.detected", "sentiment"), ("budget.exceeded", "sentiment-batch"),
                                       ("target.unavailable", "sentiment"), ("rollback.done", "sentiment")])
        #expect(try await waitUntil(30) { receiver.book.refused.withLock { $0 } >= 5 })

        // While it fails, it shows: in `get notifications`, in /metrics (which promtool still accepts).
        let failing = try #require(try notifications(scratch).first)
        #expect(failing["failing_since"] is String)
        #expect((failing["last_error"] as? String)?.contains("answered HTTP 500: receiver down") == true, "\(failing)")
        let exposition = try await metrics(daemon)
        let failedLine = exposition.split(separator: "\n").first { $0.hasPrefix("modeldeck_notifications_failed_total{name=\"hook\"} ") }
        #expect((failedLine?.split(separator: " ").last.flatMap { Int($0) } ?? 0) >= 5, "\(exposition)")
        try Promtool.check(exposition)

        receiver.book.down.withLock { $0 = false }
        #expect(try await waitUntil(30) { receiver.keys.count >= ids.count })
        try await Task.sleep(for: .seconds(1))
        #expect(receiver.keys == ids, "every event once, in order, with its id as Idempotency-Key")
        let bodies = receiver.book.accepted.withLock { $0.map(\.body) }
        let sent = bodies.compactMap { try? JSONSerialization.jsonObject(with: $0) as? [String: Any] }
        #expect(sent.map { "\($0["id"] ?? "")" } == ids, "the JSON format is the event as the API gives it")
        #expect(sent.map { $0["kind"] as? String ?? "" } == ["deploy.failed", "drift.detected", "budget.exceeded", "target.unavailable", "rollback.done"])
        let healthy = try #require(try notifications(scratch).first)
        #expect("\(healthy["cursor"] ?? "")" == ids.last)
        #expect(healthy["last_success_at"] is String)
        #expect(healthy["failing_since"] == nil)
    }

    @Test func aDaemonKilledMinus9WhileTheReceiverIsDownLosesNothing() async throws {
        let scratch = Scratch()
        defer { scratch.cleanUp() }
        let receiver = try await Receiver()
        defer { receiver.stop() }
        try setUp(scratch, notifications: "  - {name: hook, url: '\(receiver.url)/hook', format: json}\n")
        let first = try BackgroundCommand("daemon", registry: scratch.registry, arguments: ["--notify-retry-max", "400ms"])
        var ids = try record(scratch, [("deploy.failed", "sentiment"), ("rollback.done", "sentiment")])
        #expect(try await waitUntil(30) { receiver.keys.count == 2 })

        receiver.book.down.withLock { $0 = true }
        ids += try record(scratch, [("deploy.failed", "sentiment"), ("deploy.rolled_back", "sentiment"), ("rollback.done", "sentiment")])
        #expect(try await waitUntil(30) { receiver.book.refused.withLock { $0 } >= 2 })
        first.kill9()
        ids += try record(scratch, [("drift.detected", "sentiment"), ("deploy.failed", "sentiment-batch")])

        let second = try BackgroundCommand("daemon", registry: scratch.registry, arguments: ["--notify-retry-max", "400ms"])
        defer { second.stop() }
        try await Task.sleep(for: .seconds(1))
        receiver.book.down.withLock { $0 = false }
        #expect(try await waitUntil(30) { receiver.keys.count >= ids.count })
        try await Task.sleep(for: .seconds(1))
        #expect(receiver.keys == ids, "nothing lost, nothing twice (the daemon died between tries, with nothing in flight)")
    }

    @Test func aProductionEntryGetsNoEventOfANonProductionEndpointAndNotifyTestSendsOne() async throws {
        let scratch = Scratch()
        defer { scratch.cleanUp() }
        let receiver = try await Receiver()
        defer { receiver.stop() }
        try setUp(scratch, notifications: """
              - {name: prod, url: '\(receiver.url)/prod', format: slack, production: true}
              - {name: all, url: '\(receiver.url)/all', format: json}

            """)
        let daemon = try BackgroundCommand("daemon", registry: scratch.registry)
        defer { daemon.stop() }
        // sentiment is production in the example deck, sentiment-batch is not.
        let ids = try record(scratch, [("deploy.failed", "sentiment-batch"), ("deploy.failed", "sentiment"), ("drift.detected", "sentiment-batch")])
        #expect(try await waitUntil(30) { receiver.keys(under: "/all").count == 3 })
        try await Task.sleep(for: .seconds(1))
        #expect(receiver.keys(under: "/all") == ids)
        #expect(receiver.keys(under: "/prod") == [ids[1]])

        let tested = try CLI.run(["notify", "test", "prod", "--registry", scratch.registry])
        #expect(tested.status == 0, "\(tested.stderr)")
        #expect(tested.stdout.hasPrefix("test event "), "\(tested.stdout)")
        #expect(receiver.keys(under: "/prod").count == 2)
        let test = try #require(receiver.book.accepted.withLock { $0.last })
        #expect(String(decoding: test.body, as: UTF8.self).contains("notify.test"))
        try await Task.sleep(for: .seconds(1))
        #expect(receiver.keys(under: "/all").count == 3, "the test event is for the entry tested only")
    }
}

extension NotificationEndToEndTests {
    @Test func aCommandEntryGetsTheEventOnStdinWithAMinimalEnvironment() throws {
        let scratch = Scratch()
        defer { scratch.cleanUp() }
        let out = scratch.path + "/got"
        let script = scratch.file("notify.sh", "cat > \"$1.json\"; env | sort > \"$1.env\"\n")
        try setUp(scratch, notifications: """
              - {name: script, command: [/bin/sh, \(script), '${OUT_PREFIX}'], format: json}
              - {name: broken, command: [/bin/sh, -c, 'exit 3'], format: json}

            """, environment: ["OUT_PREFIX": out])
        let tested = try CLI.run(["notify", "test", "script", "--registry", scratch.registry],
                                 environment: ["OUT_PREFIX": out, "SOME_DAEMON_SECRET": "must-not-leak"])
        #expect(tested.status == 0, "\(tested.stderr)")
        let event = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out + ".json"))) as? [String: Any])
        #expect(event["kind"] as? String == "notify.test")
        #expect(tested.stdout.contains("test event \(event["id"] ?? "?") sent to script"))
        let environment = try String(contentsOfFile: out + ".env", encoding: .utf8)
        #expect(environment.contains("MODELDECK_EVENT_KIND=notify.test\n"))
        #expect(environment.contains("MODELDECK_IDEMPOTENCY_KEY=\(event["id"] ?? "?")\n"))
        #expect(environment.contains("OUT_PREFIX=\(out)\n"), "the variables the entry names")
        #expect(!environment.contains("must-not-leak") && !environment.contains("HOME="), "\(environment)")

        let broken = try CLI.run(["notify", "test", "broken", "--registry", scratch.registry])
        #expect(broken.status != 0)
        #expect(broken.stderr.split(separator: "\n").count == 1)
        #expect(broken.stderr.contains("notification 'broken': test event"), "\(broken.stderr)")
        #expect(broken.stderr.contains("did not arrive: /bin/sh exited with status 3"), "\(broken.stderr)")
        let table = try CLI.run(["get", "notifications", "--registry", scratch.registry])
        #expect(table.stdout.contains("script") && table.stdout.contains("on-call events"), "\(table.stdout)")
    }
}

extension NotificationEndToEndTests {
    @Test func aDaemonKilledMinus9MidDeliveryResendsOnlyTheEventItWasSending() async throws {
        let scratch = Scratch()
        defer { scratch.cleanUp() }
        let log = scratch.path + "/delivered", slow = scratch.path + "/slow"
        // Notes each delivery's key, then takes 5 s to finish while `slow` exists: a delivery in flight.
        let script = scratch.file("notify.sh", """
            cat > /dev/null; echo "$MODELDECK_IDEMPOTENCY_KEY" >> "\(log)"; if [ -f "\(slow)" ]; then sleep 5; fi

            """)
        try setUp(scratch, notifications: "  - {name: script, command: [/bin/sh, \(script)], format: json}\n")
        func delivered() -> [String] {
            ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
        }
        let first = try BackgroundCommand("daemon", registry: scratch.registry)
        var ids = try record(scratch, [("deploy.failed", "sentiment")])
        #expect(try await waitUntil(30) { delivered() == ids })

        scratch.file("slow", "")
        ids += try record(scratch, [("rollback.done", "sentiment"), ("drift.detected", "sentiment")])
        #expect(try await waitUntil(30) { delivered().count == 2 })
        first.kill9() // while the command for ids[1] still runs: its delivery was never confirmed
        try FileManager.default.removeItem(atPath: slow)

        let second = try BackgroundCommand("daemon", registry: scratch.registry)
        defer { second.stop() }
        #expect(try await waitUntil(30) { delivered().count >= 4 })
        try await Task.sleep(for: .seconds(1))
        #expect(delivered() == [ids[0], ids[1], ids[1], ids[2]], "the event in flight once more, nothing else twice, nothing lost")
    }
}

/// promtool (Prometheus's own linter, Debian package `prometheus`) on an exposition.
enum Promtool {
    static func check(_ exposition: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["promtool", "check", "metrics"]
        let input = Pipe(), output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = output
        try process.run()
        input.fileHandleForWriting.write(Data(exposition.utf8))
        try input.fileHandleForWriting.close()
        let said = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "promtool check metrics (install the prometheus package): \(said)", sourceLocation: sourceLocation)
    }
}
