import Foundation

/// Where the registry lives: `--registry PATH`, else `$MODELDECK_REGISTRY`, else
/// `$XDG_STATE_HOME/modeldeck/registry.sqlite`, else `~/.local/state/modeldeck/registry.sqlite`.
public enum RegistryLocation {
    public static func resolve(explicit: String?, environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        if let explicit, !explicit.isEmpty { return expandTilde(explicit, environment: environment) }
        if let fromEnv = environment["MODELDECK_REGISTRY"], !fromEnv.isEmpty { return expandTilde(fromEnv, environment: environment) }
        if let state = environment["XDG_STATE_HOME"], state.hasPrefix("/") {
            return state + "/modeldeck/registry.sqlite"
        }
        let home = environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory()
        return home + "/.local/state/modeldeck/registry.sqlite"
    }

    private static func expandTilde(_ path: String, environment: [String: String]) -> String {
        guard path == "~" || path.hasPrefix("~/") else { return path }
        let home = environment["HOME"] ?? NSHomeDirectory()
        return home + path.dropFirst()
    }
}

extension RegistryLocation {
    public static func exists(_ path: String) -> Bool { FileManager.default.fileExists(atPath: path) }
}
