import Testing
@testable import ModelDeckCore

struct DeploymentStrategyTests {
    @Test func strategiesParseAndPrintBack() throws {
        #expect(try DeploymentStrategy(parsing: "all-at-once") == .allAtOnce)
        #expect(try DeploymentStrategy(parsing: "canary:10%:5m") == .canary(percent: 10, intervalSeconds: 300))
        #expect(try DeploymentStrategy(parsing: "linear:25%:1m") == .linear(percent: 25, intervalSeconds: 60))
        for text in ["all-at-once", "canary:10%:5m", "linear:25%:1m"] {
            #expect(try DeploymentStrategy(parsing: text).description == text)
        }
    }

    @Test func stepsEndAtOneHundred() throws {
        #expect(DeploymentStrategy.allAtOnce.steps == [100])
        #expect(DeploymentStrategy.canary(percent: 10, intervalSeconds: 60).steps == [10, 100])
        #expect(DeploymentStrategy.linear(percent: 30, intervalSeconds: 60).steps == [30, 60, 90, 100])
        #expect(DeploymentStrategy.linear(percent: 25, intervalSeconds: 60).steps == [25, 50, 75, 100])
    }

    @Test(arguments: ["canary", "canary:10:5m", "canary:0%:5m", "canary:100%:5m", "linear:10%:fast", "blue-green",
                      "canary:10%:0s", "all-at-once:now"])
    func malformedStrategiesAreRefused(_ text: String) {
        #expect(throws: ModelDeckError.self) { try DeploymentStrategy(parsing: text) }
    }

    @Test func trafficMustSumToOneHundred() throws {
        #expect(throws: ModelDeckError("endpoint 'e': traffic weights sum to 95, they must sum to 100 (a=90, b=5)")) {
            try TrafficSplit(["a": 90, "b": 5], endpoint: "e")
        }
        #expect(throws: ModelDeckError.self) { try TrafficSplit(["a": 120, "b": -20], endpoint: "e") }
        let split = try TrafficSplit(["a": 90, "b": 10, "c": 0], endpoint: "e")
        #expect(split.weights == ["a": 90, "b": 10])
        #expect(split.primary == "a")
        #expect(split.summary == "a 90%, b 10%")
    }
}
