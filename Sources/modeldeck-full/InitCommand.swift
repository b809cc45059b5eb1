import ArgumentParser
import ModelDeckCLI
import ModelDeckCore

struct InitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init",
        abstract: "Create the registry (safe to run again: an existing registry is only brought up to date).")

    @OptionGroup var registry: RegistryOptions

    func run() throws {
        let opened = try registry.open(create: true)
        print("registry ready at \(opened.path)")
    }
}
