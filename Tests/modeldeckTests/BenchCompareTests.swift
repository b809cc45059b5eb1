import Foundation
import ModelDeckTestSupport
import Testing

/// `bench compare` for one model on the local target and on Lambda (moto): the seeds' table, with a cost column
/// that is what `cost estimate` says for the same duration and memory.
@Suite(.serialized) struct BenchCompareTests {
    struct Row: Decodable {
        var endpoint: String
        var targetKind: String
        var warmP99Ms: Double?
        var coldMs: Double?
        var durationMs: Int64?
        var memoryMb: Int
        var perMillionMicros: Int64?
    }

    /// moto's endpoint and its test credentials, with a scratch HOME (no profile files of the machine's).
    static func motoEnvironment(_ scratch: Scratch) async throws -> [String: String] {
        ["AWS_ENDPOINT_URL": try await Moto.shared.baseURL(), "AWS_ACCESS_KEY_ID": "AKIDMODELDECKTEST",
         "AWS_SECRET_ACCESS_KEY": "modeldeck-test-secret", "AWS_REGION": "us-east-1", "HOME": scratch.path]
    }

    struct Estimate: Decodable {
        struct Line: Decodable { var platform: String; var option: String; var perDayMicros: Int64? }
        var rows: [Line]
    }

    @Test func compareOnLocalAndLambdaPricesAsCostEstimateDoes() async throws {
        let scratch = Scratch()
        defer { scratch.cleanUp() }
        let model = CLI.repository + "/fixtures/models/sentiment"
        let role = try await Moto.shared.lambdaRole()
        let prefix = "md\(UUID().uuidString.prefix(6).lowercased())-"
        let deck = scratch.file("deck.yaml", """
        apiVersion: modeldeck/v1
        targets:
          - {name: local, kind: local, price_as: aws-lambda, region: eu-central-1}
          - {name: aws, kind: aws-lambda, region: us-east-1, role_arn: '\(role)', function_prefix: \(prefix)}
        models:
          - name: sentiment
            versions:
              - version: v1
                artifact: \(model)/weights-v1.json
                command: [python3, server.py]
                workdir: \(model)
                memory: 256MB
        endpoints:
          - {name: on-local, model: sentiment, target: local, memory: 512MB, traffic: {v1: 100}}
          - {name: on-lambda, model: sentiment, target: aws, memory: 1GB}

        """)
        #expect(try CLI.run(["apply", "-f", deck, "--registry", scratch.registry]).status == 0)
        let environment = try await Self.motoEnvironment(scratch)
        let daemon = try BackgroundCommand("daemon", registry: scratch.registry, environment: environment)
        defer { daemon.stop() }
        #expect(try CLI.run(["deploy", "on-lambda", "v1", "--bake", "0s", "--registry", scratch.registry]).status == 0)
        #expect(try await waitUntil(60) { try deploymentState(scratch.registry, id: 1)?.state == "succeeded" })

        let phases = ["--rate", "5/s", "--duration", "2s", "--ramp", "1..6/s:1s", "--idle-gaps", "200ms"]
        let local = try CLI.run(["bench", "on-local", "--gateway", "http://127.0.0.1:\(daemon.port)"] + phases + ["--registry", scratch.registry])
        #expect(local.status == 0, "\(local.stderr)")
        let lambda = try CLI.run(["bench", "on-lambda"] + phases + ["--registry", scratch.registry], environment: environment)
        #expect(lambda.status == 0, "\(lambda.stderr)")
        #expect(lambda.stdout.contains("moto"), "the Lambda run says its figures are a stand-in's: \(lambda.stdout)")

        let table = try CLI.run(["bench", "compare", "on-local", "on-lambda", "--registry", scratch.registry])
        #expect(table.status == 0, "\(table.stderr)")
        for header in ["WARM P50", "WARM P95", "WARM P99", "COLD", "TIME TO SCALE", "COLD AFTER 200MS", "$ PER 1M"] {
            #expect(table.stdout.contains(header), "\(table.stdout)")
        }
        let compared = try CLI.run(["bench", "compare", "on-local", "on-lambda", "-o", "json", "--registry", scratch.registry])
        let rows = try BenchTests.decode([Row].self, compared.stdout)
        #expect(rows.map(\.endpoint) == ["on-local", "on-lambda"])
        #expect(rows.map(\.targetKind) == ["local", "aws-lambda"])
        for (row, region) in zip(rows, ["eu-central-1", "us-east-1"]) {
            let duration = try #require(row.durationMs)
            let price = try #require(row.perMillionMicros)
            let estimate = try CLI.run(["cost", "estimate", "--requests", "1000000/day", "--duration", "\(duration)ms",
                                        "--memory", "\(row.memoryMb)", "--region", region, "-o", "json"])
            #expect(estimate.status == 0, "\(estimate.stderr)")
            let lambdaRow = try BenchTests.decode(Estimate.self, estimate.stdout).rows.first { $0.platform == "aws-lambda" && $0.option == "on demand" }
            #expect(lambdaRow?.perDayMicros == price, "\(row.endpoint): bench compare \(price) µ$, cost estimate \(String(describing: lambdaRow))")
        }
    }

    @Test func sageMakerServerlessRunsThePhasesAndSaysItCannotBeMadeCold() async throws {
        let scratch = Scratch()
        defer { scratch.cleanUp() }
        let prefix = "md\(UUID().uuidString.prefix(6).lowercased())"
        let deck = scratch.file("deck.yaml", """
        targets:
          - {name: local, kind: local}
          - {name: sm, kind: sagemaker-serverless, region: us-east-1, execution_role_arn: 'arn:aws:iam::123456789012:role/modeldeck-sagemaker', endpoint_prefix: \(prefix)}
        models:
          - name: scorer
            versions:
              - {version: v1, image: 123456789012.dkr.ecr.us-east-1.amazonaws.com/scorer:v1, digest: 'sha256:\(String(repeating: "1", count: 64))', size: 300MB, memory: 1GB}
        endpoints:
          - {name: scoring, model: scorer, target: sm, memory: 2GB, max_instances: 4}
        """)
        #expect(try CLI.run(["apply", "-f", deck, "--registry", scratch.registry]).status == 0)
        let environment = try await Self.motoEnvironment(scratch)
        let daemon = try BackgroundCommand("daemon", registry: scratch.registry, environment: environment)
        defer { daemon.stop() }
        #expect(try CLI.run(["deploy", "scoring", "v1", "--bake", "0s", "--registry", scratch.registry]).status == 0)
        #expect(try await waitUntil(60) { try deploymentState(scratch.registry, id: 1)?.state == "succeeded" })

        let result = try CLI.run(["bench", "scoring", "--rate", "5/s", "--duration", "1s", "--ramp", "1..5/s:1s", "--idle-gaps", "100ms",
                                  "-o", "json", "--registry", scratch.registry], environment: environment)
        #expect(result.status == 0, "\(result.stderr)")
        struct Run: Decodable {
            struct Figures: Decodable { var warm: BenchTests.Run.Latency?; var notes: [String]; var costMicros: Int64 }
            var figures: Figures
        }
        let run = try BenchTests.decode(Run.self, result.stdout)
        #expect(run.figures.warm?.requests == 5)
        #expect(run.figures.warm?.errors == 0)
        #expect(run.figures.notes.contains { $0.contains("cannot be made cold on demand") }, "\(run.figures.notes)")
        #expect(run.figures.notes.contains { $0.contains("moto") })
        #expect(run.figures.costMicros > 0, "priced at SageMaker serverless's GB-second price")
    }
}
