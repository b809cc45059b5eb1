import Foundation
import ModelDeckCore

/// Lays the dashboard out: header, the current table or detail page, the prompt/status line, and the
/// help page or a dialog on top.
extension Dashboard {
    public static let minimumWidth = 80
    public static let minimumHeight = 24

    /// Draws the whole frame. Mutating only to remember how many rows a page holds (page up/down).
    public mutating func render(into screen: inout Screen) {
        guard screen.width >= Self.minimumWidth, screen.height >= Self.minimumHeight else {
            renderTooSmall(into: &screen)
            return
        }
        renderHeader(into: &screen)
        let bodyTop = 2
        let bodyHeight = screen.height - bodyTop - 1
        switch page {
        case .table:
            visibleRows = bodyHeight - 1
            scrollToSelection()
            renderCrumbs(into: &screen)
            let state = table
            TableLayout.draw(columns: resource.columns, rows: arranged, into: &screen, top: bodyTop, height: bodyHeight,
                             offset: state.offset, selected: arranged.isEmpty ? nil : state.selected,
                             sortColumn: state.sortColumn, ascending: state.ascending)
            if arranged.isEmpty {
                let why = table.filter.isEmpty ? emptyHint : "nothing matches /\(table.filter) (esc clears the filter)"
                screen.put(why, row: bodyTop + 2, column: 2, role: .dim)
            }
        case .detail(let name):
            visibleRows = bodyHeight
            renderDetail(name, into: &screen, top: 1, height: bodyHeight + 1)
        }
        renderStatus(into: &screen)
        if showingHelp { renderHelp(into: &screen) }
        if let dialog { render(dialog, into: &screen) }
    }

    private var emptyHint: String {
        switch resource {
        case .endpoints, .versions, .targets: "the registry has no \(resource.rawValue) yet: modeldeck apply -f DECK.yaml"
        case .deployments: "no deployments yet: press d on an endpoint, or modeldeck deploy"
        case .events: "no events yet"
        case .bench: "no bench runs yet: modeldeck bench ENDPOINT"
        }
    }

    private func renderTooSmall(into screen: inout Screen) {
        let lines = ["Terminal is \(screen.width)×\(screen.height).",
                     "ModelDeck needs at least \(Self.minimumWidth)×\(Self.minimumHeight).", "Enlarge it, or press q to quit."]
        for (index, line) in lines.enumerated() {
            let row = screen.height / 2 - 1 + index
            screen.put(line, row: row, column: max(0, (screen.width - Screen.columns(of: line)) / 2), role: index == 1 ? .warning : .normal)
        }
    }

    // MARK: - Header

    private func renderHeader(into screen: inout Screen) {
        screen.fill(row: 0, role: .header)
        var x = screen.put(" ModelDeck ", row: 0, column: 0, role: .header)
        func segment(_ text: String, _ role: Role = .header) {
            x += screen.put("│ ", row: 0, column: x, role: .header)
            x += screen.put(text + " ", row: 0, column: x, role: role)
        }
        if readOnly { segment("READ-ONLY", .warning) }
        let daemonText: String
        var daemonRole = Role.header
        switch data.daemon.state {
        case .alive: daemonText = "daemon alive" + (data.daemon.pid.map { " (pid \($0))" } ?? "")
        case .stopped(let at): daemonText = "daemon stopped \(Cells.time(at, now: now))"; daemonRole = .warning
        case .silent(let since): daemonText = "daemon offline since \(Cells.clock(since))"; daemonRole = .error
        case .never: daemonText = "no daemon"; daemonRole = .warning
        }
        segment(daemonText, daemonRole)
        segment("\(Cells.clock(now)) UTC")
        segment("burn \(Cells.dollars(data.totalBurnMicrosPerHour))/h")
        let trouble = data.endpointsInTrouble
        segment(trouble == 0 ? "all in SLO" : "\(trouble) in trouble", trouble == 0 ? .header : .error)
        // An on-call engineer who is not told about a rollback must at least see that the telling is broken.
        if let failing = data.failingNotifications.first {
            let more = data.failingNotifications.count > 1 ? " (+\(data.failingNotifications.count - 1) more)" : ""
            segment("notify: \(failing.name) failing since \(Cells.hoursMinutes(failing.since))\(more)", .error)
        }
        // The registry's path is long and the least urgent: it gets what is left of the line.
        let registry = "│ " + data.registryPath
        if x + 4 < screen.width { screen.put(registry, row: 0, column: x, role: .header, maxWidth: screen.width - x) }
    }

    private func renderCrumbs(into screen: inout Screen) {
        let state = table
        var x = screen.put("<\(resource.rawValue)>", row: 1, column: 0, role: .title)
        let total = built[resource]?.count ?? 0
        x += screen.put(" \(arranged.count == total ? "\(total)" : "\(arranged.count) of \(total)")", row: 1, column: x, role: .normal)
        if !state.filter.isEmpty { x += screen.put("  /\(state.filter)", row: 1, column: x, role: .accent) }
        let column = resource.columns[state.sortColumn]
        x += screen.put("  sorted by \(column.title.lowercased()) \(state.ascending ? "↑" : "↓")", row: 1, column: x, role: .dim)
    }

