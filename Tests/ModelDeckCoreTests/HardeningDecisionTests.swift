import Foundation
import Testing
@testable import ModelDeckCore

/// The pure decisions behind issue #15's fixes.
struct HardeningDecisionTests {
    @Test func theNearestCommandIsNamedOnlyWhenItIsClearlyATypo() {
        let commands = ["tui", "init", "apply", "get", "deploy", "rollback", "warm", "ping", "serve", "daemon", "demo", "cost", "simulate"]
        #expect(NearestName.nearest(to: "rolback", in: commands) == "rollback")
        #expect(NearestName.nearest(to: "rollbakc", in: commands) == "rollback")  // a swapped pair is one edit
        #expect(NearestName.nearest(to: "deplyo", in: commands) == "deploy")
        #expect(NearestName.nearest(to: "simualte", in: commands) == "simulate")
        #expect(NearestName.nearest(to: "pause", in: commands) == nil)
        #expect(NearestName.nearest(to: "xyzzy", in: commands) == nil)
        // "dem" is one edit from both demo and (no) — but also two from "get"? Ties name nothing.
        #expect(NearestName.nearest(to: "gt", in: ["get", "git"]) == nil)
        #expect(NearestName.editDistance(Array("kitten"), Array("sitting")) == 3)
        #expect(NearestName.editDistance(Array(""), Array("abc")) == 3)
    }

    @Test func quantitiesStopAtTheirLimitsWithTheLimitNamed() throws {
        #expect(try Quantity.milliseconds("365d") == Quantity.Limit.milliseconds)
        #expect(throws: ModelDeckError("idle_timeout '366d' is over the limit of 365d")) { try Quantity.milliseconds("366d", what: "idle_timeout") }
        #expect(throws: ModelDeckError("size '2PB' is not a size; use a number with B, KB, MB, GB or TB, e.g. 512MB")) { try Quantity.bytes("2PB") }
        #expect(throws: ModelDeckError("size '1025TB' is over the limit of 1,024 TB")) { try Quantity.bytes("1025TB") }
        #expect(try Quantity.megabytes("1TB") == Quantity.Limit.megabytes)
        #expect(throws: ModelDeckError("memory '1048577' is over the limit of 1,048,576 MB")) { try Quantity.megabytes("1048577") }
        #expect(try Quantity.microdollars("$1000000") == Quantity.Limit.microdollars)
        #expect(throws: ModelDeckError("daily_budget '$1000000.01' is over the limit of $1,000,000.00")) {
            try Quantity.microdollars("$1000000.01", what: "daily_budget")
        }
        // Sums the burn report makes stay far inside Int64: ten million endpoints at the budget limit.
        #expect(Quantity.Limit.microdollars.multipliedReportingOverflow(by: 9_000_000).overflow == false)
        #expect((Quantity.Limit.milliseconds * 1_000_000) > 0)  // as nanoseconds
    }

    @Test func yamlIsBoundedByItsExpandedSize() throws {
        var bomb = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n"
        for level in 1...9 { bomb += "a\(level): &a\(level) [" + Array(repeating: "*a\(level - 1)", count: 10).joined(separator: ", ") + "]\n" }
        #expect(throws: ModelDeckError.self) { try YAMLBudget.check(bomb, name: "bomb.yaml") }
        // A few aliases of small nodes are fine, and counted by what they stand for.
        #expect(throws: Never.self) { try YAMLBudget.check("base: &b {memory: 512MB}\none: *b\ntwo: *b\n", name: "ok.yaml") }
        #expect(throws: ModelDeckError.self) {
            try YAMLBudget.check("a: &a [1, 2, 3]\nb: [*a, *a]\n", name: "small.yaml", maxExpandedNodes: 10)
        }
        #expect(throws: Never.self) { try YAMLBudget.check("a: &a [1, 2, 3]\nb: [*a, *a]\n", name: "small.yaml", maxExpandedNodes: 16) }  // 4 + 1 + 1 + 1 + 1 + 2×4
        #expect(throws: ModelDeckError("big.yaml is 101 B, over the limit of 100 B for a YAML file")) {
            try YAMLBudget.check(String(repeating: "#", count: 101), name: "big.yaml", maxBytes: 100)
        }
        // Syntax errors are Yams' to report, with their position.
        #expect(throws: Never.self) { try YAMLBudget.check("a: [unclosed", name: "bad.yaml") }
    }

    @Test func aRegistryMustBeOursAndWritableOnlyByUs() {
        let me: uid_t = 1000
        func refusal(_ owner: uid_t, _ mode: mode_t, directory: Bool = false) -> String? {
            RegistryOwnership.refusal(registry: "/r/registry.sqlite", path: directory ? "/r" : "/r/registry.sqlite",
                                      status: .init(owner: owner, mode: mode, isDirectory: directory), user: me)
        }
        #expect(refusal(me, 0o600) == nil)
        #expect(refusal(me, 0o700, directory: true) == nil)
        #expect(refusal(me, 0o755, directory: true) == nil)
        #expect(refusal(1001, 0o600)?.contains("it belongs to uid 1001, not to you (uid 1000)") == true)
        #expect(refusal(me, 0o666)?.contains("it is writable by others (mode 666)") == true)
        #expect(refusal(me, 0o660)?.contains("writable by its group (mode 660)") == true)
        #expect(refusal(0, 0o1777, directory: true)?.contains("its folder /r belongs to uid 0") == true)
        #expect(refusal(me, 0o1777, directory: true)?.contains("its folder /r is writable by others (mode 1777)") == true)
    }

    @Test func awsRegionsAreNamesNotHosts() {
        #expect(AWSRegion.isValid("eu-central-1"))
        #expect(!AWSRegion.isValid("attacker.invalid#"))
        #expect(throws: ModelDeckError.self) { try AWSRegion.checkEndpoint("https://x.example/evil?q", what: "url") }
        #expect(throws: Never.self) { try AWSRegion.checkEndpoint("https://lambda.us-east-1.amazonaws.com", what: "url") }
    }
}
