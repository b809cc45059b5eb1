import Foundation
import ModelDeckCore
import Synchronization

/// Set by SIGTERM/SIGHUP so the loop gives the terminal back before exiting.
private let stopRequested = Atomic<Bool>(false)

/// Runs the dashboard on a real terminal: reads the registry on a background queue whenever it changes
/// (PRAGMA data_version) and at least every second, draws each frame, turns keys into intents.
/// It never touches the network, so it stays responsive whatever the targets do.
public final class DashboardApp: Sendable {
    private let registry: Registry
    private let theme: Theme
    private let noColor: Bool
    private let readOnly: Bool
    private let loader: Loader
    /// A line shown at the bottom in place of the key hints (the demo's narration); read each frame.
    private let banner: (@Sendable () -> String?)?

    public init(registry: Registry, theme: Theme, noColor: Bool, readOnly: Bool, banner: (@Sendable () -> String?)? = nil) throws {
        self.banner = banner
        self.registry = registry
        self.theme = theme
        self.noColor = noColor
        self.readOnly = readOnly
        loader = try Loader(path: registry.path)
    }

    public func run() throws {
        // The first load happens before the terminal is taken, so a broken registry is an ordinary error.
        var dashboard = Dashboard(data: try loader.loadNow(detail: nil).data, readOnly: readOnly, now: Date())
        signal(SIGTERM) { _ in stopRequested.store(true, ordering: .relaxed) }
        signal(SIGHUP) { _ in stopRequested.store(true, ordering: .relaxed) }
        let terminal = Terminal(theme: theme, noColor: noColor)
        defer { terminal.close() }
        var lastLoad = ContinuousClock.now
        var lastVersion = loader.dataVersion()
        while !stopRequested.load(ordering: .relaxed) {
            switch loader.take() {
            case .loaded(let data, let detail)?:
                dashboard.update(data)
                if let detail { dashboard.update(detail) }
            case .failed(let message)?:
                dashboard.refreshFailed(message)
            case nil:
                break
            }
            let version = loader.dataVersion()
            if version != lastVersion || ContinuousClock.now - lastLoad >= .seconds(1) {
                if loader.request(detail: detailName(dashboard)) {
                    lastVersion = version
                    lastLoad = ContinuousClock.now
                }
            }
            dashboard.now = Date()
            dashboard.banner = banner?()
            let size = terminal.size
            var screen = Screen(width: size.width, height: size.height)
            dashboard.render(into: &screen)
            terminal.draw(screen)
            guard let key = terminal.readKey(timeoutMilliseconds: 100) else { continue }
            for effect in dashboard.handle(key) {
                switch effect {
                case .quit: return
                case .loadDetail: _ = loader.request(detail: detailName(dashboard), force: true)
                case .planRollback(let endpoint):
                    do {
                        let plan = try registry.planRollback(endpoint: endpoint, to: nil)
                        dashboard.openRollback(endpoint: endpoint, from: plan.from, to: plan.to)
                    } catch { dashboard.fail(Self.message(error)) }
                case .submit(let action):
                    do {
                        dashboard.succeeded(try perform(action, daemonAlive: dashboard.data.daemon.isAlive))
                        _ = loader.request(detail: detailName(dashboard), force: true)
                    } catch { dashboard.fail(Self.message(error)) }
                }
            }
        }
    }

    private func detailName(_ dashboard: Dashboard) -> String? {
        if case .detail(let name) = dashboard.page { return name }
        return nil
    }

