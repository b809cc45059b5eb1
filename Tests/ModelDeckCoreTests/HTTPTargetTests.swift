import Foundation
import Testing
@testable import ModelDeckCore

/// The http kind's settings, probes and refusals: an endpoint someone else runs, observed and pinged only.
struct HTTPTargetTests {
    let scratch = Scratch()

    static func deck(target extra: String = "", endpoint: String = "    traffic: {v1: 100}\n") -> String {
        """
        apiVersion: modeldeck/v1
        targets:
          - name: run
            kind: http
            url: https://scorer.example.com/predict
        \(extra)
        models:
          - name: scorer
            versions:
              - {version: v1, image: 'example.com/scorer:v1', digest: "sha256:\(String(repeating: "a", count: 64))", size: 1MB, memory: 512MB}
              - {version: v2, image: 'example.com/scorer:v2', digest: "sha256:\(String(repeating: "b", count: 64))", size: 1MB, memory: 512MB}
        endpoints:
          - name: scorer-run
            model: scorer
            target: run
            memory: 1GB
        \(endpoint)
        """
    }

    func parse(_ text: String, environment: [String: String] = [:]) throws -> Deck {
        try DeckReader(sourceName: "deck.yaml", baseDirectory: scratch.path, environment: environment).parse(text)
    }

    @Test func headersAreStoredAsTemplatesAndTheirVariablesMustBeSetAtApply() throws {
        defer { scratch.cleanUp() }
        let text = Self.deck(target: "    headers: {Authorization: 'Bearer ${RUN_TOKEN}', X-Team: '${TEAM}-on-call'}\n")
        let deck = try parse(text, environment: ["RUN_TOKEN": "s3cret", "TEAM": "ml"])
        let target = try #require(deck.targets.first?.value)
        // The names of the variables are stored, never their values.
        #expect(target.config["headers"] == "Authorization: Bearer ${RUN_TOKEN}\nX-Team: ${TEAM}-on-call")
        #expect(!String(describing: target.config).contains("s3cret"))
        let probe = HTTPProbe(target: target)
        #expect(try probe.headerValues(environment: ["RUN_TOKEN": "s3cret", "TEAM": "ml"]).map { "\($0.name)=\($0.value)" }
            == ["Authorization=Bearer s3cret", "X-Team=ml-on-call"])

