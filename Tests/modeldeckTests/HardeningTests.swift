import Foundation
import Testing

/// Issue #15, through the real binary: hostile input is refused with one line, nothing reaches the terminal
/// raw, and a registry another user could have written is not opened.
extension BadInputTests {
    // MARK: Item 11 — a mistyped command never opens the dashboard

    @Test func aMistypedCommandNamesTheNearestOneAndExitsTwo() throws {
        let error = try expectRefused(["rolback", "sentiment", "--reason", "x"])
        #expect(error.hasPrefix("unknown command 'rolback'; did you mean 'rollback'?"), "\(error)")
        let scratch = Scratch()
        defer { scratch.cleanUp() }
        for words in [["rolback", "sentiment", "--reason", "x"], ["xyzzy"], ["deplyo", "sentiment", "v2"]] {
            let result = try CLI.run(words + ["--registry", scratch.registry])
            #expect(result.status == 2, "\(words): exit \(result.status)")
            #expect(result.stderr.split(separator: "\n").count == 1, "\(result.stderr)")
            #expect(!result.stderr.contains("terminal"), "\(words) went to the dashboard: \(result.stderr)")
        }
        #expect(try CLI.run(["xyzzy"]).stderr.hasPrefix("unknown command 'xyzzy'; commands: tui, init, apply"))
        #expect(try CLI.run(["deplyo"]).stderr.contains("did you mean 'deploy'?"))
    }

    @Test func onlyABareModeldeckOpensTheDashboard() throws {
        // Without a terminal the dashboard says it needs one: that is how we see it was chosen.
        for words in [[], ["--readonly"], ["tui"]] {
            let result = try CLI.run(words)
            #expect(result.status != 0)
            #expect(result.stderr.contains("the dashboard needs a terminal"), "\(words): \(result.stderr)")
        }
        #expect(try CLI.run(["help", "apply"]).stdout.contains("USAGE: modeldeck apply"))
    }

    /// `modeldeck --registry R rollback x`, options before the command as git and kubectl take them, runs the
    /// command (it fell to the dashboard, which refused `rollback x` as unexpected arguments); a mistyped word
    /// after the options is refused as any unknown command is, and options alone still open the dashboard.
    @Test func optionsBeforeTheCommandRunTheCommand() throws {
        let scratch = Scratch()
        defer { scratch.cleanUp() }
        #expect(try CLI.run(["--registry", scratch.registry, "init"]).status == 0)
        let listed = try CLI.run(["--registry", scratch.registry, "get", "endpoints", "-o", "json"])
        #expect(listed.status == 0, "\(listed.stderr)")
        #expect((try JSONSerialization.jsonObject(with: Data(listed.stdout.utf8)) as? [Any])?.isEmpty == true, "\(listed.stdout)")
        // Routed to `rollback`, which names the endpoint it cannot find; the registry is left as it was.
        let rollback = try CLI.run(["--registry", scratch.registry, "rollback", "nosuch", "--reason", "x"])
        #expect(rollback.status == 1)
        #expect(rollback.stderr.contains("'nosuch'") && !rollback.stderr.contains("unexpected"), "\(rollback.stderr)")
        #expect(try events(scratch.registry, kinds: "rollback.%").isEmpty)
        // The whole program's commands too, a subcommand's (`registry stats`) among them, with `--registry=PATH`
        // as one word.
        let stats = try CLI.run(["--registry=\(scratch.registry)", "registry", "stats"])
        #expect(stats.status == 0, "\(stats.stderr)")
        let typo = try CLI.run(["--registry", scratch.registry, "rolback", "nosuch"])
        #expect(typo.status == 2)
        #expect(typo.stderr.hasPrefix("unknown command 'rolback'; did you mean 'rollback'?"), "\(typo.stderr)")
        for words in [["--registry", scratch.registry], ["--readonly", "--registry", scratch.registry]] {
            let dashboard = try CLI.run(words)
            #expect(dashboard.status != 0)
            #expect(dashboard.stderr.contains("the dashboard needs a terminal"), "\(words): \(dashboard.stderr)")
        }
    }

    /// ArgumentParser is given only the command the first word names (a fast start for `rollback`): help,
    /// usage errors and the full list must read as they did with every command given.
    @Test func helpAndUsageErrorsReadTheSameWhenOnlyTheNamedCommandIsParsed() throws {
        #expect(try CLI.run(["rollback", "--help"]).stdout.contains("USAGE: modeldeck rollback <endpoint>"))
        #expect(try CLI.run(["help", "rollback"]).stdout.contains("USAGE: modeldeck rollback <endpoint>"))
        #expect(try CLI.run(["cost", "burn", "--help"]).stdout.contains("USAGE: modeldeck cost burn"))
        let all = try CLI.run(["--help"]).stdout
        for command in ["rollback", "deploy", "set-weight", "simulate", "registry"] {
            #expect(all.contains("  \(command) "), "\(command) missing from --help")
        }
        let missing = try CLI.run(["rollback", "--reason", "x"])
        #expect(missing.status == 64)
        #expect(missing.stderr == "Error: Missing expected argument '<endpoint>' (see modeldeck rollback --help)\n", "\(missing.stderr)")
    }

