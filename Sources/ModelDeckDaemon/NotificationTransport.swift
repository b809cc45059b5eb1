import AsyncHTTPClient
import Foundation
import ModelDeckCore
import NIOCore
import NIOHTTP1

/// One message to an entry: the body in its format, and the key a receiver deduplicates by.
public struct NotificationDelivery: Sendable {
    public var channel: NotificationChannel
    /// The audit event's id (`Idempotency-Key`): a resent event carries the same key.
    public var key: String
    public var kind: String
    public var body: Data

    public init(channel: NotificationChannel, event: Listings.EventRow, key: String? = nil) {
        self.channel = channel
        self.key = key ?? "\(event.id)"
        self.kind = event.kind
        self.body = NotificationPayload.body(for: event, format: channel.format)
    }
}

/// Sends a delivery; throws a `ModelDeckError` saying why it did not arrive.
public protocol NotificationSender: Sendable {
    func send(_ delivery: NotificationDelivery) async throws
}

/// The real sender: a POST to the webhook (any 2xx is delivered), or the command run with the body on stdin
/// (exit status 0 is delivered). `${VARIABLES}` are filled in from `environment` at each send, so a secret is
/// never written anywhere; error lines name the host or the program, never the resolved URL.
public struct NotificationTransport: NotificationSender {
    public var environment: [String: String]
    public var timeout: Duration

    public init(environment: [String: String] = ProcessInfo.processInfo.environment, timeout: Duration = .seconds(10)) {
        self.environment = environment
        self.timeout = timeout
    }

    public func send(_ delivery: NotificationDelivery) async throws {
        switch delivery.channel.destination {
        case .url(let template): try await post(delivery, template: template)
        case .command(let arguments): try await run(delivery, arguments: arguments)
        }
    }

    private func post(_ delivery: NotificationDelivery, template: String) async throws {
        let what = "notification '\(delivery.channel.name)'"
        let url = try NotificationChannel.resolve(template, environment: environment, what: what)
        let host = URL(string: url)?.host ?? "the webhook"
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "User-Agent", value: "modeldeck/\(ModelDeckRelease.version)")
        // The IETF draft's header (draft-ietf-httpapi-idempotency-key-header), as Stripe and others read it.
        request.headers.add(name: "Idempotency-Key", value: delivery.key)
        for (name, value) in delivery.channel.headers.sorted(by: { $0.key < $1.key }) {
            request.headers.replaceOrAdd(name: name, value: try NotificationChannel.resolve(value, environment: environment, what: "\(what) header \(name)"))
        }
        request.body = .bytes(ByteBuffer(bytes: delivery.body))
        let response: HTTPClientResponse
        do {
            response = try await HTTPClient.shared.execute(request, timeout: .milliseconds(Int64(timeout / .milliseconds(1))))
        } catch {
            throw ModelDeckError("\(host) did not answer: \(Self.describe(error))")
        }
        let text = String(buffer: (try? await response.body.collect(upTo: 4_096)) ?? ByteBuffer())
        guard (200..<300).contains(response.status.code) else {
            let said = text.split(whereSeparator: \.isNewline).first.map { ": " + String($0.prefix(200)) } ?? ""
            throw ModelDeckError("\(host) answered HTTP \(response.status.code)\(said)")
        }
    }

    /// The command gets a minimal environment: PATH, the event's kind and key, and the variables the entry names.
    private func run(_ delivery: NotificationDelivery, arguments: [String]) async throws {
        let what = "notification '\(delivery.channel.name)'"
        let resolved = try arguments.map { try NotificationChannel.resolve($0, environment: environment, what: what) }
        var childEnvironment = ["PATH": "/usr/local/bin:/usr/bin:/bin", "MODELDECK_EVENT_KIND": delivery.kind,
                                "MODELDECK_IDEMPOTENCY_KEY": delivery.key]
        for name in delivery.channel.variables { childEnvironment[name] = environment[name] }
        let program = resolved[0]
        let process = Process()
        if program.contains("/") {
            process.executableURL = URL(fileURLWithPath: program)
            process.arguments = Array(resolved.dropFirst())
        } else {
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = resolved
        }
        process.environment = childEnvironment
        // The event comes from a private file rather than a pipe: a command that exits without reading its
        // stdin must not break the sender (a write to a closed pipe is SIGPIPE, or EPIPE, in this process).
        let input = try Self.privateFile(holding: delivery.body)
        defer { try? input.close() }
        process.standardInput = input
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        let status: Int32 = try await withCheckedThrowingContinuation { continuation in
            process.terminationHandler = { continuation.resume(returning: $0.terminationStatus) }
            do {
                try process.run()
            } catch {
                process.terminationHandler = nil
                continuation.resume(throwing: ModelDeckError("cannot run \(program): \(error.localizedDescription)"))
                return
            }
            let pid = process.processIdentifier
            let timeout = self.timeout
            Task {
                try? await Task.sleep(for: timeout)
                if process.isRunning { kill(pid, SIGKILL) }
            }
        }
        guard status == 0 else { throw ModelDeckError("\(program) exited with status \(status)") }
    }

    /// A file only this user can read, already unlinked, holding `data`, open for reading from its start.
    private static func privateFile(holding data: Data) throws -> FileHandle {
        var template = Array((NSTemporaryDirectory() + "modeldeck-event-XXXXXX").utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else { throw ModelDeckError("cannot create a file for the event: \(String(cString: strerror(errno)))") }
        template.withUnsafeBufferPointer { _ = unlink($0.baseAddress!) }
        let handle = FileHandle(fileDescriptor: fd, closeOnDealloc: true)
        try handle.write(contentsOf: data)
        try handle.seek(toOffset: 0)
        return handle
    }

    private static func describe(_ error: any Error) -> String {
        if let error = error as? HTTPClientError { return "\(error)" }
        return (error as? ModelDeckError)?.message ?? "\(error)"
    }
}
