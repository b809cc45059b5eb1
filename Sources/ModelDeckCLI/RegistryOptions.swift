import ArgumentParser
import ModelDeckCore

/// `--registry PATH`, shared by every command that touches the registry.
public struct RegistryOptions: ParsableArguments {
    public init() {}

    @Option(name: .long, help: ArgumentHelp(
        "Registry file. Default: $MODELDECK_REGISTRY, else $XDG_STATE_HOME/modeldeck/registry.sqlite, else ~/.local/state/modeldeck/registry.sqlite.",
        valueName: "path"), completion: .file(extensions: ["sqlite"]))
    public var registry: String?

    public var path: String { RegistryLocation.resolve(explicit: registry) }

    /// Opens the registry; `create` is for commands that may make a new one (init, apply).
    public func open(create: Bool = false) throws -> Registry {
        try Registry(path: path, create: create)
    }
}

/// Shell completion for endpoint names, read from the default registry (never fails loudly).
public let endpointCompletion = CompletionKind.custom { _, _, _ in
    guard let registry = try? Registry(path: RegistryLocation.resolve(explicit: nil), create: false),
          let names = try? registry.endpointNames()
    else { return [] }
    return names
}
