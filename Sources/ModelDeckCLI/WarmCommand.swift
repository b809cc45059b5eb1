import ArgumentParser
import ModelDeckCore

struct WarmCommand: ParsableCommand {
    static let configuration = CommandConfiguration.onCall(
        "warm",
        abstract: "Set an endpoint's keep-warm policy.",
        discussion: """
            --every 5m --concurrency 2   two pings at once every 5 minutes, so two instances stay warm
            --adaptive                   pre-warm from the endpoint's own idle-time histogram
            --off                        no pings
            --provisioned 5              Lambda provisioned concurrency: 5 environments kept initialised on the
                                         alias, billed while configured (0 removes it)
            --provisioned 10 --schedule "0 8 * * MON-FRI"
                                         10 each time the cron fires (UTC), until another entry fires
            Pings carry X-ModelDeck-Warmup: 1 and are counted apart from user traffic.
            """)

    @Argument(help: ArgumentHelp("Endpoint to keep warm.", valueName: "endpoint"), completion: endpointCompletion)
    var endpoint: String

    @Option(help: ArgumentHelp("Ping on a fixed schedule, e.g. 5m.", valueName: "duration"))
    var every: String?

    @Option(help: ArgumentHelp("Pings sent at once with --every: instances kept warm.", valueName: "n"))
    var concurrency: Int?

    @Flag(help: "Learn when to ping from the endpoint's idle times.")
    var adaptive = false

    @Flag(help: "Stop keep-warm pings.")
    var off = false

    @Option(help: ArgumentHelp("Lambda provisioned concurrency: environments kept initialised on the alias (0 removes it).", valueName: "n"))
    var provisioned: Int?

    @Option(help: ArgumentHelp("With --provisioned: apply it each time this cron fires (5 fields, UTC).", valueName: "cron"))
    var schedule: String?

    @OptionGroup var registry: RegistryOptions

    func policy() throws -> KeepWarmPolicy {
        let modes = [every != nil, adaptive, off].filter { $0 }.count
        guard modes == 1 else { throw ModelDeckError("choose exactly one of --every DURATION, --adaptive or --off") }
        if concurrency != nil && every == nil { throw ModelDeckError("--concurrency goes with --every") }
        if let every {
            let seconds = try Quantity.seconds(every, what: "--every")
            guard seconds >= 1 else { throw ModelDeckError("--every \(every) must be at least 1s") }
            let count = concurrency ?? 1
            guard (1...1_000).contains(count) else { throw ModelDeckError("--concurrency \(count) is outside 1–1,000") }
            return .fixed(everySeconds: seconds, concurrency: count)
        }
        return adaptive ? .adaptive : .off
    }

    func run() throws {
        if let provisioned {
            guard every == nil, concurrency == nil, !adaptive, !off else {
                throw ModelDeckError("--provisioned sets provisioned concurrency apart from pings; give it without --every, --adaptive or --off")
            }
            let cron = try schedule.map { try Cron(parsing: $0) }
            let (old, new) = try Intents.provision(try registry.open(), endpoint: endpoint, concurrency: provisioned, cron: cron)
            print(old == new ? "provisioned concurrency of \(endpoint) is already \(new.summary); nothing changed"
                             : "provisioned concurrency of \(endpoint): \(old?.summary ?? "0") → \(new.summary) (the daemon applies it)")
            return
        }
        if schedule != nil { throw ModelDeckError("--schedule goes with --provisioned N") }
        let policy = try policy()
        let (old, new) = try Intents.keepWarm(try registry.open(), endpoint: endpoint, policy: policy)
        print(old == new ? "keep-warm of \(endpoint) is already \(new.summary); nothing changed"
                         : "keep-warm of \(endpoint): \(old.summary) → \(new.summary)")
    }
}
