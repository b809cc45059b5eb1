extension LatencyHistogram {
    /// A sketch's bin counts, each stored in 1, 2, 4 or 8 bytes: the fewest that hold the largest count so
    /// far. A count that outgrows its width widens all of them, exactly: nothing wraps and nothing saturates.
    /// The dashboard keeps a five-minute sketch per endpoint version, about 530 bins for latencies of 2 to
    /// 400 ms at schema 0 (issue #20). With 8-byte counts that was 42 MB at 10,000 endpoints, and with
    /// 4-byte counts 23 MB (`heaptrack`, the largest item the dashboard keeps). Five minutes of an
    /// endpoint's traffic rarely put more than 255 requests in one bin, or 65,535 in a busy one.
    struct Bins: RandomAccessCollection, Sendable {
        /// The bytes each count takes.
        enum Width: Int, Sendable {
            case one = 1, two = 2, four = 4, eight = 8

            /// The narrowest width that holds `count`.
            init(holding count: UInt64) {
                self = count <= UInt8.max ? .one : count <= UInt16.max ? .two : count <= UInt32.max ? .four : .eight
            }
        }

        // One of these holds the counts (the one of `width`); the others are empty.
        private var ones: [UInt8] = []
        private var twos: [UInt16] = []
        private var fours: [UInt32] = []
        private var eights: [UInt64] = []
        private(set) var width = Width.one

        init() {}

        /// `count` bins at zero.
        init(zeros count: Int) { ones = Array(repeating: 0, count: count) }

        var startIndex: Int { 0 }
        var endIndex: Int {
            switch width {
            case .one: ones.count
            case .two: twos.count
            case .four: fours.count
            case .eight: eights.count
            }
        }

        subscript(position: Int) -> UInt64 {
            get {
                switch width {
                case .one: UInt64(ones[position])
                case .two: UInt64(twos[position])
                case .four: UInt64(fours[position])
                case .eight: eights[position]
                }
            }
            set {
                switch width {
                case .one: if let count = UInt8(exactly: newValue) { ones[position] = count; return }
                case .two: if let count = UInt16(exactly: newValue) { twos[position] = count; return }
                case .four: if let count = UInt32(exactly: newValue) { fours[position] = count; return }
                case .eight: eights[position] = newValue; return
                }
                widen(to: Width(holding: newValue))
                self[position] = newValue
            }
        }

        /// Adds `before` zero bins in front and `after` at the end. When the array must be reallocated it
        /// grows to the new extent and an eighth more, not doubled as an array grows: about a fifth of the
        /// dashboard's five-minute sketches' bins were allocated and unused. Growth stays geometric, so
        /// recording stays amortised O(1).
        mutating func extend(before: Int, after: Int) {
            switch width {
            case .one: Self.extend(&ones, before: before, after: after)
            case .two: Self.extend(&twos, before: before, after: after)
            case .four: Self.extend(&fours, before: before, after: after)
            case .eight: Self.extend(&eights, before: before, after: after)
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
            switch width {
            case .one: Self.position(in: ones, reaching: rank, from: start, seen: &seen)
            case .two: Self.position(in: twos, reaching: rank, from: start, seen: &seen)
            case .four: Self.position(in: fours, reaching: rank, from: start, seen: &seen)
            case .eight: Self.position(in: eights, reaching: rank, from: start, seen: &seen)
            }
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

        /// Moves every count to `wider` bytes (a little spare room kept, as `extend` keeps it).
        private mutating func widen(to wider: Width) {
            let counts = Array(self)
            (ones, twos, fours, eights) = ([], [], [], [])
            width = wider
            switch wider {
            case .one: ones = Self.converted(counts)
            case .two: twos = Self.converted(counts)
            case .four: fours = Self.converted(counts)
            case .eight: eights = Self.converted(counts)
            }
        }

        private static func converted<Count: FixedWidthInteger>(_ counts: [UInt64]) -> [Count] {
            var result: [Count] = []
            result.reserveCapacity(counts.count + counts.count / 8)
            for count in counts { result.append(Count(count)) }
            return result
        }
    }
}
