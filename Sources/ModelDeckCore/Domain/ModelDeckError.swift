/// An error a user can act on: one line that names the problem and, where there is one, the limit.
///
/// Every layer throws this (or converts to it) so the CLI can print exactly one line on stderr and exit
/// non-zero, whatever went wrong.
public struct ModelDeckError: Error, CustomStringConvertible, Equatable, Sendable {
    public let message: String

    public init(_ message: String) {
        // A multi-line error would break the "one line on stderr" contract; fold it.
        self.message = message.split(whereSeparator: \.isNewline).joined(separator: " ")
    }

    public var description: String { message }
}
