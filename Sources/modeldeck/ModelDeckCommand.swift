import ArgumentParser
import ModelDeckCore

@main
struct ModelDeckCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "modeldeck",
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
        subcommands: [
            TUICommand.self, InitCommand.self, ApplyCommand.self, GetCommand.self,
            DeployCommand.self, RollbackCommand.self, WarmCommand.self, PingCommand.self, ServeCommand.self, DaemonCommand.self, DemoCommand.self,
            CostCommand.self, SimulateCommand.self, RegistryCommand.self,
        ],
        defaultSubcommand: TUICommand.self
    )
}
