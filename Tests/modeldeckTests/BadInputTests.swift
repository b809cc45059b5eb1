import Foundation
import Testing

/// Bad input gets one clear line on stderr, a non-zero exit, and leaves the registry exactly as it was.
@Suite(.serialized)
struct BadInputTests {
    /// Applies a good deck, runs `arguments` (with `{deck}` replaced by a file holding `deck`), and checks
    /// the contract. Returns stderr for message checks.
    func expectRefused(_ arguments: [String], deck: String? = nil, registryPath: String? = nil, environment: [String: String] = [:],
                       sourceLocation: SourceLocation = #_sourceLocation) throws -> String {
        let scratch = Scratch()
        defer { scratch.cleanUp() }
        let good = scratch.file("good.yaml", remoteDeck())
        let setUp = try CLI.run(["apply", "-f", good, "--registry", scratch.registry])
        #expect(setUp.status == 0, "\(setUp.stderr)", sourceLocation: sourceLocation)
        let before = try dump(registryAt: scratch.registry)

        let bad = deck.map { scratch.file("bad.yaml", $0) }
        let resolved = arguments.map { $0 == "{deck}" ? bad ?? $0 : $0 }
        let result = try CLI.run(resolved + ["--registry", registryPath ?? scratch.registry], environment: environment)
        #expect(result.status != 0, "exit 0 for \(arguments)", sourceLocation: sourceLocation)
        let lines = result.stderr.split(separator: "\n", omittingEmptySubsequences: true)
        #expect(lines.count == 1, "stderr was: \(result.stderr)", sourceLocation: sourceLocation)
        #expect(result.stdout.isEmpty, "stdout was: \(result.stdout)", sourceLocation: sourceLocation)
        #expect(try dump(registryAt: scratch.registry) == before, "registry changed", sourceLocation: sourceLocation)
        return result.stderr
    }

    @Test func malformedYAMLSaysWhere() throws {
        let error = try expectRefused(["apply", "-f", "{deck}"], deck: remoteDeck(replacements: [("memory: 512MB", "memory: [512MB")]))
        #expect(error.contains("bad.yaml:"))
        #expect(error.contains("malformed YAML"))
    }

    @Test(arguments: [
        (["bench", "sentinel"], "unknown endpoint 'sentinel' (known: sentiment)"),
        (["bench", "sentiment", "--rate", "0/s"], "--rate '0/s' must be more than 0/s"),
        (["bench", "sentiment", "--idle-gaps", "30m,45m"], "over the idle budget of 1h"),
        (["bench", "sentiment", "--payload", "/nonexistent/payload.json"], "--payload file '/nonexistent/payload.json' does not exist"),
        (["bench", "sentiment", "--ramp", "50..10/s:1m"], "must rise"),
        (["bench", "sentiment", "--only", "tepid"], "is not a phase"),
        (["bench", "compare", "sentiment", "sentinel"], "unknown endpoint 'sentinel'"),
        (["bench", "sentiment", "--only", "cold", "--gateway", "http://127.0.0.1:9"], "does not answer"),
    ])
    func benchBadInputGetsOneLineAndNoRun(arguments: [String], message: String) throws {
        let error = try expectRefused(arguments)
        #expect(error.contains(message), "\(error)")
    }

    @Test func unknownField() throws {
        let error = try expectRefused(["apply", "-f", "{deck}"], deck: remoteDeck(replacements: [("memory: 512MB", "memroy: 512MB")]))
        #expect(error.contains("unknown field 'memroy' in endpoint 'sentiment'"))
    }

