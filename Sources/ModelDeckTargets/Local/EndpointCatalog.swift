import Dispatch
import Foundation
import ModelDeckCore
import NIOCore
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

/// One served endpoint as the gateway's request path reads it: a reference, so that a request takes one retain
/// where a copy of `LocalEndpoint` (the endpoint's, the target's and the versions' fields) took dozens, and
/// again each time the request was handed on (issue #20's `perf` counted retain/release at 5-6% of the
/// gateway's CPU). Built once per catalog load.
final class EndpointRoute: Sendable {
    let local: LocalEndpoint
    /// Version id → how long the gateway waits for its answer (`timeout`, default 60 s).
    let timeouts: [String: TimeAmount]

    init(_ local: LocalEndpoint) {
        self.local = local
        timeouts = local.versions.mapValues { TimeAmount.seconds(Int64($0.timeoutSeconds ?? 60)) }
    }
}

/// The endpoints of the local target(s) a gateway serves: an immutable snapshot that requests read under a
/// lock, and that `follow` replaces in the background whenever another connection has committed a change to
/// what the gateway serves (woken by inotify within a millisecond of the commit, `PRAGMA data_version` as
/// the fallback poll, then the catalog generation), or at once when the daemon has just recorded new weights
/// (`reloadSoon`). No request waits on SQLite: a weight changed in the registry routes requests from the
/// moment the new snapshot is swapped in, a millisecond or so after the commit, without a restart.
public final class EndpointCatalog: Sendable {
    private let watcher: RegistryWatcher
    private let targetNames: Set<String>
    /// The snapshot, its stamp, and why the last reload failed (the snapshot before it keeps serving).
    private let cache = Mutex<(stamp: CatalogStamp, endpoints: [String: LocalEndpoint], routes: [String: EndpointRoute], failure: String?)>(
        (.none, [:], [:], nil))
    /// Where reloads run: SQLite is read off the cooperative pool.
    private let io = DispatchQueue(label: "modeldeck.gateway.catalog")

    /// Signalled when a reload swapped in a new snapshot (the gateway's housekeeping then looks at it).
    private let wake: WakeSignal?

    /// Serves the endpoints of the local targets named in `targets`, loaded once here.
    public init(registryPath: String, targets: Set<String>, wake: WakeSignal? = nil) throws {
        watcher = try RegistryWatcher(path: registryPath, notified: true)
        targetNames = targets
        self.wake = wake
        try reload()
    }

    /// The endpoints as last loaded; never reads the registry.
    public func endpoints() -> [String: LocalEndpoint] { cache.withLock { $0.endpoints } }

    public func endpoint(named name: String) -> LocalEndpoint? { cache.withLock { $0.endpoints[name] } }

    /// The same endpoint by reference, for the request path.
    func route(named name: String) -> EndpointRoute? { cache.withLock { $0.routes[name] } }

    /// Why the last reload failed, while the registry cannot be read; nil when the snapshot is current.
    public var failure: String? { cache.withLock { $0.failure } }

    /// Keeps the snapshot current until the task is cancelled.
    public func follow() async {
        var version = Int64.min
        while !Task.isCancelled {
            // Woken by each commit; a failed reload is tried again a second on.
            let retry = failure != nil
            version = await watcher.waitForChange(from: version, until: .now + (retry ? .seconds(1) : Self.maxSleep))
            await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
                io.async { [self] in
                    reloadOrNoteFailure()
                    done.resume()
                }
            }
        }
    }

    /// Reads the registry again now, rather than once the watcher has seen the last commit (inotify, then the
    /// data version settling: a millisecond or two): the daemon's reconciler asks for it when it has recorded
    /// an endpoint's new weights, so a rollback's traffic moves that much sooner. Does not wait for the reload.
    func reloadSoon() {
        io.async { [self] in reloadOrNoteFailure() }
    }

    private func reloadOrNoteFailure() {
        do {
            try reload()
        } catch {
            cache.withLock { $0.failure = "registry unreadable: \(error)" }
        }
    }

    /// Reads the registry again if what the gateway serves changed since the last load (blocking).
    private func reload() throws {
        let known = cache.withLock { $0.stamp }
        let (stamp, loaded) = try watcher.servedEndpoints(targets: targetNames, unless: known)
        guard let loaded else {
            // Only the data version moved (a flush of measurements): remembered, so the next look does not ask again.
            cache.withLock { cache in
                if cache.stamp == known { cache.stamp = stamp }
                cache.failure = nil
            }
            return
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
        let routes = result.mapValues(EndpointRoute.init)
        cache.withLock { $0 = (stamp, result, routes, nil) }
        wake?.signal()
    }

    /// The longest wait without a commit: only a bound on how late a commit the notifier missed (slower than
    /// its settling) is seen if nothing else writes.
    static let maxSleep: Duration = .seconds(60)
}
