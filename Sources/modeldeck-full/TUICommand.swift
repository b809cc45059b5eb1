import ArgumentParser
import Foundation
import ModelDeckCLI
import ModelDeckCore
import ModelDeckTUI

/// Theme and mode flags of the dashboard, shared by `modeldeck tui` and `modeldeck demo`.
struct DashboardOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Theme: a name from Themes/ (dark, light, high-contrast, monochrome) or a path to a .yaml file.",
                               valueName: "name"))
    var theme: String = Theme.builtIn.name

    @Flag(help: "Hide every action (rollback, deploy, keep-warm, ping): a dashboard to watch, not to touch.")
    var readonly = false

    func resolvedTheme() throws -> Theme { try Theme.named(theme) }

    /// The NO_COLOR convention (https://no-color.org): set and not empty means no colour.
    static var noColor: Bool { !(ProcessInfo.processInfo.environment["NO_COLOR"] ?? "").isEmpty }

    static var onTerminal: Bool { isatty(STDOUT_FILENO) == 1 && isatty(STDIN_FILENO) == 1 }

    func run(_ registry: Registry) throws {
        try DashboardApp(registry: registry, theme: try resolvedTheme(), noColor: Self.noColor, readOnly: readonly).run()
    }
}

struct TUICommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tui",
        abstract: "The dashboard: endpoints, deployments and costs, live (what `modeldeck` runs with no command).",
        discussion: """
            Reads the registry only, so it works with or without the daemon. Keys: ? shows them all; enter opens \
            an endpoint; : switches view; / filters; r d w p act on the selected endpoint after a confirm dialog.
            """)

    @OptionGroup var dashboard: DashboardOptions
    @OptionGroup var registry: RegistryOptions

    func validate() throws {
        guard DashboardOptions.onTerminal else {
            throw ModelDeckError("the dashboard needs a terminal; for scripts use `modeldeck get endpoints -o json` (see modeldeck --help)")
        }
    }

    func run() throws {
        _ = try dashboard.resolvedTheme()
        try dashboard.run(try registry.open())
    }
}
