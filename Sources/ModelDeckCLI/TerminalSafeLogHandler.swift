import Logging
import ModelDeckCore

/// The CLI's log handler: swift-log's standard-error stream, with every message and metadata value passed
/// through `TerminalText.sanitize` first. The daemon and the gateway log what models print, what AWS
/// answers and names from decks; none of that may drive the terminal the log is read on.
public struct TerminalSafeLogHandler: LogHandler {
    private var inner: StreamLogHandler

    public init(label: String) { inner = StreamLogHandler.standardError(label: label) }

    public var logLevel: Logger.Level {
        get { inner.logLevel }
        set { inner.logLevel = newValue }
    }

    public var metadata: Logger.Metadata {
        get { inner.metadata }
        set { inner.metadata = Self.sanitized(newValue) }
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { inner[metadataKey: key] }
        set { inner[metadataKey: key] = newValue.map { .string(TerminalText.sanitize($0.description)) } }
    }

    public func log(event: LogEvent) {
        var event = event
        event.message = "\(TerminalText.sanitize(event.message.description))"
        event.metadata = event.metadata.map(Self.sanitized)
        inner.log(event: event)
    }

    static func sanitized(_ metadata: Logger.Metadata) -> Logger.Metadata {
        metadata.reduce(into: [:]) { out, pair in
            out[TerminalText.sanitize(pair.key)] = .string(TerminalText.sanitize(pair.value.description))
        }
    }
}
