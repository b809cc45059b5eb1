/// A value held by reference: 8 bytes where it is kept, however large the value. For a large value that is
/// usually absent from a row kept by the thousand — a deploy in flight (`Deployment?` is 224 bytes inline)
/// in each of the dashboard's 10,000 rows, their statuses and their routes (issue #20: 6.5 MB).
public final class Boxed<Value: Sendable>: Sendable {
    public let value: Value

    public init(_ value: Value) { self.value = value }
}

extension Boxed: Equatable where Value: Equatable {
    /// Equal when the values are, wherever they are kept.
    public static func == (lhs: Boxed, rhs: Boxed) -> Bool { lhs === rhs || lhs.value == rhs.value }
}