    // MARK: - Status line

    private func renderStatus(into screen: inout Screen) {
        let row = screen.height - 1
        switch prompt {
        case .filter(let text):
            let x = screen.put("/" + text, row: row, column: 0, role: .accent)
            screen.put("▏", row: row, column: x, role: .accent)
            screen.put("enter keeps the filter · esc clears it", row: row, column: max(x + 3, screen.width - 40), role: .dim)
            return
        case .command(let text):
            let x = screen.put(":" + text, row: row, column: 0, role: .accent)
            screen.put("▏", row: row, column: x, role: .accent)
            let options = Self.completions(text)
            screen.put(options.isEmpty ? "no such view" : "tab completes: " + options.joined(separator: " "),
                       row: row, column: x + 3, role: options.isEmpty ? .error : .dim)
            return
        case nil: break
        }
        if let flash, now.timeIntervalSince(flash.at) < 8 {
            screen.put(flash.text, row: row, column: 0, role: flash.role)
            return
        }
        if let banner {
            let x = screen.put(banner, row: row, column: 0, role: .accent, maxWidth: screen.width - 16)
            screen.put("? help  q quit", row: row, column: max(x + 2, screen.width - 14), role: .dim)
            return
        }
        var keys: [String] = []
        if case .detail = page { keys = ["esc back", "j/k scroll"] } else {
            keys = resource == .endpoints ? ["enter detail", "/ filter", ": view", "N/P/E… sort"] : ["/ filter", ": view", "esc endpoints", "sort keys in ?"]
        }
        if !readOnly && (resource == .endpoints || page != .table) { keys += ["r rollback", "d deploy", "w warm", "p ping"] }
        keys += ["? help", "q quit"]
        screen.put(keys.joined(separator: "  "), row: row, column: 0, role: .dim)
    }

    // MARK: - Help

    private func renderHelp(into screen: inout Screen) {
        var lines: [Box.Line] = [
            ("Moving", .title),
            ("  j k ↑ ↓  move      g G  first/last     PgUp PgDn  page", .normal),
            ("  enter    open an endpoint's detail     esc  back / clear filter", .normal),
            ("Finding", .title),
            ("  /TEXT    filter as you type            :VIEW  switch view (tab completes)", .normal),
            ("  views    \(Resource.allCases.map { ":" + $0.rawValue }.joined(separator: " "))", .normal),
        ]
        let sortKeys = resource.columns.compactMap { column in column.sortKey.map { "\($0) \(column.title.lowercased())" } }
        lines.append(("Sorting (\(resource.rawValue); again to reverse)", .title))
        for chunk in stride(from: 0, to: sortKeys.count, by: 5) {
            lines.append(("  " + sortKeys[chunk..<min(chunk + 5, sortKeys.count)].joined(separator: "   "), .normal))
        }
        lines.append(("Acting on the selected endpoint (a dialog confirms)", .title))
        if readOnly {
            lines.append(("  read-only: actions are off", .warning))
        } else {
            lines.append(("  r  roll back to the last good version (asks a reason)", .normal))
            lines.append(("  d  deploy a version   w  keep-warm policy   p  ping now", .normal))
            lines.append(("  in an endpoint's detail, its deploy in flight (asks a reason):", .normal))
            lines.append(("  s pause   u resume   + promote a step   F promote to 100%   x abort", .normal))
        }
        lines.append(("  q  quit    ctrl-c quit    ?  close this help", .normal))
        lines.append(("Rows in red break their SLO (p99, errors) or budget; ★ marks production.", .dim))
        Box.draw(title: "Keys", lines: lines, width: 78, into: &screen)
    }

    // MARK: - Dialog

    private func render(_ dialog: Dialog, into screen: inout Screen) {
        let width = min(76, screen.width - 2)
        var lines: [Box.Line] = []
        if dialog.summary.production { lines.append(("★ PRODUCTION endpoint", .production)) }
        for sentence in dialog.consequence {
            lines += Box.wrap(sentence, width: width - 4).map { ($0, Role.normal) }
        }
        lines.append(("", .normal))
        for (index, field) in dialog.fields.enumerated() {
            let focused = index == dialog.focus
            let value = field.choices.isEmpty ? field.text + (focused ? "▏" : "") : "◀ \(field.text) ▶"
            let label = field.label + (field.required ? "" : " (optional)")
            lines.append(("\(focused ? "›" : " ") \(label): \(value)", focused ? .accent : .normal))
        }
        if let error = dialog.error { lines += Box.wrap("✗ " + error, width: width - 4).map { ($0, Role.error) } }
        lines.append(("", .normal))
        let hint = dialog.fields.count > 1 ? "enter confirms · tab next field · ←/→ choose · esc cancels" : "enter confirms · esc cancels"
        lines.append((hint, .dim))
        Box.draw(title: dialog.title, lines: lines, width: width, into: &screen)
    }
}
