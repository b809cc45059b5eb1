import ModelDeckCore

/// The environment a model process gets: an allowlist, never the daemon's own environment minus a few
/// names. The daemon may hold `MODELDECK_API_TOKEN`, cloud credentials and whatever else its operator
/// exported; a model is code from a deck and sees only what it needs.
public enum ModelEnvironment {
    /// Inherited as they are: where programs are, and how text, dates and times are shown.
    public static let inheritedNames: Set<String> = ["PATH", "LANG", "LANGUAGE", "TZ"]

    /// `PORT` (the Cloud Run / Knative contract), `HOST`, `MODEL_ARTIFACT`, `MODEL_VERSION`,
    /// `MODELDECK_ENDPOINT`, `MODELDECK_INSTANCE`, a private `TMPDIR` (also `TMP`, `TEMP`), and from
    /// `inherited` only `PATH`, the locale (`LANG`, `LANGUAGE`, `LC_*`) and `TZ`; plus the version's own `env:`.
    public static func make(inherited: [String: String], port: Int, version: ModelVersion, endpoint: String,
                            instance: String, temporaryDirectory: String) -> [String: String] {
        var environment = inherited.filter { inheritedNames.contains($0.key) || $0.key.hasPrefix("LC_") }
        // What the version declares in its deck; the contract's names below always win.
        environment.merge(version.environment ?? [:]) { _, declared in declared }
        if environment["PATH"] == nil { environment["PATH"] = "/usr/local/bin:/usr/bin:/bin" }
        environment["PORT"] = "\(port)"
        environment["HOST"] = "127.0.0.1"
        environment["MODEL_VERSION"] = version.version
        if let artifact = version.artifact { environment["MODEL_ARTIFACT"] = artifact }
        environment["MODELDECK_ENDPOINT"] = endpoint
        environment["MODELDECK_INSTANCE"] = instance
        for name in ["TMPDIR", "TMP", "TEMP"] { environment[name] = temporaryDirectory }
        return environment
    }
}
