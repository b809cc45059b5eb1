import ArgumentParser
import Foundation
import Logging
import ModelDeckCLI
import ModelDeckCore
import ModelDeckDaemon

/// The root command: every subcommand, the help and the version line. `ModelDeckMain` runs it.
struct ModelDeckCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: name,
        abstract: "A cockpit for ML model endpoints on serverless and container targets.",
        discussion: """
            Watch endpoints, deploy and roll back model versions, and keep endpoints warm. Every command writes \
            to one SQLite registry; the daemon acts on what you ask for and records what it sees.

            Run with no command for the dashboard (`modeldeck tui`).

            On call and something is wrong?
              modeldeck get endpoints                       what runs where, and what is deploying
              modeldeck rollback ENDPOINT --reason "..."    all traffic back on the last good version, at once
              modeldeck get events                          who did what, and why
            """,
        version: ModelDeckRelease.versionLine,
        subcommands: givenSubcommands,
        defaultSubcommand: givenSubcommands.count == 1 ? nil : TUICommand.self
    )

    static let name = OnCall.name

    /// The subcommands ArgumentParser is given: the one the first word names, else all of them.
    static let givenSubcommands = CommandWord.subcommands(named: OnCall.commandFirst(Array(CommandLine.arguments.dropFirst())).first,
                                                          in: allSubcommands)

    /// Every command, in the order `--help` lists them.
    static let allSubcommands: [ParsableCommand.Type] = [TUICommand.self, InitCommand.self, ApplyCommand.self]
        + OnCall.commands + [ServeCommand.self, DaemonCommand.self, DemoCommand.self, CostCommand.self, BenchCommand.self,
                             SimulateCommand.self, RegistryCommand.self, NotifyCommand.self]
}

/// The program's entry point: ArgumentParser's own `main`, with three changes. A first word that is no command
/// is refused (a typo such as `modeldeck rolback` must not fall through to the dashboard); every error line is
/// stripped of terminal control sequences before it reaches stderr (errors quote names and text from decks);
/// and a command that is not async, which every on-call command is (`rollback`, `get`, `deploy`), is parsed
/// and run on the main thread without starting Swift concurrency. An async `main` parses on one pool thread
/// and runs on another, and each hop waits for a core on a busy machine; what that costs `modeldeck rollback`
/// was not separated from the rest of its start (`modeldeck-bench rollback-latency`, the README's figures).
@main
enum ModelDeckMain {
    static func main() {
        let arguments = OnCall.commandFirst(Array(CommandLine.arguments.dropFirst()))
        // Before any task starts: the processes that serve the gateway run their tasks on its event loops.
        if let word = arguments.first, ["serve", "daemon"].contains(word) { LocalTargetHost.runTasksOnEventLoops() }
        LoggingSystem.bootstrap(TerminalSafeLogHandler.init)
        if let refusal = CommandWord.refusal(arguments, known: CommandWord.names(of: ModelDeckCommand.allSubcommands)) {
            printError(refusal)
            Foundation.exit(2) // as git, kubectl and POSIX utilities do for a usage error
        }
        if let onCall = OnCall.command(arguments) { return OnCall.run(onCall, arguments) }
        let parsed: ParsableCommand
        do {
            parsed = try ModelDeckCommand.parseAsRoot(arguments)
        } catch {
            fail(error, arguments: arguments)
        }
        guard let asyncCommand = parsed as? AsyncParsableCommand else {
            var command = parsed
            do { try command.run() } catch { fail(error, arguments: arguments) }
            return
        }
        // A parsed command is a plain value that only this task touches from here on.
        let started = Started(command: asyncCommand)
        Task.detached {
            var command = started.command
            do { try await command.run() } catch { fail(error, arguments: arguments) }
            Foundation.exit(0)
        }
        dispatchMain()
    }

    private struct Started: @unchecked Sendable {
        let command: AsyncParsableCommand
    }

    /// Exits as ArgumentParser would for `error`, with the error in one sanitized line.
    private static func fail(_ error: Error, arguments: [String]) -> Never {
        OnCall.fail(error, arguments: arguments, root: ModelDeckCommand.self, known: CommandWord.names(of: ModelDeckCommand.allSubcommands))
    }
}

/// The first word of a command line, checked before ArgumentParser sees it.
enum CommandWord {
    /// Every subcommand's name and aliases, plus ArgumentParser's built-in `help`.
    static func names(of commands: [ParsableCommand.Type]) -> [String] {
        commands.flatMap(OnCall.names(of:)) + ["help"]
    }

    /// The subcommands ArgumentParser is given: when the first word names a command, that one alone;
    /// otherwise all of them (`--help`, `help X`, a bare `modeldeck`, which opens the dashboard).
    /// ArgumentParser builds and reflects every subcommand it is given at each start; on the on-call path
    /// (`modeldeck rollback`) that was milliseconds of the command's time (`modeldeck-bench rollback-latency`).
    static func subcommands(named word: String?, in all: [ParsableCommand.Type]) -> [ParsableCommand.Type] {
        guard let word, let named = all.first(where: { OnCall.names(of: $0).contains(word) }) else { return all }
        return [named]
    }

    /// The refusal line when `arguments` starts with a word that is no command, nil otherwise. Only a bare
    /// `modeldeck` (or one with options alone, such as `--readonly`) opens the dashboard.
    static func refusal(_ arguments: [String], known: [String]) -> String? {
        guard let first = arguments.first, !first.hasPrefix("-"), !known.contains(first) else { return nil }
        let shown = TerminalText.sanitize(String(first.prefix(64)))
        let commands = known.filter { $0 != "help" }.joined(separator: ", ")
        if let nearest = NearestName.nearest(to: first, in: known.filter { $0 != "help" }) {
            return "unknown command '\(shown)'; did you mean '\(nearest)'? (commands: \(commands))"
        }
        return "unknown command '\(shown)'; commands: \(commands)"
    }
}
