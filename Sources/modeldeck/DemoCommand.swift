import ArgumentParser
import Foundation
import ModelDeckCore
import ModelDeckDaemon

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

    func run() async throws {
        guard FileManager.default.fileExists(atPath: deck) else {
            throw ModelDeckError("deck \(deck) not found; run the demo from the ModelDeck folder or pass --deck PATH")
        }
        let folder = NSTemporaryDirectory() + "modeldeck-demo-\(getpid())"
        let path = folder + "/registry.sqlite"
        defer { if !keep { try? FileManager.default.removeItem(atPath: folder) } }
        let registry = try Registry(path: path)
        let plan = try DeckApplier.apply(try DeckReader.read(path: deck), to: registry, source: deck, actor: "demo")
        say("registry \(path): \(plan.changes.count) declarations from \(deck)")
        let succeeded = try await Demo(registry: registry, timing: quick ? .quick : .normal, say: say).run()
        if keep { say("registry kept: modeldeck get events --registry \(path)") }
        if !succeeded { throw ExitCode.failure }
    }

    private func say(_ line: String) {
        print(TerminalText.sanitize(line))
        fflush(nil) // nil: every output stream; `stdout` itself is shared mutable state to Swift 6
    }
}
