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
