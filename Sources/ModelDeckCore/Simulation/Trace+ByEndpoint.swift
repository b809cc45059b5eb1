import Foundation

extension Trace {
    /// The invocations of each endpoint, in time order, gathered into one array endpoint after endpoint (a
    /// counting sort), so each endpoint's replay reads memory in order: endpoint i's calls are
    /// `calls[offsets[i]..<offsets[i + 1]]`. `end` is when the last call ends. `only` keeps those endpoints alone.
    func callsByEndpoint(only: Set<Int32>?) -> (offsets: [Int], calls: [(time: Int64, duration: Int64)], end: Int64) {
        let endpointCount = endpoints.count
        var offsets = [Int](repeating: 0, count: endpointCount + 1)
        var end = Int64.min
        times.withUnsafeBufferPointer { times in
            durations.withUnsafeBufferPointer { durations in
                endpointIndices.withUnsafeBufferPointer { indices in
                    for index in 0..<times.count {
                        let endpoint = indices[index]
                        if let only, !only.contains(endpoint) { continue }
                        offsets[Int(endpoint) + 1] += 1
                        end = max(end, times[index] + durations[index])
                    }
                }
            }
        }
        for endpoint in 0..<endpointCount { offsets[endpoint + 1] += offsets[endpoint] }
        var calls = [(time: Int64, duration: Int64)](repeating: (0, 0), count: offsets[endpointCount])
        var next = offsets
        times.withUnsafeBufferPointer { times in
            durations.withUnsafeBufferPointer { durations in
                endpointIndices.withUnsafeBufferPointer { indices in
                    calls.withUnsafeMutableBufferPointer { calls in
                        for index in 0..<times.count {
                            let endpoint = Int(indices[index])
                            if let only, !only.contains(Int32(endpoint)) { continue }
                            calls[next[endpoint]] = (times[index], durations[index])
                            next[endpoint] += 1
                        }
                    }
                }
            }
        }
        return (offsets, calls, end)
    }
}
