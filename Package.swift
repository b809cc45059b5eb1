// swift-tools-version:6.1
import PackageDescription

// Linux only: CProcessSpawn sets a parent-death signal with prctl(PR_SET_PDEATHSIG) from <sys/prctl.h>, which
// only Linux has, so no other platform is declared.
//
// Modules follow the architecture (README.md, "Layout"):
//   ModelDeckCore    – domain types, the SQLite registry, pure decision code (fit check, routing, …)
//   ModelDeckTargets – target drivers (local runtime, AWS); only the daemon imports them
//   ModelDeckDaemon  – the control loop that acts on intents
//   ModelDeckTUI     – the ncurses dashboard, drawing into a testable screen abstraction
//   CNcurses         – the ncursesw C surface, behind ModelDeckTUI's small wrapper
//   ModelDeckCLI     – the on-call commands (rollback, deploy, abort…) and what every command shares
//   modeldeck        – the executable people type: runs the on-call commands, hands the rest to modeldeck-full
//   modeldeck-full   – the whole program: every command, the daemon, the TUI
let package = Package(
    name: "ModelDeck",
    products: [
        .executable(name: "modeldeck", targets: ["modeldeck"]),
        .executable(name: "modeldeck-full", targets: ["modeldeck-full"]),
        .executable(name: "modeldeck-bench", targets: ["modeldeck-bench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "4.5.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.2.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        // Heap (HeapModule): the simulators' priority queues and the keep-warm loop's wake times.
        .package(url: "https://github.com/apple/swift-collections", from: "1.6.0"),
        // Test clocks for the daemon's loops (their pacing without waiting for it).
        .package(url: "https://github.com/pointfreeco/swift-clocks", from: "1.1.1"),
    ],
    targets: [
        .systemLibrary(
            name: "CNcurses",
            pkgConfig: "ncursesw",
            providers: [.apt(["libncurses-dev"])]
        ),
        .target(
            name: "ModelDeckCore",
            dependencies: [
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
                .product(name: "HeapModule", package: "swift-collections"),
            ]
        ),
        // fork/exec with a parent-death signal and its own process group: Foundation's Process and
        // posix_spawn cannot set PR_SET_PDEATHSIG, which is what keeps instances from outliving a killed gateway.
        .target(name: "CProcessSpawn"),
        .target(
            name: "ModelDeckTargets",
            dependencies: [
                "ModelDeckCore", "CProcessSpawn",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        .target(
            name: "ModelDeckDaemon",
            dependencies: [
                "ModelDeckCore", "ModelDeckTargets",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "HeapModule", package: "swift-collections"),
            ]
        ),
        .target(
            name: "ModelDeckTUI",
            dependencies: [
                "ModelDeckCore", "CNcurses",
                .product(name: "Yams", package: "Yams"),
            ]
        ),
        // The on-call commands, without the daemon, the drivers or the dashboard (see Sources/modeldeck/main.swift).
        .target(
            name: "ModelDeckCLI",
            dependencies: [
                "ModelDeckCore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Not depending on `modeldeck-full`: SwiftPM would link everything that one depends on into this one.
        // `swift build` builds both.
        .executableTarget(
            name: "modeldeck",
            dependencies: [
                "ModelDeckCLI", "ModelDeckCore",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "modeldeck-full",
            dependencies: [
                "ModelDeckCLI", "ModelDeckCore", "ModelDeckDaemon", "ModelDeckTUI",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Benchmarks that print figures (tests never assert wall-clock times): `swift run -c release modeldeck-bench …`.
        .executableTarget(
            name: "modeldeck-bench",
            dependencies: [
                "ModelDeckCore", "ModelDeckTargets", "ModelDeckDaemon", "ModelDeckTUI",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        .testTarget(name: "ModelDeckCoreTests", dependencies: ["ModelDeckCore"]),
        // What the AWS tests share: moto's server on loopback, and a fault server for what moto cannot do.
        .target(name: "ModelDeckTestSupport", dependencies: [
            "ModelDeckTargets",
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "HTTPTypes", package: "swift-http-types"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ], path: "Tests/ModelDeckTestSupport"),
        .testTarget(name: "ModelDeckTargetsTests", dependencies: [
            "ModelDeckTargets", "ModelDeckTestSupport",
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "HTTPTypes", package: "swift-http-types"),
            .product(name: "NIOCore", package: "swift-nio"),
        ]),
        .testTarget(name: "ModelDeckDaemonTests", dependencies: [
            "ModelDeckDaemon", "ModelDeckCore", "ModelDeckTargets",
            .product(name: "Clocks", package: "swift-clocks"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .testTarget(name: "ModelDeckTUITests", dependencies: ["ModelDeckTUI"]),
        // Runs the real `modeldeck` binaries as separate processes; depending on them makes `swift test` build them.
        .testTarget(name: "modeldeckTests", dependencies: [
            "modeldeck", "modeldeck-full", "ModelDeckCore", "ModelDeckTargets", "ModelDeckTUI", "ModelDeckTestSupport",
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "HTTPTypes", package: "swift-http-types"),
            .product(name: "NIOCore", package: "swift-nio"),
        ]),
    ],
    swiftLanguageModes: [.v6]
)
