import Foundation
import ModelDeckCore
import Testing

/// Issue #15: seeded fuzzing of what users type — decks for `apply`, traces for `simulate`, flags for
/// `cost estimate` — checking the bad-input contract: no crash or hang, one clear line, a non-zero exit,
/// the registry unchanged.
///
/// Two layers, said plainly:
/// - **In process** (the bulk, 11,000 cases by default): the same parsing and checking the commands run —
///   `DeckReader.parse` + `ApplyPlan.make` (apply's whole check, before it writes), `Trace.parse` +
///   `KeepWarmSimulator.run` on traces within simulate's span limit, and cost estimate's parsers +
///   `CostEstimate.report`. A trap here kills the test process; every refusal must be a `ModelDeckError`
///   of one non-empty line.
/// - **Through the real binary** (a sample of 120 of the same cases): `modeldeck apply`, `simulate` and
///   `cost estimate` as processes, with the full contract of `BadInputTests.expectRefused` (exit status,
///   one stderr line, nothing on stdout, registry rows unchanged) for every case the binary refuses; a
///   mutation can also produce valid input, which must then exit 0.
///
/// `MODELDECK_FUZZ_CASES=N` runs N in-process cases of each kind instead (and N/50 through the binary);
/// `MODELDECK_FUZZ_SEED` changes the seed (printed on failure).
@Suite(.serialized)
struct FuzzTests {
    static let seed = UInt64(ProcessInfo.processInfo.environment["MODELDECK_FUZZ_SEED"] ?? "") ?? 0x15_2026_1130
    static let scale = Int(ProcessInfo.processInfo.environment["MODELDECK_FUZZ_CASES"] ?? "")

    /// SplitMix64: small, seeded, and the same on every machine (Swift's own generator is not seedable).
    struct Random: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    /// Values that have broken parsers before: extremes, signs, exponents, units, controls, YAML syntax.
    static let hostile = [
        "0", "-1", "1e300", "99999999999999999999", "9223372036854775807", "9223372036854775808", "1.5", ".", "",
        "NaN", "inf", "0x10", "$9000000000000", "100000000d", "10000000000000000ms", "1000000000000000000", "2000000MB",
        "1PB", "-5m", "5mm", "1h-1m", "0.0000001%", "101%", "\u{1B}[2J", "\u{202E}evil", "x\u{0}y", "\u{9B}31m",
        "&a [x]", "*a", "*undefined", "? [a, b]", "{", "[", "]", "'", "\"", "|", ">", "- ", ": ", "#", "!!binary AA==",
        "!!python/object:os.system", "~", "null", "true", "no", "模型", String(repeating: "9", count: 400),
        String(repeating: "[", count: 300), "a: &x [1]\nb: *x", "\t", "\r\n",
    ]

    /// One mutation of `text`: replace a token, insert a hostile value, delete or duplicate a line, cut it short.
    static func mutate(_ text: String, _ random: inout Random) -> String {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        guard !lines.isEmpty else { return hostile.randomElement(using: &random)! }
        let index = Int.random(in: 0..<lines.count, using: &random)
        let value = hostile.randomElement(using: &random)!
        switch Int.random(in: 0..<8, using: &random) {
        case 0, 1:
            // The value after a colon or comma becomes hostile: where numbers and names live.
            let line = lines[index]
            if let colon = line.lastIndex(where: { $0 == ":" || $0 == "," }) {
                lines[index] = String(line[...colon]) + " " + value
            } else {
                lines[index] = value
            }
        case 2: lines.insert(value, at: index)
        case 3: lines.remove(at: index)
        case 4: lines.insert(lines[index], at: index)
        case 5:
            var characters = Array(lines[index])
            if !characters.isEmpty { characters[Int.random(in: 0..<characters.count, using: &random)] = Character(value.first.map(String.init) ?? "x") }
            lines[index] = String(characters)
        case 6: lines = Array(lines.prefix(index))
        default: lines[index] = String(repeating: " ", count: Int.random(in: 0...6, using: &random)) + lines[index]
        }
        return lines.joined(separator: "\n")
    }

