import Foundation
import Testing
@testable import ModelDeckCore

struct NotificationTests {
    let environment = ["HOOK_PATH": "T000/B000/XXXX", "ONCALL_TOKEN": "s3cret"]

    func read(_ notifications: String) throws -> Deck {
        try DeckReader(sourceName: "deck.yaml", baseDirectory: NSTemporaryDirectory(), environment: environment)
            .parse(sampleDeck(extra: "\nnotifications:\n" + notifications))
    }

    func refusal(_ notifications: String) -> String {
        do {
            _ = try read(notifications)
            return "accepted"
        } catch {
            return (error as? ModelDeckError)?.message ?? "\(error)"
        }
    }

    @Test func anEntryReadsWithItsFiltersAndKeepsSecretsAsTemplates() throws {
        let deck = try read("""
              - name: slack-oncall
                url: https://hooks.slack.com/services/${HOOK_PATH}
                format: slack
                events: [deploy.rolled_back, budget.exceeded]
                endpoints: [sentiment]
                production: true
                headers: {Authorization: "Bearer ${ONCALL_TOKEN}"}
              - name: pager
                command: [/usr/local/bin/page, --team, ml]
                format: json
            """)
        let slack = try #require(deck.notifications.first?.value)
        #expect(slack.destination == .url("https://hooks.slack.com/services/${HOOK_PATH}"))
        #expect(slack.format == .slack)
        #expect(slack.events == ["deploy.rolled_back", "budget.exceeded"])
        #expect(slack.endpoints == ["sentiment"] && slack.productionOnly)
        #expect(slack.headers == ["Authorization": "Bearer ${ONCALL_TOKEN}"])
        #expect(slack.variables == ["HOOK_PATH", "ONCALL_TOKEN"])
        #expect(!slack.configJSON.contains("s3cret") && !slack.configJSON.contains("T000"))
        let pager = try #require(deck.notifications.last?.value)
        #expect(pager.destination == .command(["/usr/local/bin/page", "--team", "ml"]))
        #expect(pager.events == NotificationChannel.defaultKinds)
        #expect(deck.notifications[0].location == "deck.yaml:33:5")
    }

