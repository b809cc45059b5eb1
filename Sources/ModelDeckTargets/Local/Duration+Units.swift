extension Duration {
    /// Whole milliseconds (truncated), for cold-start and ping times.
    var wholeMilliseconds: Int {
        Int(components.seconds * 1_000 + components.attoseconds / 1_000_000_000_000_000)
    }

    /// Whole microseconds (truncated), the unit of the latency histograms.
    var wholeMicroseconds: UInt64 {
        UInt64(components.seconds) * 1_000_000 + UInt64(components.attoseconds / 1_000_000_000_000)
    }
}