    static func mutated(_ text: String, _ random: inout Random) -> String {
        var out = text
        for _ in 0..<Int.random(in: 1...3, using: &random) { out = mutate(out, &random) }
        return out
    }

    static var deckSeeds: [String] {
        [remoteDeck(), remoteDeck(endpoints: ["a", "b"]),
         (try? String(contentsOfFile: CLI.repository + "/fixtures/decks/example.yaml", encoding: .utf8)) ?? "",
         (try? String(contentsOfFile: CLI.repository + "/fixtures/decks/aws.yaml", encoding: .utf8)) ?? ""]
    }

    static let traceSeed = "timestamp,endpoint,duration_ms\n1800000000.000,a,200\n1800000001.250,b,2s\n1800000060,a,15\n# comment\n1800000600.5,a,250ms\n"

    static let costSeed = ["--requests", "10000/day", "--duration", "200ms", "--memory", "512", "--payload", "1KB",
                           "--response", "2KB", "--arch", "arm64", "--region", "eu-central-1"]

    static func mutatedCost(_ random: inout Random) -> [String] {
        var arguments = costSeed
        for _ in 0..<Int.random(in: 1...2, using: &random) {
            let slot = Int.random(in: 0..<(arguments.count / 2), using: &random) * 2 + 1
            arguments[slot] = Int.random(in: 0..<3, using: &random) == 0
                ? mutate(arguments[slot], &random) : hostile.randomElement(using: &random)! + ["", "/s", "/day", "ms", "MB"].randomElement(using: &random)!
        }
        return arguments
    }

    /// A refusal must be a ModelDeckError of one non-empty line.
    static func expectOneLine(_ error: Error, _ what: String, sourceLocation: SourceLocation = #_sourceLocation) {
        guard let error = error as? ModelDeckError else {
            Issue.record("\(what): \(type(of: error)) is not a ModelDeckError: \(error)", sourceLocation: sourceLocation)
            return
        }
        #expect(!error.message.isEmpty && !error.message.contains("\n"), "\(what): \(error.message.debugDescription)", sourceLocation: sourceLocation)
    }

    /// Cost estimate's flags, parsed and priced as the command does.
    static func estimate(_ arguments: [String], table: PriceTable) throws {
        var values: [String: String] = [:]
        for pair in stride(from: 0, to: arguments.count - 1, by: 2) { values[arguments[pair]] = arguments[pair + 1] }
        let perDay = try TrafficProfile.requestsPerDay(values["--requests"] ?? "")
        let ms = try Quantity.milliseconds(values["--duration"] ?? "", what: "--duration")
        guard ms > 0, ms <= Trace.maxDurationMilliseconds else { throw ModelDeckError("--duration out of range") }
        let mb = try Quantity.megabytes(values["--memory"] ?? "", what: "--memory")
        guard mb > 0 else { throw ModelDeckError("--memory must be above zero") }
        let bytesIn = try Quantity.bytes(values["--payload"] ?? "", what: "--payload")
        let bytesOut = try Quantity.bytes(values["--response"] ?? "", what: "--response")
        let profile = TrafficProfile(requestsPerDay: perDay, durationMilliseconds: ms, memoryMB: mb, requestBytes: bytesIn,
                                     responseBytes: bytesOut, architecture: try Architecture.normalized(values["--arch"] ?? ""),
                                     region: values["--region"] ?? "")
        _ = try CostEstimate.report(profile, table: table)
    }

