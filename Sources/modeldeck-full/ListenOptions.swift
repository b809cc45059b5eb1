import ArgumentParser
import ModelDeckCLI
import ModelDeckCore
import ModelDeckDaemon

/// Where the local target's gateway listens: `serve` and `daemon` take the same options.
struct ListenOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Local target whose gateway to run (needed when the registry has several).", valueName: "name"))
    var target: String?

    @Option(help: ArgumentHelp("Address to listen on (default: the target's host, else 127.0.0.1).", valueName: "host"))
    var host: String?

    @Option(help: ArgumentHelp("Port to listen on (default: the target's port, else 8765; 0 picks a free one).", valueName: "port"))
    var port: Int?

    var isSet: Bool { target != nil || host != nil || port != nil }

    func resolve(_ registry: Registry) throws -> LocalTargetHost.Listen {
        let targets = try registry.targets()
        return try LocalTargetHost.choose(from: targets, named: target, host: host, port: port)
    }
}
