import Foundation

extension TargetKind {
    /// An endpoint someone else runs: ModelDeck observes and pings it, but cannot deploy to it.
    public static let http = TargetKind(declaring: "http")
}

/// An HTTP endpoint someone else runs. Nothing is deployed there, it is someone else's bill, and nothing is
/// measured besides ModelDeck's own pings.
public enum HTTPTarget {
    public static let descriptor = TargetDescriptor(
        kind: .http,
        summary: "an HTTP endpoint someone else runs (observed and pinged only)",
        limits: TargetLimits(memoryMB: 0...Int(Int32.max)),
        packaging: .none,
        configKeys: [
            ConfigKey("url", meaning: "where the endpoint answers, http:// or https://", required: true) { value in
                guard let url = URL(string: value), ["http", "https"].contains(url.scheme?.lowercased() ?? ""),
                      let host = url.host, !host.isEmpty else { return "must be an http:// or https:// URL with a host" }
                return nil
            },
        ],
        needsRegion: false,
        splitsTraffic: false,
        pricing: .none,
        isRemote: true,
        metrics: .none
    )
}