    @Test func inProcessMutatedDecksTracesAndCostFlagsAreRefusedInOneLine() throws {
        var random = Random(state: Self.seed)
        let decks = Self.scale ?? 6_000, traces = Self.scale ?? 2_500, costs = Self.scale ?? 2_500
        let seeds = Self.deckSeeds
        for index in 0..<decks {
            let text = Self.mutated(seeds[index % seeds.count], &random)
            do {
                let deck = try DeckReader(sourceName: "fuzz.yaml", baseDirectory: CLI.repository + "/fixtures/decks").parse(text)
                _ = try ApplyPlan.make(deck: deck, registry: RegistrySnapshot())
            } catch {
                Self.expectOneLine(error, "deck #\(index) (seed \(Self.seed)):\n\(text)")
            }
        }
        let rates = try PriceTable.standard.invocationRates(platform: "aws-lambda", region: "us-east-1", architecture: "x86_64")
        let target = SimulatedTarget(coldStartMilliseconds: 2_000, idleTimeoutSeconds: 600, pingMilliseconds: 10, memoryMB: 512, rates: rates)
        for index in 0..<traces {
            let text = Self.mutated(Self.traceSeed, &random)
            do {
                let trace = try Trace.parse(Data(text.utf8), name: "fuzz.csv")
                // simulate refuses a span over 366 days before replaying; replay what it would.
                if let first = trace.times.first, let last = trace.times.last, last - first <= 366 * 86_400_000 {
                    for policy in [KeepWarmPolicy.off, .adaptive, .fixed(everySeconds: 300, concurrency: 2)] {
                        _ = KeepWarmSimulator.run(trace, policy: policy, target: target)
                    }
                }
            } catch {
                Self.expectOneLine(error, "trace #\(index) (seed \(Self.seed)):\n\(text)")
            }
        }
        for index in 0..<costs {
            let arguments = Self.mutatedCost(&random)
            do { try Self.estimate(arguments, table: .standard) } catch {
                Self.expectOneLine(error, "cost estimate #\(index) (seed \(Self.seed)): \(arguments)")
            }
        }
    }

    @Test func aSampleThroughTheBinaryKeepsTheWholeContract() throws {
        var random = Random(state: Self.seed ^ 0xB1_4A_27)
        let perKind = (Self.scale ?? 2_000) / 50
        let scratch = Scratch()
        defer { scratch.cleanUp() }
        let good = scratch.file("good.yaml", remoteDeck())
        #expect(try CLI.run(["apply", "-f", good, "--registry", scratch.registry]).status == 0)

        func check(_ arguments: [String], _ what: String, registryUnchanged: Bool) throws {
            let before = try dump(registryAt: scratch.registry)
            let result = try CLI.run(arguments)
            // A signal (a trap) shows as a status above 128 from the shell; Process reports the signal number.
            #expect(result.status != 0 || result.stderr.isEmpty || result.stderr.hasPrefix("note:"), "\(what): exit 0 with stderr \(result.stderr)")
            guard result.status != 0 else { return }
            #expect(result.status < 128 && (1...2).contains(result.status) || result.status == 64,
                    "\(what): exit \(result.status) (a crash?) \(result.stderr)")
            #expect(result.stderr.split(separator: "\n").count == 1, "\(what): stderr \(result.stderr.debugDescription)")
            #expect(result.stdout.isEmpty, "\(what): stdout \(result.stdout)")
            #expect(!result.stderr.unicodeScalars.contains { $0.value == 0x1B || $0.value == 0x9B || $0.value == 0x202E },
                    "\(what): control characters reached stderr")
            if registryUnchanged { #expect(try dump(registryAt: scratch.registry) == before, "\(what): registry changed") }
        }
        let seeds = Self.deckSeeds
        for index in 0..<perKind {
            let text = Self.mutated(seeds[index % seeds.count], &random)
            let file = scratch.file("deck-\(index).yaml", text)
            try check(["apply", "-f", file, "--registry", scratch.registry], "apply deck #\(index):\n\(text)", registryUnchanged: true)
        }
        for index in 0..<perKind {
            let text = Self.mutated(Self.traceSeed, &random)
            let file = scratch.file("trace-\(index).csv", text)
            try check(["simulate", file, "--registry", scratch.registry], "simulate trace #\(index):\n\(text)", registryUnchanged: true)
        }
        for index in 0..<perKind {
            let arguments = Self.mutatedCost(&random)
            try check(["cost", "estimate"] + arguments, "cost estimate #\(index): \(arguments)", registryUnchanged: true)
        }
    }
}
