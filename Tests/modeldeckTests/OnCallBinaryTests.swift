import Foundation
import ModelDeckCore
import Testing

/// `modeldeck` runs the on-call commands itself and hands every other command line to `modeldeck-full`
/// beside it (issue #20: a rollback should not pay for loading the daemon, the gateway and the drivers).
@Suite struct OnCallBinaryTests {
    @Test func aLoneModeldeckRunsTheOnCallCommandsAndNamesWhatItLacksForTheRest() throws {
        let scratch = Scratch()
        defer { scratch.cleanUp() }
        let registry = scratch.path + "/registry.sqlite"
        #expect(try CLI.run(["apply", "-f", "fixtures/decks/example.yaml", "--registry", registry]).status == 0)
        // `modeldeck` alone, without `modeldeck-full` beside it.
        try FileManager.default.createDirectory(atPath: scratch.path + "/bin", withIntermediateDirectories: true)
        let lone = scratch.path + "/bin/modeldeck"
        try FileManager.default.copyItem(atPath: CLI.binary, toPath: lone)

        let deployed = try CLI.run(["deploy", "sentiment", "v3", "--strategy", "all-at-once", "--reason", "lone", "--registry", registry],
                                   binary: lone)
        #expect(deployed.status == 0, "\(deployed.stderr)")
        let deploys = try Registry(path: registry, create: false).activeDeploys(endpoint: "sentiment")
        #expect(deploys.map(\.toVersion) == ["sentiment@v3"])
        let usage = try CLI.run(["rollback", "--registry", registry], binary: lone)
        #expect(usage.status == 64)
        #expect(usage.stderr == "Error: Missing expected argument '<endpoint>' (see modeldeck rollback --help)\n")

        let listed = try CLI.run(["get", "endpoints", "--registry", registry], binary: lone)
        #expect(listed.status == 0, "\(listed.stderr)")
        #expect(listed.stdout.contains("sentiment"))

        let rest = try CLI.run(["registry", "stats", "--registry", registry], binary: lone)
        #expect(rest.status == 127)
        #expect(rest.stdout.isEmpty)
        #expect(rest.stderr.contains("cannot run \(scratch.path)/bin/modeldeck-full"), "\(rest.stderr)")

        // Beside it, the whole program answers; also through a link from elsewhere (found beside the file itself).
        try FileManager.default.copyItem(atPath: CLI.binary + "-full", toPath: lone + "-full")
        let stats = try CLI.run(["registry", "stats", "--registry", registry], binary: lone)
        #expect(stats.status == 0, "\(stats.stderr)")
        #expect(stats.stdout.contains("metric_buckets"), "\(stats.stdout)")
        try FileManager.default.createSymbolicLink(atPath: scratch.path + "/modeldeck-link", withDestinationPath: lone)
        let linked = try CLI.run(["registry", "stats", "--registry", registry], binary: scratch.path + "/modeldeck-link")
        #expect(linked.status == 0, "\(linked.stderr)")

        // What makes it lean: the daemon's module is not linked in (its name is in the whole program's metadata).
        let marker = Data("ModelDeckDaemon".utf8)
        #expect(try Data(contentsOf: URL(fileURLWithPath: lone + "-full")).range(of: marker) != nil)
        #expect(try Data(contentsOf: URL(fileURLWithPath: lone)).range(of: marker) == nil)
        let typo = try CLI.run(["rolback", "sentiment"], binary: lone)
        #expect(typo.status == 2)
        #expect(typo.stderr.hasPrefix("unknown command 'rolback'; did you mean 'rollback'?"))
    }
}
