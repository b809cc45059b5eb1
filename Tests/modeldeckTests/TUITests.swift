import Foundation
import GRDB
import Testing

/// The real binary under tmux, read back through `capture-pane`, as a person would see it.
struct Tmux {
    let socket = "modeldeck-test-\(UUID().uuidString.prefix(8))"
    let session = "dash"

    /// Runs a tmux command and returns what it printed. posix_spawn + waitpid rather than Foundation's
    /// Process: `new-session` forks the tmux server, and Process then never saw the client exit.
    @discardableResult
    func run(_ arguments: [String]) throws -> String {
        let output = NSTemporaryDirectory() + "tmux-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: output) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, output, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        let argv = (["tmux", "-L", socket] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        let started = posix_spawnp(&pid, "tmux", &actions, nil, argv, environ)
        guard started == 0 else { throw CocoaError(.executableLoad) }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
        return (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
    }

    func start(_ command: String, width: Int = 120, height: Int = 32) throws {
        // `remain-on-exit` keeps the pane after the program ends, so a crash stays readable.
        try run(["new-session", "-d", "-s", session, "-x", "\(width)", "-y", "\(height)", "-e", "TERM=xterm-256color", command])
        try run(["set-option", "-t", session, "remain-on-exit", "on"])
    }

    func keys(_ keys: String...) throws { try run(["send-keys", "-t", session] + keys) }
    func type(_ text: String) throws { try run(["send-keys", "-t", session, "-l", text]) }
    func screen() throws -> String { try run(["capture-pane", "-p", "-t", session]) }
    func paneDead() throws -> Bool { try run(["display-message", "-p", "-t", session, "#{pane_dead}"]).hasPrefix("1") }
    /// Ends the session, then the server. (`kill-server` alone left servers whose pane had exited running,
    /// with `remain-on-exit` on.)
    func kill() {
        _ = try? run(["kill-session", "-t", session])
        _ = try? run(["kill-server"])
    }

    /// Waits until the screen shows `text`; returns the last screen either way.
    func waitFor(_ text: String, seconds: Double = 15) async throws -> String {
        let deadline = Date().addingTimeInterval(seconds)
        var last = try screen()
        while !last.contains(text) && Date() < deadline {
            try await Task.sleep(for: .milliseconds(100))
            last = try screen()
        }
        return last
    }
}

@Suite(.serialized)
struct TUITests {
    @Test func onCallRollsBackAnEndpointFromTheDashboard() async throws {
        let scratch = Scratch()
        defer { scratch.cleanUp() }
        #expect(try CLI.run(["apply", "-f", "fixtures/decks/example.yaml", "--registry", scratch.registry]).status == 0)
        // A deploy of v2 in flight (no daemon runs): rolling back means v2 → v1.
        #expect(try CLI.run(["deploy", "sentiment", "v2", "--strategy", "canary:10%:5m", "--registry", scratch.registry]).status == 0)

        let tmux = Tmux()
        defer { tmux.kill() }
        try tmux.start("cd \(CLI.repository) && \(CLI.binary) --registry \(scratch.registry)")
        var screen = try await tmux.waitFor("sentiment-batch")
        #expect(screen.contains("no daemon"))
        #expect(screen.contains("→v2 pending"))

        // Move, filter, clear.
        try tmux.keys("j")
        try tmux.keys("/")
        try tmux.type("batch")
        screen = try await tmux.waitFor("1 of 2")
        #expect(screen.contains("sentiment-batch"))
        #expect(!screen.contains("★ sentiment "))
        try tmux.keys("Escape")
        screen = try await tmux.waitFor("<endpoints> 2 ")

        // The detail of sentiment (first row).
        try tmux.keys("g", "Enter")
        screen = try await tmux.waitFor("Latency distribution")
        #expect(screen.contains("Traffic"))
        #expect(screen.contains("#1 deploy v1→v2 canary:10%:5m · pending"))
        #expect(screen.contains("Keep-warm"))

        // Roll back from the detail view, with a reason.
        try tmux.keys("r")
        screen = try await tmux.waitFor("Roll back sentiment")
        #expect(screen.contains("moves from sentiment@v2 to sentiment@v1"))
        try tmux.keys("Enter")
        screen = try await tmux.waitFor("reason is required")
        try tmux.type("v2 answers wrong")
        try tmux.keys("Enter")
        screen = try await tmux.waitFor("requested: sentiment@v2 → sentiment@v1")
        #expect(screen.contains("no daemon is running"))

        // The registry has the intent and its audit event, from the TUI's user.
        let queue = try registryQueue(scratch.registry)
        let (kind, reason, actor, event) = try await queue.read { db in
            let row = try Row.fetchOne(db, sql: "SELECT * FROM deployments ORDER BY id DESC LIMIT 1")
            let event = try String.fetchOne(db, sql: "SELECT message FROM events WHERE kind = 'rollback.requested'")
            return (row?["kind"] as String?, row?["reason"] as String?, row?["actor"] as String?, event)
        }
        #expect(kind == "rollback")
        #expect(reason == "v2 answers wrong")
        #expect(actor?.hasSuffix("(tui)") == true)
        #expect(event?.contains("roll back sentiment from sentiment@v2 to sentiment@v1") == true)

        // The events view shows it; q quits and gives the terminal back.
        try tmux.keys("Escape", ":")
        try tmux.type("events")
        try tmux.keys("Enter")
        screen = try await tmux.waitFor("rollback.requested")
        try tmux.keys("q")
        let deadline = Date().addingTimeInterval(10)
        while try !tmux.paneDead(), Date() < deadline { try await Task.sleep(for: .milliseconds(100)) }
        #expect(try tmux.paneDead(), "q ends the program")
    }

    @Test func readOnlyShowsButDoesNotAct() async throws {
        let scratch = Scratch()
        defer { scratch.cleanUp() }
        #expect(try CLI.run(["apply", "-f", "fixtures/decks/example.yaml", "--registry", scratch.registry]).status == 0)
        let before = try dump(registryAt: scratch.registry)
        let tmux = Tmux()
        defer { tmux.kill() }
        try tmux.start("cd \(CLI.repository) && NO_COLOR=1 \(CLI.binary) tui --readonly --theme monochrome --registry \(scratch.registry)", width: 80, height: 24)
        var screen = try await tmux.waitFor("READ-ONLY")
        #expect(screen.contains("READ-ONLY"))
        #expect(screen.contains("sentiment-batch"), "80×24 is enough")
        try tmux.keys("r")
        screen = try await tmux.waitFor("read-only: actions are off")
        #expect(!screen.contains("Roll back"))
        try tmux.keys("q")
        try await Task.sleep(for: .milliseconds(500))
        #expect(try dump(registryAt: scratch.registry) == before, "nothing written")
    }

    @Test func withoutATerminalTheDashboardSaysWhatToUseInstead() throws {
        let result = try CLI.run(["tui", "--registry", "/nonexistent/registry.sqlite"])
        #expect(result.status != 0)
        #expect(result.stderr.contains("the dashboard needs a terminal"))
        let theme = try CLI.run(["demo", "--theme", "neon"])
        #expect(theme.status != 0)
        #expect(theme.stderr.contains("unknown theme 'neon'"))
    }
}
