import Foundation

/// A trace's invocations regrouped for replay: each endpoint's, in time order, gathered into one array
/// endpoint after endpoint (a counting sort), so each endpoint's replay reads memory in order. Endpoints never
/// share instances, so the simulators replay them one at a time. Made once per trace (and endpoint selection)
/// and shared by every policy replayed on it.
public struct CallsByEndpoint: Sendable {
    public let endpoints: [String]
    /// Endpoint i's calls are `calls[offsets[i]..<offsets[i + 1]]`.
    let offsets: [Int]
    let calls: [(time: Int64, duration: Int64)]
    /// When the trace starts (its first call, whichever endpoints are kept), and when the last kept call ends.
    let start: Int64?
    let end: Int64

    /// `only` keeps those endpoints alone.
    public init(_ trace: Trace, only: Set<Int32>? = nil) {
        endpoints = trace.endpoints
        start = trace.times.first
        (offsets, calls, end) = trace.callsByEndpoint(only: only)
    }

    /// Calls kept.
    public var count: Int { calls.count }
}

extension Trace {
    fileprivate func callsByEndpoint(only: Set<Int32>?) -> (offsets: [Int], calls: [(time: Int64, duration: Int64)], end: Int64) {
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
