import ArgumentParser

/// Every benchmark, one line each; a new benchmark is a file of its own plus its line here.
let benchmarks: [any ParsableCommand.Type] = [
    TUIFrameBenchmark.self,
    SimulateBenchmark.self,
    RollbackLatencyBenchmark.self,
    PingJitterBenchmark.self,
    RegistryGrowthBenchmark.self,
    NotifyLatencyBenchmark.self,
    GatewayBenchmark.self,
    GeneratorBenchmark.self,
    BucketWritesBenchmark.self,
]
