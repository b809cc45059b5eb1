import Foundation
import ModelDeckCore

/// The dashboard's state and its answer to each key, with no I/O: keys go in, effects come out (write
/// this intent, load that detail, quit), and `render` lays the state out on a `Screen`. The runner
/// (`DashboardApp`) does the reading, writing and drawing, so every behaviour here is testable.
public struct Dashboard: Sendable {
    public enum Page: Equatable, Sendable {
        case table
        case detail(endpoint: String)
    }

    public enum Prompt: Equatable, Sendable {
        case filter(String)
        case command(String)
    }

    /// What a key asks the runner to do.
    public enum Effect: Equatable, Sendable {
        case quit
        /// Work out a rollback's from → to in the registry, then call `openRollback` (or `fail`).
        case planRollback(endpoint: String)
        case loadDetail(endpoint: String)
        case submit(Action)
    }

    /// An intent to write, once the user has confirmed it.
    public enum Action: Equatable, Sendable {
        case rollback(endpoint: String, to: String, reason: String)
        case deploy(endpoint: String, version: String, strategy: String, bake: String, reason: String?)
        case keepWarm(endpoint: String, policy: String)
        case ping(endpoint: String)
        case rollout(endpoint: String, command: RolloutCommand, reason: String)
    }

    public struct Flash: Equatable, Sendable {
        public var text: String
        public var role: Role
        public var at: Date
    }

    struct TableState: Sendable {
        var selected = 0
        var selectedID: String?
        var offset = 0
        var sortColumn: Int
        var ascending: Bool
        var filter = ""
    }

    public private(set) var data: DashboardData
    public private(set) var detail: EndpointDetail?
    public private(set) var resource: Resource = .endpoints
    public private(set) var page: Page = .table
    public private(set) var prompt: Prompt?
    public private(set) var dialog: Dialog?
    public private(set) var showingHelp = false
    public private(set) var flash: Flash?
    public let readOnly: Bool
    /// The clock in the header; the runner sets it each frame.
    public var now: Date
    /// Shown at the bottom instead of the key hints when set (the demo narrates there).
    public var banner: String?
    /// Rows of the table lines last drawn, for page up/down.
    var visibleRows = 20
    var detailOffset = 0
    var tables: [Resource: TableState]
    /// Rows per resource as built from `data`, and as filtered and sorted: rebuilt when the data, the
    /// filter or the sort changes, not per frame, so a frame at 10,000 endpoints lays out only what shows.
    var built: [Resource: [TableRow]] = [:]
    var arranged: [TableRow] = []

    public init(data: DashboardData, readOnly: Bool = false, now: Date? = nil) {
        self.data = data
        self.readOnly = readOnly
        self.now = now ?? data.loadedAt
        tables = Dictionary(uniqueKeysWithValues: Resource.allCases.map {
            ($0, TableState(sortColumn: $0.defaultSort.column, ascending: $0.defaultSort.ascending))
        })
        rearrange()
    }

    // MARK: - Data from the runner

    /// New registry contents: rows are rebuilt and the selection stays on the same item.
    public mutating func update(_ data: DashboardData) {
        self.data = data
        built = [:]
        rearrange()
        if case .detail(let name) = page, !data.endpoints.contains(where: { $0.name == name }) {
            page = .table
            detail = nil
            show("endpoint \(name) is no longer in the registry", role: .warning)
        }
    }

    public mutating func update(_ detail: EndpointDetail) {
        if case .detail(let name) = page, name == detail.name { self.detail = detail }
    }

    /// The rollback the registry would do: opens the confirm dialog.
    public mutating func openRollback(endpoint: String, from: String, to: String) {
        guard let summary = summary(endpoint) else { return }
        dialog = .rollback(summary, from: from, to: to)
    }

    /// The runner wrote the intent: close the dialog and say what was asked.
    public mutating func succeeded(_ message: String) {
        dialog = nil
        show(message, role: .ok)
    }

    /// A background refresh failed (the registry locked for too long, a file gone): the figures on screen
    /// stay, and the status line says how old they are and why they are not newer.
    public mutating func refreshFailed(_ message: String) {
        show("cannot refresh (\(message)); figures as of \(Cells.clock(data.loadedAt)) UTC", role: .error)
    }

    /// The runner could not do what was asked: say why, in the dialog if one is open.
    public mutating func fail(_ message: String) {
        if dialog != nil { dialog?.error = message } else { show(message, role: .error) }
    }