        #expect(throws: ModelDeckError("deck.yaml:3:5: target 'run' (http): header Authorization reads $RUN_TOKEN, which is not set; export it before apply and before the daemon starts (header values are never stored)")) {
            try parse(text, environment: ["TEAM": "ml"])
        }
        #expect(throws: ModelDeckError("header X-Team reads $TEAM, which is not set")) {
            try probe.headerValues(environment: ["RUN_TOKEN": "s3cret"])
        }
    }

    @Test func aHeaderValueWrittenInTheDeckIsRefusedSoNoSecretIsStored() throws {
        defer { scratch.cleanUp() }
        for (headers, message) in [
            ("{Authorization: 'Bearer abc123'}", "headers 'Authorization: Bearer abc123' Authorization: the value must come from an environment variable, e.g. 'Bearer ${TOKEN}' (header values are never stored)"),
            ("{Authorization: 'Bearer ${1TOKEN}'}", "headers 'Authorization: Bearer ${1TOKEN}' Authorization: a value is text with ${VARIABLE} references (letters, digits, '_'), on one line"),
            ("{Authorization: 'Bearer ${TOKEN'}", "headers 'Authorization: Bearer ${TOKEN' Authorization: a value is text with ${VARIABLE} references (letters, digits, '_'), on one line"),
            ("{'Bad Name': '${TOKEN}'}", "headers 'Bad Name: ${TOKEN}' 'Bad Name' must be a header name (letters, digits, '-')"),
            ("{Host: '${TOKEN}'}", "headers 'Host: ${TOKEN}' 'Host' is set by the HTTP client, not by a deck"),
        ] {
            let error = #expect(throws: ModelDeckError.self) { try parse(Self.deck(target: "    headers: \(headers)\n"), environment: ["TOKEN": "x"]) }
            #expect(error?.message.hasSuffix("target 'run' (http): \(message)") == true, "\(error?.message ?? "")")
        }
        #expect(throws: ModelDeckError("deck.yaml:6:14: target 'run': headers must be a mapping, e.g. {Name: value}")) {
            try parse(Self.deck(target: "    headers: 'Authorization: Bearer ${TOKEN}'\n"), environment: ["TOKEN": "x"])
        }
    }

    @Test func probeSettingsAreCheckedAndHaveDefaults() throws {
        defer { scratch.cleanUp() }
        let plain = HTTPProbe(target: try #require(try parse(Self.deck()).targets.first?.value))
        #expect(plain.method == "GET" && plain.body == nil && plain.contentType == nil)
        #expect(plain.intervalSeconds == 30 && plain.timeoutSeconds == 10 && plain.coldStartOverMilliseconds == nil && plain.coldStartHeader == nil)

        let full = HTTPProbe(target: try #require(try parse(Self.deck(target: """
                probe_method: POST
                probe_body: '{"text": "hi"}'
                probe_interval: 1m
                probe_timeout: 20s
                cold_start_over: 2s
                cold_start_header: X-Cold-Start

            """)).targets.first?.value))
        #expect(full.method == "POST" && full.body == #"{"text": "hi"}"# && full.contentType == "application/json")
        #expect(full.intervalSeconds == 60 && full.timeoutSeconds == 20 && full.coldStartOverMilliseconds == 2_000)
        #expect(full.coldStartHeader == "X-Cold-Start")

        for (setting, message) in [
            ("probe_method: DELETE", "probe_method 'DELETE' must be one of GET, HEAD, POST, PUT"),
            ("probe_interval: 0s", "probe_interval '0s' must be a duration from 1s to 1h"),
            ("probe_interval: 2h", "probe_interval '2h' must be a duration from 1s to 1h"),
            ("probe_timeout: soon", "probe_timeout 'soon' must be a duration from 1s to 15m"),
            ("cold_start_over: fast", "cold_start_over 'fast' must be a duration such as 2s or 800ms"),
            ("url: ftp://example.com/", "url 'ftp://example.com/' must be an http:// or https:// URL with a host and no user or password (headers carry credentials)"),
        ] {
            let error = #expect(throws: ModelDeckError.self) { try parse(Self.deck(target: "    \(setting)\n").replacingOccurrences(of: "    url: https://scorer.example.com/predict\n    url:", with: "    url:")) }
            #expect(error?.message.hasSuffix("target 'run' (http): \(message)") == true, "\(error?.message ?? "")")
        }
    }

    @Test func aColdStartIsTheHeaderSayingSoOrAnAnswerSlowerThanTheThreshold() {
        var probe = HTTPProbe(target: Target(name: "t", kind: .http, config: ["url": "http://a", "cold_start_header": "X-Cold-Start"]))
        #expect(probe.isColdStart(milliseconds: 5, headerValue: "true"))
        #expect(probe.isColdStart(milliseconds: 5, headerValue: "1"))
        for warm in [nil, "false", "0", "no", ""] { #expect(!probe.isColdStart(milliseconds: 60_000, headerValue: warm), "\(warm ?? "nil")") }
        probe.coldStartOverMilliseconds = 2_000
        #expect(probe.isColdStart(milliseconds: 2_001, headerValue: nil))
        #expect(!probe.isColdStart(milliseconds: 2_000, headerValue: nil))
        probe.coldStartHeader = nil
        #expect(!probe.isColdStart(milliseconds: 10, headerValue: "true"), "a header nobody named says nothing")
        // A probe fails without an answer (0) or with one that is not 2xx/3xx.
        #expect([0, 200, 204, 302, 401, 404, 500, 503].map(HTTPProbe.failed) == [true, false, false, false, true, true, true, true])
    }

    @Test func anHTTPEndpointNamesTheOneVersionRunningThere() throws {
        defer { scratch.cleanUp() }
        let registry = try Registry(path: scratch.registryPath)
        #expect(throws: ModelDeckError("deck.yaml:13:5: endpoint 'scorer-run' runs on target 'run' (http), which ModelDeck observes but does not control: name the one version running there, e.g. traffic: {v1: 100}")) {
            try DeckApplier.apply(try parse(Self.deck(endpoint: "")), to: registry, source: "deck.yaml")
        }
        try DeckApplier.apply(try parse(Self.deck()), to: registry, source: "deck.yaml")
        #expect(try registry.desiredWeights(endpoint: "scorer-run") == ["scorer@v1": 100])
        let probed = try registry.probedEndpoints()
        #expect(probed.map(\.endpoint.name) == ["scorer-run"] && probed.first?.version.id == "scorer@v1" && probed.first?.intervalSeconds == 30)
    }

    @Test func deployAndRollbackAreRefusedBeforeAnythingIsWritten() throws {
        defer { scratch.cleanUp() }
        let registry = try Registry(path: scratch.registryPath)
        try DeckApplier.apply(try parse(Self.deck()), to: registry, source: "deck.yaml")
        let before = try dump(registry)
        let refusal = "endpoint 'scorer-run' runs on target 'run' (http): ModelDeck observes http targets but does not control them; deploy and roll back where the endpoint runs"
        #expect(throws: ModelDeckError(refusal)) {
            try Intents.deploy(registry, endpoint: "scorer-run", version: "v2", strategy: .allAtOnce, bakeSeconds: 60, reason: nil)
        }
        #expect(throws: ModelDeckError(refusal)) {
            try Intents.rollback(registry, endpoint: "scorer-run", to: "v2", reason: "bad answers")
        }
        #expect(throws: ModelDeckError(refusal)) { try registry.planRollback(endpoint: "scorer-run", to: nil) }
        #expect(try dump(registry) == before)
        // Pings are what ModelDeck does there.
        try Intents.pingNow(registry, endpoint: "scorer-run")
        #expect(try registry.keepWarmStates()["scorer-run"]?.pingRequestedAt != nil)
    }

    @Test func probesAreCountedApartAndGiveAvailabilityLatencyAndColdStarts() throws {
        var probeLatency = LatencyHistogram()
        for ms: UInt64 in [100, 120, 3_000, 110] { probeLatency.record(microseconds: ms * 1_000) }
        let bucket = StoredBucket(endpoint: "e", version: "m@v1", start: 1_000, width: 10, warmups: 1, warmupCostMicros: 3,
                                  probes: 4, probeErrors: 1, probeColdStarts: 1, probeLatency: probeLatency.encoded())
        var builder = LiveFigures.Builder(window: LiveWindow(start: 1_000, end: 1_060))
        try builder.add(bucket)
        let figures = builder.figuresNow()
        #expect(figures.requests == 0 && figures.errors == 0 && figures.coldStarts == 0 && figures.p99Milliseconds == nil, "not user traffic")
        #expect(figures.probes == 4 && figures.probeErrors == 1 && figures.probeColdStarts == 1 && figures.pings == 1)
        #expect(figures.availability == 0.75)
        #expect(abs((figures.probeP50Milliseconds ?? 0) - 110) <= 1 && abs((figures.probeP99Milliseconds ?? 0) - 3_000) <= 15)
        // A one-line view shows the probes' figures when there is no user traffic, and says so.
        let observed = figures.observed
        #expect(observed.fromProbes && observed.errorRate == 0.25 && observed.coldStarts == 1 && observed.p99Milliseconds == figures.probeP99Milliseconds)
        var withTraffic = figures
        withTraffic.requests = 3
        #expect(!withTraffic.observed.fromProbes && withTraffic.observed.p99Milliseconds == nil)
    }

    @Test func probesSurviveTheRegistryAndItsRollup() throws {
        defer { scratch.cleanUp() }
        let registry = try Registry(path: scratch.registryPath)
        let key = MetricBucket.Key(endpoint: "e", version: "m@v1", start: 1_000, width: 10)
        var bucket = MetricBucket()
        bucket.probes = 2
        bucket.probeErrors = 1
        bucket.probeColdStarts = 1
        bucket.probeLatency.record(microseconds: 50_000)
        bucket.probeLatency.record(microseconds: 70_000)
        try registry.merge([key: bucket, MetricBucket.Key(endpoint: "e", version: "m@v1", start: 1_010, width: 10): bucket])
        // Two 10-second buckets become one 1-minute bucket, every count kept.
        try registry.rollUpMetrics(now: Date(timeIntervalSince1970: 1_000 + 2 * 3_600), retentionDays: 30)
        let merged = try #require(try registry.bucket(at: MetricBucket.Key(endpoint: "e", version: "m@v1", start: 960, width: 60)))
        #expect(merged.probes == 4 && merged.probeErrors == 2 && merged.probeColdStarts == 2 && merged.probeLatency.count(microseconds: 0...UInt64.max) == 4)
        let live = try registry.liveFigures(window: LiveWindow(start: 960, end: 1_020))
        #expect(live["e"]?.total.availability == 0.5)
    }

    /// Google Cloud Run, request-based, tier 1 (https://cloud.google.com/run/pricing): $0.000024 per vCPU-second,
    /// $0.0000025 per GiB-second, $0.40 per million requests, billed time rounded up to 100 ms.
    @Test func cloudRunPricesVCPUAndMemoryTimeRoundedUpTo100Milliseconds() throws {
        let target = Target(name: "run", kind: .http, region: "us-central1",
                            config: ["url": "http://a", "price_as": "google-cloud-run", "cpu": "2"])
        let rates = try #require(try TargetPricing.rates(for: target, table: .standard))
        #expect(rates.granularityMilliseconds == 100 && rates.vcpus == 2)
        // 120 ms on 2 vCPU and 1 GiB is billed 200 ms: 2 × 0.2 × 0.000024 + 1 × 0.2 × 0.0000025 + 0.40 / 1M.
        let one = rates.cost(rates.usage(ofOneRunning: 120_000, memoryMB: 1_024))
        #expect(one == Decimal(string: "0.0000096")! + Decimal(string: "0.0000005")! + Decimal(string: "0.0000004")!)
        #expect(TargetPricing.label(of: target, table: .standard) == "google-cloud-run x86_64 us-central1")
        // Not priced without price_as: someone else's bill.
        #expect(try TargetPricing.rates(for: Target(name: "run", kind: .http, config: ["url": "http://a"]), table: .standard) == nil)
        // AWS platforms price no vCPU time apart: their cost is unchanged by a vCPU count.
        var lambda = try PriceTable.standard.invocationRates(platform: "aws-lambda", region: "us-east-1", architecture: "x86_64")
        let before = lambda.cost(lambda.usage(ofOneRunning: 120_000, memoryMB: 1_024))
        lambda.vcpus = 4
        #expect(lambda.cost(lambda.usage(ofOneRunning: 120_000, memoryMB: 1_024)) == before)
    }

    @Test func theExampleDeckReadsAndIsPricedAsCloudRun() throws {
        let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
        let deck = try DeckReader.read(path: repository + "/fixtures/decks/http.yaml", environment: ["RUN_TOKEN": "x"])
        let target = try #require(deck.targets.first?.value)
        #expect(target.kind == .http && HTTPProbe(target: target).method == "POST")
        #expect(TargetPricing.label(of: target, table: .standard) == "google-cloud-run x86_64 us-central1")
        #expect(deck.endpoints.first?.value.traffic == ["v1": 100])
    }
}
