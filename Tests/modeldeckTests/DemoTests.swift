import Foundation
import Testing

/// The README's main job, as a newcomer runs it (the quick timing, same story).
@Suite(.serialized)
struct DemoTests {
    @Test func theDemoRollsBackTheBadCanaryAndPromotesTheGoodOne() throws {
        let result = try CLI.run(["demo", "--quick"])
        #expect(result.status == 0, "\(result.stdout)\n\(result.stderr)")
        #expect(result.stdout.contains("✔ v2 was rolled back automatically: sentiment@v2 error rate"))
        #expect(result.stdout.contains("✔ v3 was promoted"))
        #expect(result.stdout.contains("daemon  deploy.alarm"))
        // Its folder came from mkdtemp (modeldeck-demo.XXXXXX), not a name another user could guess and plant
        // (modeldeck-demo-<pid>), and it is gone afterwards.
        let folder = result.stdout.split(separator: "\n").first { $0.hasPrefix("registry ") }
            .flatMap { $0.split(separator: " ").dropFirst().first }.map { URL(fileURLWithPath: String($0.dropLast())).deletingLastPathComponent().path }
        #expect(folder?.hasPrefix(URL(fileURLWithPath: NSTemporaryDirectory()).path + "/modeldeck-demo.") == true, "\(folder ?? result.stdout)")
        #expect(folder.map { !FileManager.default.fileExists(atPath: $0) } == true)
        // It used a temporary registry and left nothing running.
        let leftovers = try CLI.run(["get", "endpoints", "--registry", NSTemporaryDirectory() + "modeldeck-demo-none/registry.sqlite"])
        #expect(leftovers.status != 0)
    }

    @Test func aMissingDeckIsOneClearLine() throws {
        let result = try CLI.run(["demo", "--deck", "no/such/deck.yaml"])
        #expect(result.status != 0)
        #expect(result.stderr == "Error: deck no/such/deck.yaml not found; run the demo from the ModelDeck folder or pass --deck PATH\n")
    }
}
