import ArgumentParser
import ModelDeckCLI
import ModelDeckCore

struct ApplyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "apply",
        abstract: "Declare targets, models, versions and endpoints from a deck file.",
        discussion: """
            Idempotent: applying the same deck twice changes nothing the second time. The whole deck is checked \
            first (fields, references, traffic weights, immutable versions, and whether each version fits its \
            target); on any problem nothing is written. Traffic is set when an endpoint is created; afterwards \
            move it with `deploy` and `rollback`.
            """)

    @Option(name: [.customShort("f"), .long], help: ArgumentHelp("Deck file (YAML).", valueName: "deck.yaml"),
            completion: .file(extensions: ["yaml", "yml"]))
    var file: String

    @Flag(help: "Print what would change and change nothing.")
    var dryRun = false

    @OptionGroup var registry: RegistryOptions

    func run() throws {
        // Read and check the deck before touching the registry, so a bad deck never creates one.
        let deck = try DeckReader.read(path: file)
        let plan: ApplyPlan
        let path = registry.path
        if dryRun && !RegistryLocation.exists(path) {
            plan = try ApplyPlan.make(deck: deck, registry: RegistrySnapshot())
        } else {
            plan = try DeckApplier.apply(deck, to: try registry.open(create: true), source: file, dryRun: dryRun)
        }
        for change in plan.changes { print(change.summary) }
        for note in plan.notes { print("note: \(note)") }
        if plan.isEmpty {
            print("no changes: the registry already matches \(file)")
        } else {
            print(dryRun ? "\(plan.changes.count) change(s) would be made (dry run, nothing written)"
                         : "\(plan.changes.count) change(s) applied to \(path)")
        }
    }
}