    @Test func unknownReferences() throws {
        #expect(try expectRefused(["apply", "-f", "{deck}"], deck: remoteDeck(replacements: [("model: sentiment\n", "model: sentinel\n")]))
            .contains("unknown model 'sentinel'"))
        #expect(try expectRefused(["apply", "-f", "{deck}"], deck: remoteDeck(replacements: [("target: local\n", "target: gpu-box\n")]))
            .contains("unknown target 'gpu-box'"))
        #expect(try expectRefused(["apply", "-f", "{deck}"], deck: remoteDeck(endpoints: ["other"], replacements: [("traffic: {v1: 100}", "traffic: {v7: 100}")]))
            .contains("unknown version 'sentiment@v7'"))
        #expect(try expectRefused(["deploy", "sentiment", "v9"]).contains("unknown version 'sentiment@v9'"))
        #expect(try expectRefused(["deploy", "nope", "v2"]).contains("unknown endpoint 'nope'"))
        #expect(try expectRefused(["rollback", "nope", "--reason", "x"]).contains("unknown endpoint 'nope'"))
        #expect(try expectRefused(["warm", "nope", "--adaptive"]).contains("unknown endpoint 'nope'"))
    }

    @Test func weightsThatDoNotSumToOneHundred() throws {
        let error = try expectRefused(["apply", "-f", "{deck}"], deck: remoteDeck(endpoints: ["other"], replacements: [("traffic: {v1: 100}", "traffic: {v1: 80, v2: 10}")]))
        #expect(error.contains("traffic weights sum to 90, they must sum to 100"))
    }

    @Test func aVersionRedeclaredWithAnotherDigest() throws {
        let error = try expectRefused(["apply", "-f", "{deck}"], deck: remoteDeck(replacements: [(String(repeating: "b", count: 64), String(repeating: "d", count: 64))]))
        #expect(error.contains("version 'sentiment@v2' is immutable: the registry has digest sha256:bbbb"))
    }

    @Test func badNotificationEntries() throws {
        func deck(_ entry: String) -> String { remoteDeck() + "notifications:\n  - " + entry + "\n" }
        #expect(try expectRefused(["apply", "-f", "{deck}"], deck: deck("{name: oncall, url: 'hooks.example.com/x', format: slack}"))
            .contains("notification 'oncall': url 'hooks.example.com/x' is not an http:// or https:// URL with a host"))
        #expect(try expectRefused(["apply", "-f", "{deck}"], deck: deck("{name: oncall, url: 'https://hooks.example.com', format: slack, events: [deploy.rollback]}"))
            .contains("notification 'oncall': unknown event kind 'deploy.rollback'; did you mean 'deploy.rolled_back'?"))
        #expect(try expectRefused(["apply", "-f", "{deck}"], deck: deck("{name: oncall, url: 'https://hooks.example.com/${ONCALL_HOOK}', format: slack}"),
                                  environment: ["ONCALL_HOOK": ""])
            .contains("notification 'oncall': environment variable ONCALL_HOOK is not set (secrets are read from the environment, never stored)"))
        #expect(try expectRefused(["apply", "-f", "{deck}"], deck: deck("{name: oncall, url: 'https://hooks.example.com', format: slack, endpoints: [sentinel]}"))
            .contains("notification 'oncall' filters on unknown endpoint 'sentinel' (known: sentiment)"))
        #expect(try expectRefused(["notify", "test", "oncall"]).contains("unknown notification 'oncall'; the deck declares none"))
    }

    @Test func memoryOutsideTheTargetsRange() throws {
        let error = try expectRefused(["apply", "-f", "{deck}"], deck: remoteDeck(endpoints: ["on-lambda"], replacements: [("target: local", "target: lambda-eu"), ("memory: 512MB", "memory: 64MB")]))
        #expect(error.contains("endpoint 'on-lambda' memory 64 MB is outside target 'lambda-eu' (aws-lambda) range 128 MB–10,240 MB"))
    }

    @Test func aGPUModelOnATargetWithoutOne() throws {
        let deck = remoteDeck(endpoints: ["on-lambda"], replacements: [
            ("target: local", "target: lambda-eu"),
            ("size: 20MB\n        command: [python3, server.py]\n        memory: 256MB", "size: 20MB\n        command: [python3, server.py]\n        memory: 256MB\n        gpus: 1"),
        ])
        // v1 is redeclared with a GPU: refused as immutable first; use a new version to reach the fit check.
        let newVersion = deck.replacingOccurrences(of: "- version: v1", with: "- version: v1-gpu")
            .replacingOccurrences(of: "traffic: {v1: 100}", with: "traffic: {v1-gpu: 100}")
        let error = try expectRefused(["apply", "-f", "{deck}"], deck: newVersion)
        #expect(error.contains("version 'sentiment@v1-gpu' needs a GPU; target 'lambda-eu' (aws-lambda) has none"))
    }

    @Test func aRegistryPathThatIsNotWritable() throws {
        let scratch = Scratch()
        defer { scratch.cleanUp() }
        let deck = scratch.file("deck.yaml", remoteDeck())
        for path in ["/proc/modeldeck/registry.sqlite", deck + "/registry.sqlite"] {
            let result = try CLI.run(["apply", "-f", deck, "--registry", path])
            #expect(result.status != 0)
            #expect(result.stderr.split(separator: "\n").count == 1)
            #expect(result.stderr.contains("cannot create registry at \(path)"))
        }
        let missing = try CLI.run(["get", "endpoints", "--registry", scratch.path + "/none.sqlite"])
        #expect(missing.status != 0)
        #expect(missing.stderr.contains("no registry at"))
        #expect(!FileManager.default.fileExists(atPath: scratch.path + "/none.sqlite"))
    }

    @Test func badCommandValues() throws {
        #expect(try expectRefused(["deploy", "sentiment", "v2", "--strategy", "blue-green"]).contains("strategy 'blue-green' is not known"))
        #expect(try expectRefused(["deploy", "sentiment", "v2", "--bake", "soon"]).contains("--bake 'soon' is not a duration"))
        #expect(try expectRefused(["warm", "sentiment", "--every", "5m", "--off"]).contains("choose exactly one of"))
        #expect(try expectRefused(["warm", "sentiment", "--every", "0s"]).contains("must be at least 1s"))
        // Provisioned concurrency is Lambda's: refused on the local target, named, before anything is written.
        #expect(try expectRefused(["warm", "sentiment", "--provisioned", "2"]).contains("target 'local' (local), which has no provisioned concurrency; only aws-lambda targets do"))
        #expect(try expectRefused(["warm", "sentiment", "--provisioned=-1"]).contains("is outside 0–1,000"))
        #expect(try expectRefused(["warm", "sentiment", "--provisioned", "2", "--schedule", "0 8 * *"]).contains("has 4 fields; it needs 5"))
        #expect(try expectRefused(["warm", "sentiment", "--provisioned", "2", "--every", "5m"]).contains("without --every"))
        #expect(try expectRefused(["warm", "sentiment", "--every", "5m", "--schedule", "0 8 * * *"]).contains("--schedule goes with --provisioned"))
        #expect(try expectRefused(["rollback", "sentiment", "--reason", "x"]).contains("no earlier good version"))
        #expect(try expectRefused(["get", "events", "--limit", "0"]).contains("--limit 0"))
    }

    /// A target's settings are checked against its kind's descriptor at apply: before, a Lambda target without
    /// role_arn was applied, `deploy` said pending, and the daemon failed later.
    @Test func aLambdaTargetWithoutItsRoleIsRefusedAtApplyNamingTheKey() throws {
        let role = "    role_arn: arn:aws:iam::123456789012:role/modeldeck-lambda\n"
        let error = try expectRefused(["apply", "-f", "{deck}"], deck: remoteDeck(replacements: [(role, "")]))
        #expect(error.contains("bad.yaml:"))
        #expect(error.contains("target 'lambda-eu' (aws-lambda) needs role_arn: the IAM role Lambda assumes"))
    }

    @Test func targetSettingsThatAreMalformedAreRefusedWhereTheyAre() throws {
        let role = "role_arn: arn:aws:iam::123456789012:role/modeldeck-lambda"
        #expect(try expectRefused(["apply", "-f", "{deck}"], deck: remoteDeck(replacements: [(role, "role_arn: modeldeck-lambda")]))
            .contains("role_arn 'modeldeck-lambda' must be an IAM role ARN"))
        #expect(try expectRefused(["apply", "-f", "{deck}"], deck: remoteDeck(replacements: [(role, role + "\n    architecture: sparc")]))
            .contains("architecture 'sparc' must be x86_64 or arm64"))
        #expect(try expectRefused(["apply", "-f", "{deck}"], deck: remoteDeck(replacements: [(role, role + "\n    function_prefix: 'my prefix/'")]))
            .contains("function_prefix 'my prefix/' must be 1–63 letters, digits, hyphens or underscores"))
        #expect(try expectRefused(["apply", "-f", "{deck}"], deck: remoteDeck(replacements: [("    region: eu-central-1\n", "")]))
            .contains("target 'lambda-eu' (aws-lambda) needs a region"))
        #expect(try expectRefused(["apply", "-f", "{deck}"], deck: remoteDeck(replacements: [("    kind: local\n", "    kind: local\n    port: 70000\n")]))
            .contains("port '70000' must be a whole number from 0 to 65535"))
    }

    /// `$MODELDECK_PRICES` replaces the built-in price table (here read by `apply`, to check a local target's
    /// `price_as`); a broken or missing one is refused with one line naming the file.
    @Test func aBrokenPriceTableFileIsRefusedNamingIt() throws {
        let scratch = Scratch()
        defer { scratch.cleanUp() }
        let broken = scratch.file("prices.yaml", "version: \"x\"\ncurrency: USD\nplatforms:\n  aws-lambda: {billing: sometimes}\nprices: []\n")
        let priced = remoteDeck(replacements: [("    kind: local\n", "    kind: local\n    price_as: aws-lambda\n")])
        let error = try expectRefused(["apply", "-f", "{deck}"], deck: priced, environment: ["MODELDECK_PRICES": broken])
        #expect(error.contains("\(broken): platform 'aws-lambda': billing must be invocation, task, instance or job"))
        let missing = try expectRefused(["apply", "-f", "{deck}"], deck: priced, environment: ["MODELDECK_PRICES": scratch.path + "/none.yaml"])
        #expect(missing.contains("cannot read price table \(scratch.path)/none.yaml"))
    }

    @Test func badTiersAndTimesAreRefusedByName() throws {
        #expect(try expectRefused(["daemon", "--tiers", "10s:1h,7s:1d,1h"]).contains("must be a multiple of 10s"))
        #expect(try expectRefused(["daemon", "--tiers", "10s:1h,1m:1d,1h:30d"]).contains("expected WIDTH:KEPT"))
        #expect(try expectRefused(["get", "events", "--since", "yesterday"]).contains("--since 'yesterday' is neither a date"))
        #expect(try expectRefused(["get", "deployments", "--since", "7d"]).contains("--since applies to events only"))
    }

    /// An ecs-fargate target: a CPU and memory pair Fargate does not have, a cpu it does not have, a listener that is
    /// not a listener's ARN. One line each, at apply, and nothing written.
    @Test func fargateTaskSizesAndSettings() throws {
        let listener = "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/lb/50dc6c495c0c9188/f2f7dc8efc522ab2"
        func deck(cpu: String, memory: String = "4GB", listener: String = listener) -> String {
            remoteDeck(endpoints: ["sentiment", "boxed"], replacements: [
                ("models:\n", "  - {name: fg, kind: ecs-fargate, region: us-east-1, listener_arn: '\(listener)', subnets: subnet-1a, security_groups: sg-1a, cpu: '\(cpu)'}\nmodels:\n"),
                ("  - name: boxed\n    model: sentiment\n    target: local\n    memory: 512MB", "  - name: boxed\n    model: sentiment\n    target: fg\n    memory: \(memory)"),
            ])
        }
        #expect(try expectRefused(["apply", "-f", "{deck}"], deck: deck(cpu: "0.25"))
            .contains("endpoint 'boxed' on target 'fg' (ecs-fargate): Fargate has no task of 0.25 vCPU with 4,096 MB; 0.25 vCPU takes 512 MB, 1,024 MB, 2,048 MB"))
        #expect(try expectRefused(["apply", "-f", "{deck}"], deck: deck(cpu: "1", memory: "1500MB"))
            .contains("Fargate has no task of 1 vCPU with 1,500 MB; 1 vCPU takes 2,048 MB–8,192 MB in 1,024 MB steps"))
        #expect(try expectRefused(["apply", "-f", "{deck}"], deck: deck(cpu: "3"))
            .contains("target 'fg' (ecs-fargate): cpu '3' is not a Fargate task size; use one of 0.25, 0.5, 1, 2, 4, 8, 16"))
        #expect(try expectRefused(["apply", "-f", "{deck}"], deck: deck(cpu: "1", listener: "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/x/1"))
            .contains("listener_arn 'arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/x/1' must be an Application Load Balancer listener ARN"))
    }

    /// An http target: a URL that is not http(s), a header variable that is not set, a header value written in the
    /// deck (it would be stored).
    @Test func anHTTPTargetWithABadURLOrAHeaderThatIsNotFromTheEnvironmentIsRefused() throws {
        func deck(_ settings: String) -> String {
            remoteDeck(replacements: [("models:\n", "  - {name: run, kind: http, \(settings)}\nmodels:\n")])
        }
        #expect(try expectRefused(["apply", "-f", "{deck}"], deck: deck("url: 'ftp://models.example.com/predict'"))
            .contains("target 'run' (http): url 'ftp://models.example.com/predict' must be an http:// or https:// URL"))
        let unset = try expectRefused(["apply", "-f", "{deck}"],
                                      deck: deck("url: 'https://a.example.com', headers: {Authorization: 'Bearer ${MODELDECK_TEST_UNSET}'}"))
        #expect(unset.contains("target 'run' (http): header Authorization reads $MODELDECK_TEST_UNSET, which is not set"), "\(unset)")
        #expect(try expectRefused(["apply", "-f", "{deck}"], deck: deck("url: 'https://a.example.com', headers: {Authorization: 'Bearer abc'}"))
            .contains("the value must come from an environment variable"))
    }

    @Test func aSageMakerRealtimeTargetOnAnInstanceTypeTheTableLacksIsRefused() throws {
        let deck = remoteDeck(replacements: [("models:\n", "  - {name: rt, kind: sagemaker-realtime, region: us-east-1, role_arn: 'arn:aws:iam::123456789012:role/r', instance_type: ml.m5.huge}\nmodels:\n")])
        #expect(try expectRefused(["apply", "-f", "{deck}"], deck: deck)
            .contains("target 'rt' (sagemaker-realtime): instance_type 'ml.m5.huge' is not in ModelDeck's instance table (known: ml.t2.medium"))
    }

    @Test func simulateRefusesAPlatformThatPricesVCPUTimeItDoesNotCount() throws {
        let error = try expectRefused(["simulate", "fixtures/traces/periodic.csv", "--platform", "google-cloud-run", "--region", "us-central1"])
        #expect(error.contains("simulate prices memory time only, and google-cloud-run also prices vCPU time"), "\(error)")
    }
}