    // MARK: Item 1 — numbers the arithmetic cannot hold are refused at parse, with the limit

    @Test func hugeBudgetsSizesAndDurationsAreRefusedWithTheLimit() throws {
        let budgets = remoteDeck(endpoints: ["a", "b"], replacements: [("memory: 512MB\n", "memory: 512MB\n    daily_budget: $9000000000000\n")])
        #expect(try expectRefused(["apply", "-f", "{deck}"], deck: budgets)
            .contains("endpoint 'a' daily_budget '$9000000000000' is over the limit of $1,000,000.00"))
        let size = remoteDeck(replacements: [("size: 20MB", "size: 1000000000000000000")])
        #expect(try expectRefused(["apply", "-f", "{deck}", "--dry-run"], deck: size).contains("size '1000000000000000000' is over the limit of 1,024 TB"))
        let idle = remoteDeck(replacements: [("memory: 512MB\n", "memory: 512MB\n    idle_timeout: 100000000d\n")])
        #expect(try expectRefused(["apply", "-f", "{deck}"], deck: idle).contains("idle_timeout '100000000d' is over the limit of 365d"))
        let memory = remoteDeck(replacements: [("memory: 512MB\n", "memory: 2000000MB\n")])
        #expect(try expectRefused(["apply", "-f", "{deck}"], deck: memory).contains("is over the limit of 1,048,576 MB"))
        #expect(try expectRefused(["simulate", "fixtures/traces/periodic.csv", "--ping", "10000000000000000ms"]).contains("--ping '10000000000000000ms' is over the limit of 365d"))
        #expect(try expectRefused(["simulate", "fixtures/traces/periodic.csv", "--ping", "20m"]).contains("--ping 20m is over the limit of 15m"))
        let payload = try CLI.run(["cost", "estimate", "--requests", "5/s", "--duration", "1s", "--memory", "512", "--payload", "9999999999999999999"])
        #expect(payload.status != 0)
        #expect(payload.stderr.contains("--payload '9999999999999999999' is over the limit of 1,024 TB"), "\(payload.stderr)")
        #expect(try expectRefused(["deploy", "sentiment", "v2", "--bake", "999999999999d"]).contains("over the limit of 365d"))
    }

    // MARK: Item 9 — inputs that never finish

    @Test func aYAMLAliasBombIsRefusedQuickly() throws {
        // Nine levels of ten aliases: 10⁹ nodes, used as a mapping key so Yams would hash them all.
        var bomb = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n"
        for level in 1...9 {
            bomb += "a\(level): &a\(level) [" + Array(repeating: "*a\(level - 1)", count: 10).joined(separator: ", ") + "]\n"
        }
        bomb += "? *a9\n: boom\n"
        #expect(try expectRefused(["apply", "-f", "{deck}"], deck: bomb).contains("its aliases expand to more than 2,000,000 nodes, the limit"))
        let scratch = Scratch()
        defer { scratch.cleanUp() }
        let theme = scratch.file("bomb-theme.yaml", bomb)
        for words in [["demo", "--plain", "--theme", theme], ["cost", "estimate", "--requests", "5/s", "--duration", "1s", "--memory", "512", "--prices", theme]] {
            let result = try CLI.run(words)
            #expect(result.status != 0)
            #expect(result.stderr.split(separator: "\n").count == 1, "\(result.stderr)")
            #expect(result.stderr.contains("its aliases expand to more than"), "\(words): \(result.stderr)")
        }
    }

    @Test func aTraceSpanningThousandsOfYearsIsRefused() throws {
        let scratch = Scratch()
        defer { scratch.cleanUp() }
        let trace = scratch.file("long.csv", "1,a,10\n99999999999,a,10\n")
        #expect(try expectRefused(["simulate", trace]).contains("the trace spans 1157407d9h46m38s, over the limit of 366d"))
    }

    // MARK: Item 2 — nothing from outside reaches the terminal raw

    @Test func escapeAndBidiControlsNeverReachTheTerminal() throws {
        let escape = try expectRefused(["apply", "-f", "{deck}"], deck: remoteDeck(replacements: [("name: local\n", "name: \"x\\e[2Jmoo\"\n")]))
        #expect(!escape.contains("\u{1B}"))
        #expect(escape.contains("target name 'xmoo'"), "\(escape)")
        let bidi = try expectRefused(["apply", "-f", "{deck}"], deck: remoteDeck(replacements: [("name: local\n", "name: \"evil\\u202Egnp.exe\"\n")]))
        #expect(!bidi.unicodeScalars.contains { $0.value == 0x202E })
        #expect(try expectRefused(["deploy", "sentiment\u{1B}]0;owned\u{07}", "v2"]).contains("unknown endpoint 'sentiment'"))

        // A bad trace line is echoed in the error; the ESC in it is not.
        let scratch = Scratch()
        defer { scratch.cleanUp() }
        let trace = scratch.file("bad.csv", "\u{1B}[31mnot a line\u{9B}2J\u{2067}\n")
        let echoed = try expectRefused(["simulate", trace])
        #expect(echoed.contains("not a line"))
        #expect(!echoed.unicodeScalars.contains { $0.value == 0x1B || $0.value == 0x9B || $0.value == 0x2067 }, "\(echoed.debugDescription)")

        // Apply's change summary (stdout) carries a region and notes from the deck.
        let deck = scratch.file("deck.yaml", remoteDeck(replacements: [("region: eu-central-1", "region: \"eu-central-1\\e]0;title\\a\\u202E\"")]))
        let applied = try CLI.run(["apply", "-f", deck, "--dry-run", "--registry", scratch.registry])
        #expect(!applied.stdout.unicodeScalars.contains { $0.value == 0x1B || $0.value == 0x07 || $0.value == 0x202E }, "\(applied.stdout.debugDescription)")
    }

    // MARK: Item 3 — a registry another user could have written is not opened

    @Test func aRegistryOthersCouldHaveWrittenIsRefused() throws {
        let scratch = Scratch()
        defer { scratch.cleanUp() }
        let good = scratch.file("deck.yaml", remoteDeck())
        #expect(try CLI.run(["apply", "-f", good, "--registry", scratch.registry]).status == 0)

        func refused(_ arguments: [String], _ expected: String) throws {
            let result = try CLI.run(arguments + ["--registry", scratch.registry])
            #expect(result.status != 0, "\(arguments) ran on a planted registry")
            #expect(result.stderr.split(separator: "\n").count == 1, "\(result.stderr)")
            #expect(result.stderr.contains(expected), "\(result.stderr)")
        }
        // A folder group or others can write.
        chmod(scratch.path, 0o777)
        try refused(["get", "endpoints"], "its folder \(scratch.path) is writable by others (mode 777)")
        try refused(["apply", "-f", good], "writable by others")
        chmod(scratch.path, 0o770)
        try refused(["get", "endpoints"], "is writable by its group (mode 770)")
        chmod(scratch.path, 0o700)
        #expect(try CLI.run(["get", "endpoints", "--registry", scratch.registry]).status == 0)

        // A file someone else owns (tests run as root, which may chown; otherwise skip this half).
        let nobody: uid_t = 65_534
        if geteuid() == 0 {
            chown(scratch.registry, nobody, gid_t(nobody))
            try refused(["get", "endpoints"], "refusing registry \(scratch.registry): it belongs to uid 65534, not to you")
            try refused(["daemon"], "belongs to uid 65534")
            chown(scratch.registry, 0, 0)
            chmod(scratch.registry, 0o666)
            try refused(["get", "endpoints"], "it is writable by others (mode 666)")
        }
    }

    // MARK: Item 10 — a region is a region

    @Test func aRegionThatWouldSendSignedCallsElsewhereIsRefused() throws {
        let error = try expectRefused(["apply", "-f", "{deck}"], deck: remoteDeck(replacements: [("region: eu-central-1", "region: \"attacker.invalid#\"")]))
        #expect(error.contains("target 'lambda-eu'") && error.contains("region 'attacker.invalid#' is not an AWS region name"), "\(error)")
    }

    // MARK: Item 6 — a version's env: is checked

    @Test func aVersionsEnvCannotTakeTheContractsNames() throws {
        let port = remoteDeck(replacements: [("memory: 256MB\n      - version: v2", "memory: 256MB\n        env: {PORT: \"80\"}\n      - version: v2")])
        #expect(try expectRefused(["apply", "-f", "{deck}"], deck: port).contains("env name 'PORT' is set by ModelDeck"))
        let changed = remoteDeck(replacements: [("memory: 256MB\n      - version: v2", "memory: 256MB\n        env: {LOG_LEVEL: debug}\n      - version: v2")])
        #expect(try expectRefused(["apply", "-f", "{deck}"], deck: changed).contains("version 'sentiment@v1' is immutable: its env is - in the registry, the deck says LOG_LEVEL=debug"))
    }
}