    @Test func badEntriesAreRefusedInOneLineNamingTheProblem() {
        #expect(refusal("  - {name: a, url: 'not a url', format: json}")
            == "deck.yaml:33:5: notification 'a': url 'not a url' is not an http:// or https:// URL with a host")
        #expect(refusal("  - {name: a, url: 'ftp://example.com/x', format: json}").contains("is not an http:// or https:// URL"))
        #expect(refusal("  - {name: a, url: 'https://example.com', format: json, events: [deploy.rollback]}")
            .contains("notification 'a': unknown event kind 'deploy.rollback'; did you mean 'deploy.rolled_back'? known: deploy.rolled_back,"))
        #expect(refusal("  - {name: a, url: 'https://example.com/${NOT_SET_HERE}', format: json}")
            .contains("notification 'a': environment variable NOT_SET_HERE is not set"))
        #expect(refusal("  - {name: a, url: 'https://example.com', format: json, headers: {X-Token: '${ALSO_UNSET}'}}")
            .contains("environment variable ALSO_UNSET is not set"))
        #expect(refusal("  - {name: a, url: 'https://example.com', format: teams}").contains("format 'teams' is not slack or json"))
        #expect(refusal("  - {name: a, format: json}").contains("has no url or command"))
        #expect(refusal("  - {name: a, url: 'https://example.com', command: [x], format: json}").contains("has both url and command"))
        #expect(refusal("  - {name: a, url: 'https://example.com', format: json, sound: loud}").contains("unknown field 'sound' in notification 'a'"))
        #expect(refusal("  - {name: a, command: [x], format: json, headers: {A: b}}").contains("headers apply to a webhook url"))
    }

    @Test func applyRefusesAFilterOnAnUnknownEndpointAndPlansCreationThenNothing() throws {
        let good = try read("  - {name: a, url: 'https://example.com', format: json, endpoints: [sentiment]}")
        let plan = try ApplyPlan.make(deck: good, registry: RegistrySnapshot())
        #expect(plan.changes.last?.summary == "+ notification a (json to https://example.com)")
        var registry = RegistrySnapshot()
        registry.endpoints["sentiment"] = good.endpoints[0].value.endpoint
        registry.notifications["a"] = good.notifications[0].value
        #expect(try ApplyPlan.make(deck: good, registry: registry).changes.allSatisfy { change in
            if case .createNotification = change { return false }
            if case .updateNotification = change { return false }
            return true
        })
        let bad = try read("  - {name: a, url: 'https://example.com', format: json, endpoints: [sentinel]}")
        #expect(throws: ModelDeckError("deck.yaml:33:5: notification 'a' filters on unknown endpoint 'sentinel' (known: sentiment)")) {
            try ApplyPlan.make(deck: bad, registry: RegistrySnapshot())
        }
    }

    @Test func filtersPickKindsEndpointsAndProduction() {
        let production: Set<String> = ["prod"]
        let all = NotificationChannel(name: "all", destination: .url("https://x"), format: .json)
        #expect(all.wants(kind: "deploy.rolled_back", endpoint: "dev", production: production))
        #expect(all.wants(kind: "target.unavailable", endpoint: nil, production: production))
        #expect(!all.wants(kind: "ping.sent", endpoint: "prod", production: production), "not an on-call kind")
        var prodOnly = all
        prodOnly.productionOnly = true
        #expect(prodOnly.wants(kind: "deploy.failed", endpoint: "prod", production: production))
        #expect(!prodOnly.wants(kind: "deploy.failed", endpoint: "dev", production: production))
        #expect(!prodOnly.wants(kind: "target.unavailable", endpoint: nil, production: production), "no endpoint, so not production")
        var named = all
        named.endpoints = ["dev"]
        #expect(named.wants(kind: "drift.detected", endpoint: "dev", production: production))
        #expect(!named.wants(kind: "drift.detected", endpoint: "prod", production: production))
    }

    func event(_ id: Int64, _ kind: String, _ endpoint: String? = "prod") -> Listings.EventRow {
        Listings.EventRow(id: id, at: Date(timeIntervalSince1970: 1_800_000_000), actor: "daemon", endpoint: endpoint, deploymentId: nil,
                          kind: kind, message: "m\(id)")
    }

    @Test func theOutboxSendsTheFirstWantedEventAndPassesOverTheOnesBefore() {
        let channel = NotificationChannel(name: "a", destination: .url("https://x"), format: .json)
        let events = [event(4, "ping.sent"), event(5, "deploy.step"), event(6, "deploy.rolled_back"), event(7, "rollback.done")]
        #expect(OutboxStep.next(channel, events: events, production: []) == OutboxStep(send: 6, passOver: 5))
        #expect(OutboxStep.next(channel, events: Array(events.suffix(2)), production: []) == OutboxStep(send: 6, passOver: nil))
        #expect(OutboxStep.next(channel, events: Array(events.prefix(2)), production: []) == OutboxStep(send: nil, passOver: 5))
        #expect(OutboxStep.next(channel, events: [], production: []) == OutboxStep(send: nil, passOver: nil))
    }

    @Test func retriesDoubleUpToTheCap() {
        let schedule = RetrySchedule(first: 1, cap: 300)
        #expect((1...10).map { schedule.pause(afterFailures: $0) } == [1, 2, 4, 8, 16, 32, 64, 128, 256, 300])
        #expect(schedule.pause(afterFailures: 0) == 1)
        #expect(schedule.pause(afterFailures: 10_000) == 300)
        #expect(RetrySchedule(first: 0.5, cap: 0.5).pause(afterFailures: 7) == 0.5)
    }

    @Test func slackGetsATextAndJSONGetsTheEventAsTheAPIWritesIt() throws {
        let row = event(42, "deploy.rolled_back", "sentiment<&>")
        let slack = try #require(JSONSerialization.jsonObject(with: NotificationPayload.body(for: row, format: .slack)) as? [String: Any])
        #expect(slack.keys.sorted() == ["text"])
        let text = try #require(slack["text"] as? String)
        #expect(text.contains("*deploy.rolled_back* on `sentiment&lt;&amp;&gt;`: m42"))
        #expect(text.contains("event 42, 2027-01-15 08:00:00 UTC"))
        let json = try #require(JSONSerialization.jsonObject(with: NotificationPayload.body(for: row, format: .json)) as? [String: Any])
        #expect(json["id"] as? Int == 42)
        #expect(json["kind"] as? String == "deploy.rolled_back")
        #expect(json["endpoint"] as? String == "sentiment<&>")
        #expect(json["at"] as? String == "2027-01-15T08:00:00Z")
    }

    @Test func resolvingFillsVariablesAndRefusesMissingOnes() throws {
        #expect(try NotificationChannel.resolve("https://h/${A}/x?t=${B}", environment: ["A": "1", "B": "2"], what: "n") == "https://h/1/x?t=2")
        #expect(throws: ModelDeckError("n: environment variable B is not set")) {
            try NotificationChannel.resolve("${A}${B}", environment: ["A": "1"], what: "n")
        }
        #expect(try NotificationChannel.resolve("no variables", environment: [:], what: "n") == "no variables")
    }
}

