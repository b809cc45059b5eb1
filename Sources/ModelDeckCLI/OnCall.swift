import ArgumentParser
import Foundation
import ModelDeckCore

/// The on-call commands: `get`, and those that write an intent for the daemon (`rollback`, `deploy`, `abort`…),
/// which someone types while an endpoint is failing. They link only the registry (`ModelDeckCore`) and
/// ArgumentParser, so that `modeldeck` runs them from a binary without the daemon, the gateway, the AWS
/// drivers and the dashboard, and hands every other command to `modeldeck-full` (issue #20: the start of a
/// binary that links everything was most of what a `modeldeck rollback` cost; `modeldeck-bench
/// rollback-latency`, the README's figures).
public enum OnCall {
    /// The program's name, as usage lines and errors show it.
    public static let name = "modeldeck"

    /// Each parsed as a root of its own (`CommandConfiguration.onCall`), in the order `--help` lists them.
    public static let commands: [ParsableCommand.Type] = [
        GetCommand.self, DeployCommand.self, RollbackCommand.self, WarmCommand.self, PingCommand.self,
        PauseCommand.self, ResumeCommand.self, PromoteCommand.self, AbortCommand.self, SetWeightCommand.self,
    ]

    /// A command's name and aliases.
    public static func names(of command: ParsableCommand.Type) -> [String] {
        [command.configuration.commandName ?? String(describing: command).lowercased()] + command.configuration.aliases
    }

    /// The on-call command the first of `arguments` names, if any. Parsed as a root of its own, ArgumentParser
    /// skips its check for a completion-script request, which parses the arguments as two commands of its own,
    /// reflected at every start (a tenth of `modeldeck rollback`'s CPU in a profile); the help and usage lines
    /// read the same (`modeldeck rollback <endpoint> …`). Completion scripts come from `modeldeck
    /// --generate-completion-script`, whose first word is no command.
    public static func command(_ arguments: [String]) -> ParsableCommand.Type? {
        guard let word = arguments.first, !word.hasPrefix("-") else { return nil }
        return commands.first { names(of: $0).contains(word) }
    }

    /// `arguments` with the options that come before the command's words moved after them: `modeldeck --registry R
    /// rollback x` runs as `modeldeck rollback x --registry R`, as git (`git -C DIR status`) and kubectl (`kubectl
    /// --context C get pods`) take options before the command. Without this, such a line fell to the dashboard,
    /// which refused the words it does not take; a mistyped word, now first, is refused as any unknown command
    /// is. Moved to the end (before a `--`, if any), the options follow a command's subcommand too (`registry
    /// stats`). They are read as flags, except those in `valued`, which take the next argument (`--registry
    /// PATH`); a `--` among them ends them. A line with no word after its options (`modeldeck --readonly`, the
    /// dashboard) is unchanged.
    public static func commandFirst(_ arguments: [String]) -> [String] {
        var index = arguments.startIndex
        while index < arguments.endIndex, arguments[index].hasPrefix("-") {
            if arguments[index] == "--" { return arguments }
            index += valued.contains(arguments[index]) ? 2 : 1
        }
        guard index > arguments.startIndex, index < arguments.endIndex else { return arguments }
        var rest = Array(arguments[index...])
        rest.insert(contentsOf: arguments[..<index], at: rest.firstIndex(of: "--") ?? rest.endIndex)
        return rest
    }

    /// The options that may come before a command's word and take a value as the next argument: the registry's,
    /// the dashboard's theme (`modeldeck --theme light demo`) and ArgumentParser's completion script request,
    /// whose value (`bash`) is no command.
    static let valued: Set<String> = ["--registry", "--theme", "--generate-completion-script"]

    /// Parses `arguments` (the command's word first) with `command` as the root, and runs it on this thread.
    /// Exits on an error, as `fail` says.
    public static func run(_ command: ParsableCommand.Type, _ arguments: [String]) {
        do {
            var parsed = try command.parseAsRoot(Array(arguments.dropFirst()))
            try parsed.run()
        } catch {
            fail(error, arguments: arguments, root: command, known: commands.flatMap(names(of:)))
        }
    }

    /// Exits as ArgumentParser would for `error`, with the error in one sanitized line. `known` are the command
    /// words a usage error may point to the help of (`see modeldeck rollback --help`).
    public static func fail(_ error: Error, arguments: [String], root: ParsableCommand.Type, known: [String]) -> Never {
        let code = root.exitCode(for: error)
        // Help, --version and completion scripts are not errors: ArgumentParser prints them to stdout.
        if code == .success { root.exit(withError: error) }
        // One line, as every refusal is: ArgumentParser's usage errors come with Help/Usage lines, which
        // become a pointer to --help.
        let full = root.fullMessage(for: error).trimmingCharacters(in: .newlines)
        let short = root.message(for: error).trimmingCharacters(in: .newlines)
        if full.contains("\n") && !short.isEmpty && !short.contains("\n") {
            let words = arguments.prefix { !$0.hasPrefix("-") }
            let command = words.first.map { known.contains($0) ? ($0 == "cost" && words.count > 1 ? "cost \(words[words.startIndex + 1])" : $0) : "" } ?? ""
            printError("Error: \(short) (see \(name) \(command.isEmpty ? "" : command + " ")--help)")
        } else if !full.isEmpty {
            printError(full)
        }
        Foundation.exit(code.rawValue)
    }
}

extension CommandConfiguration {
    /// An on-call command's configuration: parsed as a root of its own when its word comes first
    /// (`OnCall.command`), with `modeldeck` before its name in its usage lines and `--version` as the
    /// root has it, so its help and errors read as when it is parsed under `modeldeck`.
    static func onCall(_ name: String, abstract: String, discussion: String = "") -> CommandConfiguration {
        CommandConfiguration(commandName: name, _superCommandName: OnCall.name, abstract: abstract, discussion: discussion,
                             version: ModelDeckRelease.versionLine)
    }
}
