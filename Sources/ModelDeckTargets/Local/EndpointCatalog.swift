import Foundation
import ModelDeckCore
import Synchronization

/// What the gateway needs to know about one endpoint it serves.
public struct LocalEndpoint: Sendable {
    public var endpoint: Endpoint
    public var target: Target
    /// Version id → version, for every version with a weight.
    public var versions: [String: ModelVersion]
    /// Version id → weight in percent (the registry's traffic table).
    public var weights: [String: Int]
    /// What one invocation costs, when the target is priced (`TargetPricing`); nil when free.
    public var rates: InvocationRates? = nil
}

/// The endpoints of the local target(s) a gateway serves, re-read from the registry whenever another
/// connection has committed a change to what it serves (`PRAGMA data_version`, then the catalog
/// generation), so a weight changed in the registry routes the very next request without a restart.
public final class EndpointCatalog: Sendable {
    private let watcher: RegistryWatcher
    private let targetNames: Set<String>
    private let cache = Mutex<(stamp: CatalogStamp, endpoints: [String: LocalEndpoint])>((.none, [:]))

    /// Serves the endpoints of the local targets named in `targets`.
    public init(registryPath: String, targets: Set<String>) throws {
        watcher = try RegistryWatcher(path: registryPath)
        targetNames = targets
    }

    /// The current endpoints, reloaded only if the registry changed since the last call.
    public func endpoints() throws -> [String: LocalEndpoint] {
        let known = cache.withLock { $0.stamp }
        let (stamp, loaded) = try watcher.servedEndpoints(targets: targetNames, unless: known)
        guard let loaded else {
            return cache.withLock { cache in
                // Only the data version moved: remembered, so the next call does not ask again.
                if cache.stamp == known { cache.stamp = stamp }
                return cache.endpoints
            }
        }
        // A broken $MODELDECK_PRICES file is refused by the CLI; the gateway keeps serving on the built-in table.
        let prices = (try? PriceTable.load()) ?? .standard
        var rates: [String: InvocationRates?] = [:]
        var result: [String: LocalEndpoint] = [:]
        for (name, served) in loaded {
            if rates[served.target.name] == nil { rates[served.target.name] = .some(try? TargetPricing.rates(for: served.target, table: prices)) }
            result[name] = LocalEndpoint(endpoint: served.endpoint, target: served.target, versions: served.versions,
                                         weights: served.weights, rates: rates[served.target.name] ?? nil)
        }
        cache.withLock { $0 = (stamp, result) }
        return result
    }

    public func endpoint(named name: String) throws -> LocalEndpoint? { try endpoints()[name] }
}
