import Foundation
import Logging
import ModelDeckCLI
import ModelDeckCore

// `modeldeck`: runs the on-call commands itself (`rollback`, `deploy`, `abort`…: `OnCall`) and hands every
// other command line to `modeldeck-full`, beside it, which holds the whole program (the dashboard, the daemon,
// the gateway, the drivers) and runs the on-call commands too. This binary links only the registry and
// ArgumentParser, so the commands typed while an endpoint is failing do not pay for loading the rest (issue
// #20; `modeldeck-bench rollback-latency`, the README's figures). `execv` keeps the process, its arguments
// (the first one too: `ps` shows `modeldeck daemon`), its environment and its open files.

let arguments = OnCall.commandFirst(Array(CommandLine.arguments.dropFirst()))
if let command = OnCall.command(arguments) {
    LoggingSystem.bootstrap(TerminalSafeLogHandler.init)
    OnCall.run(command, arguments)
} else {
    let full = URL(fileURLWithPath: ProgramFile.path()).deletingLastPathComponent().appendingPathComponent("modeldeck-full").path
    execv(full, CommandLine.unsafeArgv)
    printError("modeldeck: cannot run \(full), which holds every command but the on-call ones: \(String(cString: strerror(errno))) (`swift build` builds it beside modeldeck; install both)")
    exit(127)
}
