// The dashboard's figures from the rolling windows (`RollingFigures`), in the catalog's order.

extension RollingFigures {
    /// The cold starts each endpoint with buckets over the window of `length` shows (`LiveFigures.observed`:
    /// its user requests', or its probes' when it had only probes), without making its other figures: all
    /// the dashboard takes of the hour. Counts are summed whole, so this is what `figures(length:)` gives.
    public mutating func observedColdStarts(length: Int64) -> [String: Int64] {
        let names = slotNames
        return Dictionary(uniqueKeysWithValues: zip(names, observedColdStarts(length: length, of: names)).compactMap { name, cold in cold.map { (name, $0) } })
    }

    /// `observedColdStarts(length:)` of `names` (the catalog's endpoints, in its order): nil for an endpoint
    /// with no bucket in the window. A list in the caller's order, not a table by name, so that the rows are
    /// made without looking each endpoint up again.
    public mutating func observedColdStarts(length: Int64, of names: [String]) -> [Int64?] {
        each(length: length, of: names) { versions, _ in
            var counts = LiveFigures(windowSeconds: length)
            var shown = false, hasEmpty = false
            versions.updateEach { entry in
                guard !entry.isEmpty else { hasEmpty = true; return }
                shown = true
                counts.requests += entry.sums.counts.requests
                counts.coldStarts += entry.sums.counts.coldStarts
                counts.probes += entry.sums.counts.probes
                counts.probeColdStarts += entry.sums.counts.probeColdStarts
            }
            return (shown ? counts.observed.coldStarts : nil, hasEmpty)
        }
    }

    /// The request rate (`LiveFigures.requestsPerSecond`) of each of `names` over the window of `length`, nil
    /// for one with no bucket in it, without making its other figures: all the dashboard takes of the last
    /// minute. Summed as `figures(length:of:)` sums it (its versions' whole requests, then their straddlers'
    /// shares in the same order), so it is that figure to the last bit.
    public mutating func requestsPerSecond(length: Int64, of names: [String]) -> [Double?] {
        each(length: length, of: names) { versions, window in
            var inside: Int64 = 0, partial = 0.0
            var shown = false, hasEmpty = false
            versions.updateEach { entry in
                guard !entry.isEmpty else { hasEmpty = true; return }
                shown = true
                inside += entry.inside.requests
                partial += entry.rates(window).requests
            }
            return (shown ? LiveFigures.Builder.requestsPerSecond(window: window, inside: inside, partial: partial) : nil, hasEmpty)
        }
    }

    /// The figures of every endpoint with buckets over the window of `length` ending at the last refresh.
    public mutating func figures(length: Int64) -> [String: EndpointFigures] {
        let names = slotNames
        return Dictionary(uniqueKeysWithValues: zip(names, figures(length: length, of: names)).compactMap { name, figures in figures.map { (name, $0) } })
    }

    /// `figures(length:)` of `names` (the catalog's endpoints, in its order): nil for an endpoint with no
    /// bucket in the window.
    public mutating func figures(length: Int64, of names: [String]) -> [EndpointFigures?] {
        let histograms = !countsOnly.contains(length)
        return each(length: length, of: names) { versions, window in Self.figures(of: &versions, window: window, histograms: histograms) }
    }

    /// `make` of each of `names`' versions' entries over the window of `length` (nil for a name with none),
    /// which also says whether one of them is empty; a version none of whose buckets overlaps the window any
    /// more is then dropped, for every endpoint kept, named or not.
    private mutating func each<T>(length: Int64, of names: [String],
                                  _ make: (inout Versions, LiveWindow) -> (T?, hasEmpty: Bool)) -> [T?] {
        guard let end, let index = lengths.firstIndex(of: length) else { return Array(repeating: nil, count: names.count) }
        let window = LiveWindow(start: end - length, end: end)
        let named = slots(of: names)
        // Taken out while read, and changed in place (percentiles kept), so that no endpoint's list is copied.
        var bySlot = windows[index]
        windows[index] = []
        var emptied: [Int] = []
        let result = named.slots.map { slot -> T? in
            guard let slot, !bySlot[slot].isEmpty else { return nil }
            let (value, hasEmpty) = make(&bySlot[slot], window)
            if hasEmpty { emptied.append(slot) }
            return value
        }
        // Endpoints kept but not named (gone from the catalog): looked at only to drop what emptied.
        if !named.all {
            for slot in bySlot.indices where !named.isNamed[slot] && bySlot[slot].hasEmpty { emptied.append(slot) }
        }
        // An endpoint with no version left gives its list's storage back (one idle for a minute, or gone).
        for slot in emptied {
            bySlot[slot].removeEmpty()
            if bySlot[slot].isEmpty { bySlot[slot] = Versions() }
        }
        windows[index] = bySlot
        return result
    }

    /// The slots of a list of names (nil for a name with none), which slots are named, and whether all are.
    struct Named {
        var names: [String]
        var slots: [Int?]
        var isNamed: [Bool]
        var all: Bool
    }

    /// The slots of `names`: the same list as last time (the catalog's, at every refresh) is not looked up again.
    private mutating func slots(of names: [String]) -> Named {
        if let named, named.names == names { return named }
        var isNamed = [Bool](repeating: false, count: slotNames.count)
        let found = names.map { name -> Int? in
            let slot = slots[name]
            if let slot { isNamed[slot] = true }
            return slot
        }
        let made = Named(names: names, slots: found, isNamed: isNamed, all: !isNamed.contains(false))
        named = made
        return made
    }

    /// One endpoint's figures from its versions' entries (nil when none has a bucket in the window), and
    /// whether one of them is empty; each entry's percentiles are kept until its sums change.
    private static func figures(of versions: inout Versions, window: LiveWindow, histograms: Bool) -> (EndpointFigures?, Bool) {
        // One version (most endpoints): the endpoint's figures are its version's, with no sketch merged again
        // and no table of versions grown entry by entry.
        if versions.count == 1 {
            var only: (EndpointFigures?, Bool) = (nil, true)
            versions.updateEach { version, entry in
                if !entry.isEmpty { only = (EndpointFigures(only: version, figures: entry.figures(window).figures), false) }
            }
            return only
        }
        var figures = [String: LiveFigures](minimumCapacity: versions.count)
        var partial = LiveFigures.Rates()
        var hasEmpty = false
        // In place: a copy of the entry would retain each of its sketches.
        versions.updateEach { version, entry in
            guard !entry.isEmpty else {
                hasEmpty = true
                return
            }
            let (versionFigures, rates) = entry.figures(window)
            figures[version] = versionFigures
            partial.requests += rates.requests
            partial.cost += rates.cost
            partial.pingCost += rates.pingCost
        }
        guard !figures.isEmpty else { return (nil, hasEmpty) }
        // One version left with buckets in the window: its figures are the endpoint's.
        if figures.count == 1, let only = figures.first { return (EndpointFigures(only: only.key, figures: only.value), hasEmpty) }
        var total = LiveFigures.Sums(histograms: histograms)
        var inside = LiveFigures.Amounts()
        versions.updateEach { entry in
            guard !entry.isEmpty else { return }
            total.add(entry.sums)
            inside.add(entry.inside)
        }
        return (EndpointFigures(total: LiveFigures.Builder.figures(window: window, sums: total, inside: inside, partial: partial, percentiles: nil),
                                versions: figures), hasEmpty)
    }
}