    mutating func show(_ text: String, role: Role) {
        flash = Flash(text: text, role: role, at: now)
    }

    // MARK: - What is shown

    var table: TableState {
        get { tables[resource]! }
        set { tables[resource] = newValue }
    }

    /// The rows of the current table, filtered and sorted.
    public var rows: [TableRow] { arranged }

    /// The endpoint the keys act on: the selected row, or the one whose detail is open.
    public var focusedEndpoint: String? {
        switch page {
        case .detail(let name): return name
        case .table:
            guard resource == .endpoints, table.selected < arranged.count else { return nil }
            return arranged[table.selected].id
        }
    }

    func summary(_ name: String) -> EndpointSummary? { data.endpoints.first { $0.name == name } }

    mutating func rearrange() {
        if built[resource] == nil { built[resource] = resource.rows(data) }
        let state = table
        arranged = TableLayout.arrange(built[resource] ?? [], filter: state.filter, sortColumn: state.sortColumn, ascending: state.ascending)
        var moved = state
        if let id = state.selectedID, let index = arranged.firstIndex(where: { $0.id == id }) {
            moved.selected = index
        }
        moved.selected = max(0, min(moved.selected, arranged.count - 1))
        moved.selectedID = moved.selected < arranged.count ? arranged[moved.selected].id : nil
        table = moved
        scrollToSelection()
    }

    mutating func scrollToSelection() {
        var state = table
        let height = max(1, visibleRows)
        if state.selected < state.offset { state.offset = state.selected }
        if state.selected >= state.offset + height { state.offset = state.selected - height + 1 }
        state.offset = max(0, min(state.offset, max(0, arranged.count - height)))
        table = state
    }

    mutating func select(_ index: Int) {
        var state = table
        state.selected = max(0, min(index, arranged.count - 1))
        state.selectedID = state.selected < arranged.count ? arranged[state.selected].id : nil
        table = state
        scrollToSelection()
    }

    // MARK: - Keys

    /// Applies one key; returns what the runner must do.
    @discardableResult
    public mutating func handle(_ key: Terminal.Key) -> [Effect] {
        if key == .character("\u{03}") { return [.quit] } // ctrl-c, which raw mode delivers as a key
        if dialog != nil { return handleDialog(key) }
        if prompt != nil { return handlePrompt(key) }
        if showingHelp {
            if [.escape, .character("?"), .character("q"), .enter].contains(key) { showingHelp = false }
            return []
        }
        switch key {
        case .character("q"): return [.quit]
        case .character("?"): showingHelp = true
        case .character(":"): prompt = .command("")
        case .character("/"): if page == .table { prompt = .filter(table.filter) }
        case .escape, .backspace: goBack()
        case .character("r"), .character("d"), .character("w"), .character("p"):
            return act(key)
        default:
            if case .detail = page { return handleDetail(key) }
            return handleTable(key)
        }
        return []
    }

    private mutating func goBack() {
        if case .detail = page {
            page = .table
            detail = nil
        } else if !table.filter.isEmpty {
            table.filter = ""
            rearrange()
        } else if resource != .endpoints {
            switchTo(.endpoints)
        }
    }

    private mutating func handleTable(_ key: Terminal.Key) -> [Effect] {
        switch key {
        case .down, .character("j"): select(table.selected + 1)
        case .up, .character("k"): select(table.selected - 1)
        case .pageDown, .character("\u{06}"): select(table.selected + visibleRows)
        case .pageUp, .character("\u{02}"): select(table.selected - visibleRows)
        case .home, .character("g"): select(0)
        case .end, .character("G"): select(arranged.count - 1)
        case .enter:
            guard let name = focusedEndpoint else { return [] }
            page = .detail(endpoint: name)
            detail = nil
            detailOffset = 0
            return [.loadDetail(endpoint: name)]
        case .character(let character) where character.isUppercase:
            guard let column = resource.columns.firstIndex(where: { $0.sortKey == character }) else { return [] }
            var state = table
            if state.sortColumn == column { state.ascending.toggle() } else {
                state.sortColumn = column
                // Names read A→Z; figures are most interesting largest first.
                state.ascending = column == 0 || resource.columns[column].alignRight == false
            }
            table = state
            rearrange()
        default: break
        }
        return []
    }

