/// Which ModelDeck this is, and which registry schema it speaks: `modeldeck --version` prints both, and the
/// daemon writes the version into its heartbeat row.
public enum ModelDeckRelease {
    public static let version = "0.1.0"

    /// The name of the last migration this build knows (`Migrations`): a registry migrated by it has this schema.
    public static var registrySchema: String { Migrations.names.last ?? "none" }

    /// `modeldeck 0.1.0 (registry schema "2026-11-30 …")`.
    public static var versionLine: String { "modeldeck \(version) (registry schema \"\(registrySchema)\")" }
}