struct BudgetAlarmTests {
    func burn(_ name: String, today: Int64, budget: Int64?) -> EndpointBurn {
        var figures = BurnFigures()
        figures.today = CostSplit(trafficMicros: today - 1, keepWarmMicros: 1)
        return EndpointBurn(endpoint: name, target: "t", pricedAs: nil, burn: figures, dailyBudgetMicros: budget, budgetUsedPPM: nil, versions: [])
    }

    @Test func anEndpointOverItsBudgetIsAlarmedOncePerDay() {
        let endpoints = [burn("over", today: 5_000_001, budget: 5_000_000), burn("at", today: 5_000_000, budget: 5_000_000),
                         burn("none", today: 99_000_000, budget: nil), burn("zero", today: 1, budget: 0)]
        let due = BudgetAlarm.due(endpoints, alarmedToday: [])
        #expect(due.map(\.endpoint) == ["over", "zero"])
        #expect(due.first?.message == "over has cost $5.000001 today (UTC), over its daily budget of $5.00")
        #expect(BudgetAlarm.due(endpoints, alarmedToday: ["over", "zero"]).isEmpty)
    }

    @Test func theDayStartsAtMidnightUTC() {
        #expect(BudgetAlarm.dayStart(Date(timeIntervalSince1970: 86_400 * 3 + 3_600 * 23)) == Date(timeIntervalSince1970: 86_400 * 3))
    }

    @Test func theRegistryWritesTheAlarmOncePerEndpointAndDay() throws {
        let scratch = Scratch()
        defer { scratch.cleanUp() }
        let registry = try Registry(path: scratch.registryPath)
        try DeckApplier.apply(try parseDeck(sampleDeck([("max_instances: 4", "max_instances: 4\n    daily_budget: $1")])), to: registry, source: "t")
        let now = Date()
        let start = Int64(now.timeIntervalSince1970) / 10 * 10 - 10
        try registry.write { db in
            try db.execute(sql: """
                INSERT INTO metric_buckets (endpoint, version_id, start, width_s, requests, cost_micros) VALUES ('sentiment', 'sentiment@v1', ?, 10, 5, 2000000)
                """, arguments: [start])
        }
        #expect(try registry.recordBudgetAlarms(now: now) == ["sentiment"])
        #expect(try registry.recordBudgetAlarms(now: now.addingTimeInterval(1)) == [])
        #expect(try registry.events(since: nil).filter { $0.kind == "budget.exceeded" }.map(\.endpoint) == ["sentiment"])
    }
}
