import ArgumentParser
import Foundation
import ModelDeckCLI
import ModelDeckCore
import ModelDeckDaemon
import ModelDeckTUI
import Synchronization

struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "See ModelDeck work in two minutes: a bad canary rolled back by itself, a good one promoted.",
        discussion: """
            Uses a fresh temporary registry (your own registry is not touched), the example deck, the daemon with \
            the local target and the fixture model servers, and a traffic generator with bursts and idle gaps.
            """)

    @Option(help: ArgumentHelp("Deck to run (relative paths in it are resolved against the deck's folder).", valueName: "deck.yaml"),
            completion: .file(extensions: ["yaml"]))
    var deck = "fixtures/decks/example.yaml"

    @Flag(help: "Shorter canary steps and bake (about 30 seconds in all).")
    var quick = false

    @Flag(help: "Keep the registry afterwards and print its path.")
    var keep = false

    @Flag(help: "Print the story line by line even on a terminal, instead of showing the dashboard.")
    var plain = false

    @OptionGroup var dashboard: DashboardOptions

    func run() async throws {
        guard FileManager.default.fileExists(atPath: deck) else {
            throw ModelDeckError("deck \(deck) not found; run the demo from the ModelDeck folder or pass --deck PATH")
        }
        let theme = try dashboard.resolvedTheme() // a bad --theme is an error before anything starts
        // A private folder whose name nobody can guess (mkdtemp: mode 0700, created or failed, never reused);
        // a folder named after the pid could be planted with a registry that runs another user's command.
        var template = Array((NSTemporaryDirectory() + "modeldeck-demo.XXXXXX").utf8CString)
        guard let created = mkdtemp(&template) else {
            throw ModelDeckError("cannot create a private folder in \(NSTemporaryDirectory()): \(String(cString: strerror(errno)))")
        }
        let folder = String(cString: created)
        let path = folder + "/registry.sqlite"
        defer { if !keep { try? FileManager.default.removeItem(atPath: folder) } }
        let registry = try Registry(path: path)
        let plan = try DeckApplier.apply(try DeckReader.read(path: deck), to: registry, source: deck, actor: "demo")
        let timing: Demo.Timing = quick ? .quick : .normal
        let succeeded: Bool
        if DashboardOptions.onTerminal && !plain {
            // Anything written to stderr (daemon warnings) would scroll the dashboard away: it goes to a log.
            let log = open(folder + "/demo.log", O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
            let savedStderr = dup(STDERR_FILENO)
            if log >= 0 { dup2(log, STDERR_FILENO) }
            defer {
                if savedStderr >= 0 { dup2(savedStderr, STDERR_FILENO); close(savedStderr) }
                if log >= 0 { close(log) }
            }
            succeeded = try await withDashboard(registry, theme: theme, declarations: plan.changes.count, timing: timing)
        } else {
            say("demo folder: \(folder)") // the registry and instance logs; removed at the end unless --keep
            say("registry \(path): \(plan.changes.count) declarations from \(deck)")
            succeeded = try await Demo(registry: registry, timing: timing, say: say).run()
        }
        if keep { say("registry kept: modeldeck --registry \(path)") }
        if !succeeded { throw ExitCode.failure }
    }

    /// The story runs while the dashboard shows it; its narration is the dashboard's banner. Quitting the
    /// dashboard ends the demo (the daemon stops cleanly); the dashboard stays up when the story ends.
    private func withDashboard(_ registry: Registry, theme: Theme, declarations: Int, timing: Demo.Timing) async throws -> Bool {
        let narration = Narration("demo: \(declarations) declarations applied; starting the daemon…")
        let story = Task {
            let ok = try await Demo(registry: registry, timing: timing, narrateStatus: false, say: { narration.set($0) }).run()
            narration.set(ok ? "demo finished: v2 rolled back by itself, v3 promoted — look around, q quits"
                             : "demo finished, but not as planned — see :events; q quits")
            return ok
        }
        let app = try DashboardApp(registry: registry, theme: theme, noColor: DashboardOptions.noColor, readOnly: dashboard.readonly,
                               banner: { narration.get() })
        let failure: (any Error)? = await withCheckedContinuation { continuation in
            // The dashboard blocks on the terminal: a thread of its own keeps it off the async pool.
            Thread {
                do { try app.run(); continuation.resume(returning: nil) } catch { continuation.resume(returning: error) }
            }.start()
        }
        story.cancel()
        let result = await story.result
        if let failure { throw failure }
        switch result {
        case .success(let ok): return ok
        case .failure(let error) where error is CancellationError: return true // the user left early
        case .failure(let error): throw error
        }
    }

    private func say(_ line: String) {
        print(TerminalText.sanitize(line))
        fflush(nil) // nil: every output stream; `stdout` itself is shared mutable state to Swift 6
    }
}

/// The demo's latest line, shared between the story and the dashboard thread.
final class Narration: Sendable {
    private let line: Mutex<String>
    init(_ first: String) { line = Mutex(first) }
    func set(_ text: String) { line.withLock { $0 = text } }
    func get() -> String { line.withLock { $0 } }
}
