extension LatencyHistogram {
    /// A sketch's bin counts: 4 bytes a bin until one of them passes `UInt32.max`, then 8 for all of them.
    /// The dashboard keeps a five-minute sketch per endpoint version (about 530 bins for latencies of 2 to
    /// 400 ms at schema 0): at 10,000 endpoints 8-byte counts were 42 MB, half of it zeros in their top
    /// bytes (issue #20). A window long and busy enough to put 4.3 billion requests in one bin widens its
    /// counts, exactly: nothing wraps and nothing saturates.
    struct Bins: RandomAccessCollection, Sendable {
        private var narrow: [UInt32] = []
        private var wide: [UInt64] = []
        /// Whether the counts are in `wide` (and `narrow` is empty).
        private(set) var isWide = false

        init() {}

        /// `count` bins at zero.
        init(zeros count: Int) { narrow = Array(repeating: 0, count: count) }

        var startIndex: Int { 0 }
        var endIndex: Int { isWide ? wide.count : narrow.count }

        subscript(position: Int) -> UInt64 {
            get { isWide ? wide[position] : UInt64(narrow[position]) }
            set {
                if isWide {
                    wide[position] = newValue
                } else if let narrowed = UInt32(exactly: newValue) {
                    narrow[position] = narrowed
                } else {
                    widen()
                    wide[position] = newValue
                }
            }
        }

        /// Adds `before` zero bins in front and `after` at the end. When the array must be reallocated it
        /// grows to the new extent and an eighth more, not doubled as an array grows: about a fifth of the
        /// dashboard's five-minute sketches' bins were allocated and unused. Growth stays geometric, so
        /// recording stays amortised O(1).
        mutating func extend(before: Int, after: Int) {
            if isWide {
                Self.extend(&wide, before: before, after: after)
            } else {
                Self.extend(&narrow, before: before, after: after)
            }
        }

        private static func extend<Count: FixedWidthInteger>(_ counts: inout [Count], before: Int, after: Int) {
            let total = before + counts.count + after
            if before == 0, counts.capacity >= total {
                counts.append(contentsOf: repeatElement(0, count: after))
                return
            }
            var grown: [Count] = []
            grown.reserveCapacity(total + total / 8)
            grown.append(contentsOf: repeatElement(0, count: before))
            grown.append(contentsOf: counts)
            grown.append(contentsOf: repeatElement(0, count: after))
            counts = grown
        }

        /// The first position at or after `start` where `seen` (the requests before `start`) plus the counts
        /// from `start` on reaches `rank`, with `seen` then counting up to that position included; nil when it
        /// never does (`seen` then counts them all). The stored counts are summed directly: through the
        /// subscript every bin checks which array holds them, and the dashboard finds p50, p95 and p99 of
        /// 10,000 five-minute sketches at every bucket edge (issue #20).
        func position(reaching rank: UInt64, from start: Int, seen: inout UInt64) -> Int? {
            isWide ? Self.position(in: wide, reaching: rank, from: start, seen: &seen)
                   : Self.position(in: narrow, reaching: rank, from: start, seen: &seen)
        }

        private static func position<Count: FixedWidthInteger>(in counts: [Count], reaching rank: UInt64, from start: Int,
                                                               seen: inout UInt64) -> Int? {
            counts.withUnsafeBufferPointer { buffer in
                var total = seen
                defer { seen = total }
                var position = start
                while position < buffer.count {
                    total += UInt64(buffer[position])
                    if total >= rank { return position }
                    position += 1
                }
                return nil
            }
        }

        private mutating func widen() {
            wide = narrow.map(UInt64.init)
            narrow = []
            isWide = true
        }
    }
}