    /// Writes the intent (with its audit event, in one transaction) and says what was asked.
    func perform(_ action: Dashboard.Action, daemonAlive: Bool) throws -> String {
        let actor = "\(Actor.current) (tui)"
        let waiting = daemonAlive ? "" : " — no daemon is running: start `modeldeck daemon` to carry it out"
        switch action {
        case .rollback(let endpoint, let to, let reason):
            let d = try Intents.rollback(registry, endpoint: endpoint, to: to, reason: reason, actor: actor)
            return "rollback #\(d.id ?? 0) of \(endpoint) requested: \(d.fromVersion ?? "-") → \(d.toVersion)\(waiting)"
        case .deploy(let endpoint, let version, let strategy, let bake, let reason):
            let d = try Intents.deploy(registry, endpoint: endpoint, version: version, strategy: try DeploymentStrategy(parsing: strategy),
                                       bakeSeconds: try Quantity.seconds(bake, what: "bake"), reason: reason, actor: actor)
            return "deployment #\(d.id ?? 0) requested: \(d.fromVersion ?? "nothing") → \(d.toVersion) on \(endpoint), \(strategy)\(waiting)"
        case .keepWarm(let endpoint, let text):
            let (old, new) = try Intents.keepWarm(registry, endpoint: endpoint, policy: try KeepWarmPolicy(parsing: text), actor: actor)
            return old == new ? "keep-warm of \(endpoint) is already \(new.summary); nothing changed" : "keep-warm of \(endpoint): \(old.summary) → \(new.summary)"
        case .ping(let endpoint):
            try Intents.pingNow(registry, endpoint: endpoint, actor: actor)
            return "ping of \(endpoint) requested\(waiting)"
        case .rollout(let endpoint, let command, let reason):
            let d = try Intents.control(registry, endpoint: endpoint, command, reason: reason, actor: actor)
            return "\(command.verb) of deployment #\(d.id ?? 0) on \(endpoint): \(d.toVersion) at \(d.currentWeight)%, \(d.state.rawValue)\(d.pausedAt == nil ? "" : ", paused")\(waiting)"
        }
    }

    static func message(_ error: Error) -> String {
        (error as? ModelDeckError)?.message ?? "\(error)"
    }
}

/// Reads the registry off the drawing thread; at most one load runs at a time and the newest result wins.
final class Loader: Sendable {
    private let path: String
    private let watcher: RegistryWatcher
    private let registry: Registry
    private let queue = DispatchQueue(label: "modeldeck.tui.loader")
    private let state = Mutex<(busy: Bool, result: Outcome?)>((false, nil))
    /// The live figures kept from one load to the next (`RollingFigures`): a load reads only what changed.
    private let rolling = Mutex<RollingFigures?>(RollingFigures.dashboard)

    /// What one background load gave: the figures, or why there are none (the screen keeps the last ones).
    enum Outcome: Sendable {
        case loaded(DashboardData, EndpointDetail?)
        case failed(String)
    }

    init(path: String) throws {
        self.path = path
        watcher = try RegistryWatcher(path: path)
        registry = try Registry(path: path, create: false, readOnly: true, mmapBytes: DashboardData.mmapBytes)
    }

    func dataVersion() -> Int64 { watcher.version() }

    func loadNow(detail: String?) throws -> (data: DashboardData, detail: EndpointDetail?) {
        let now = Date()
        let data = try rolling.withLock { kept in
            do {
                return try DashboardData.load(registry, now: now, rolling: &kept)
            } catch {
                kept = RollingFigures.dashboard  // start again from a full read next time
                throw error
            }
        }
        return (data, try detail.map { try EndpointDetail.load(registry, endpoint: $0, now: now) })
    }

    /// Starts a load unless one is running (then returns false, unless `force`, which queues one more).
    func request(detail: String?, force: Bool = false) -> Bool {
        let start = state.withLock { current -> Bool in
            if current.busy && !force { return false }
            current.busy = true
            return true
        }
        guard start else { return false }
        queue.async { [self] in
            let outcome: Outcome
            do {
                let (data, loadedDetail) = try loadNow(detail: detail)
                outcome = .loaded(data, loadedDetail)
            } catch {
                outcome = .failed(DashboardApp.message(error))
            }
            state.withLock { current in
                current.busy = false
                current.result = outcome
            }
        }
        return true
    }

    /// The newest finished load, once.
    func take() -> Outcome? {
        state.withLock { current in
            defer { current.result = nil }
            return current.result
        }
    }
}
