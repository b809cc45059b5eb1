/// "Did you mean …?" for a mistyped name: the known name with the fewest edits, when it is close enough
/// to be a typo rather than another word.
///
/// Hand-written because swift-argument-parser keeps its own suggestion logic internal. The distance is
/// the optimal-string-alignment variant of Damerau–Levenshtein (a swapped pair of letters, as in
/// `rolback`/`rollbakc`, counts as one edit).
public enum NearestName {
    /// The closest of `candidates` to `word`, or nil when none is within a third of the word's length
    /// (at least 2 edits), or when two candidates tie (a guess that could be either is no help).
    public static func nearest(to word: String, in candidates: [String]) -> String? {
        let typed = Array(word.lowercased().prefix(64))
        guard !typed.isEmpty else { return nil }
        let limit = max(2, typed.count / 3)
        var best: (name: String, distance: Int)?
        var tied = false
        for candidate in candidates {
            let distance = editDistance(typed, Array(candidate.lowercased()))
            guard distance <= limit else { continue }
            if let current = best {
                if distance < current.distance { best = (candidate, distance); tied = false }
                else if distance == current.distance && candidate != current.name { tied = true }
            } else {
                best = (candidate, distance)
            }
        }
        return tied ? nil : best?.name
    }

    /// Edits (insert, delete, substitute, swap adjacent) that turn `a` into `b`.
    public static func editDistance(_ a: [Character], _ b: [Character]) -> Int {
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous2 = [Int](repeating: 0, count: b.count + 1)
        var previous = Array(0...b.count)
        var current = [Int](repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            current[0] = i
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
                if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] {
                    current[j] = min(current[j], previous2[j - 2] + 1)
                }
            }
            (previous2, previous, current) = (previous, current, previous2)
        }
        return previous[b.count]
    }
}
