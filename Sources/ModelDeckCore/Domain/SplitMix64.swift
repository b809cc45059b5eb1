/// SplitMix64 (Steele, Lea and Flood, "Fast splittable pseudorandom number generators", OOPSLA 2014;
/// reference code at https://prng.di.unimi.it/splitmix64.c): a small seedable generator. The standard library
/// has none, and no package on the list provides one. Used where rolls need no cryptographic randomness: the
/// gateway's traffic-weight rolls (`SystemRandomNumberGenerator` is a `getrandom` system call each time, one
/// per request), and benchmarks and tests that must draw the same numbers on every run.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