    private mutating func handleDetail(_ key: Terminal.Key) -> [Effect] {
        switch key {
        case .down, .character("j"): detailOffset += 1
        case .up, .character("k"): detailOffset = max(0, detailOffset - 1)
        case .pageDown: detailOffset += visibleRows
        case .pageUp: detailOffset = max(0, detailOffset - visibleRows)
        case .home, .character("g"): detailOffset = 0
        case .character("s"): return steer(.pause)
        case .character("u"): return steer(.resume)
        case .character("+"): return steer(.promote(full: false, skipBake: false, override: false))
        case .character("F"): return steer(.promote(full: true, skipBake: false, override: false))
        case .character("x"): return steer(.abort)
        default: break
        }
        return []
    }

    /// The endpoint detail's keys for the deploy in flight: a dialog states the effect and asks a reason.
    private mutating func steer(_ command: RolloutCommand) -> [Effect] {
        guard !readOnly else {
            show("read-only: actions are off (started with --readonly)", role: .warning)
            return []
        }
        guard let name = focusedEndpoint, let summary = summary(name) else { return [] }
        guard let deployment = summary.deployment, deployment.kind == .deploy else {
            show("\(name) has no deploy in flight to \(command.verb)", role: .warning)
            return []
        }
        dialog = .rollout(summary, command, deployment: deployment)
        return []
    }

    private mutating func act(_ key: Terminal.Key) -> [Effect] {
        guard !readOnly else {
            show("read-only: actions are off (started with --readonly)", role: .warning)
            return []
        }
        guard let name = focusedEndpoint, let summary = summary(name) else {
            show("actions work on endpoints: select one in :endpoints", role: .warning)
            return []
        }
        switch key {
        case .character("r"): return [.planRollback(endpoint: name)]
        case .character("d"):
            let versions = data.versions.filter { $0.model == summary.model }.map(\.id)
            guard versions.contains(where: { v in summary.traffic.map(\.version) != [v] }) else {
                show("\(summary.model) has no other version to deploy; apply a deck that adds one", role: .warning)
                return []
            }
            dialog = .deploy(summary, versions: versions)
        case .character("w"): dialog = .keepWarm(summary)
        default:
            guard !summary.traffic.isEmpty else {
                show("\(name) takes no traffic yet; there is no version to ping", role: .warning)
                return []
            }
            dialog = .ping(summary)
        }
        return []
    }

    private mutating func handleDialog(_ key: Terminal.Key) -> [Effect] {
        guard var current = dialog else { return [] }
        switch key {
        case .escape:
            dialog = nil
            show("cancelled: nothing was written", role: .dim)
        case .enter:
            switch current.action() {
            case .success(let action): return [.submit(action)]
            case .failure(let error): current.error = error.message
            }
            dialog = current
        default:
            _ = current.edit(key)
            dialog = current
        }
        return []
    }

    private mutating func handlePrompt(_ key: Terminal.Key) -> [Effect] {
        guard let current = prompt else { return [] }
        var text: String
        switch current {
        case .filter(let value), .command(let value): text = value
        }
        switch key {
        case .escape:
            if case .filter = current {
                table.filter = ""
                rearrange()
            }
            prompt = nil
            return []
        case .enter:
            prompt = nil
            if case .command = current { return runCommand(text) }
            return []
        case .tab:
            if case .command = current, let completion = Self.complete(text) { text = completion }
        case .backspace:
            if text.isEmpty {
                prompt = nil
                return []
            }
            text.removeLast()
        case .character(let character) where !character.unicodeScalars.contains(where: { $0.properties.generalCategory.isControl }):
            guard text.count < 100 else { return [] }
            text.append(character)
        default:
            return []
        }
        switch current {
        case .filter:
            prompt = .filter(text)
            // Filtering follows each key, as k9s does.
            table.filter = text
            rearrange()
        case .command:
            prompt = .command(text)
        }
        return []
    }

    private mutating func runCommand(_ text: String) -> [Effect] {
        let word = text.trimmingCharacters(in: .whitespaces).lowercased()
        switch word {
        case "": return []
        case "q", "quit", "q!": return [.quit]
        case "help": showingHelp = true
        default:
            guard let target = Resource.matching(word) else {
                show("unknown view '\(text)' (known: \(Resource.allCases.map(\.rawValue).joined(separator: ", ")))", role: .error)
                return []
            }
            switchTo(target)
        }
        return []
    }

    mutating func switchTo(_ target: Resource) {
        resource = target
        page = .table
        detail = nil
        rearrange()
    }
}
