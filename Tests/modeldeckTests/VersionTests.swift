import Foundation
import GRDB
import ModelDeckCore
import Testing

struct VersionTests {
    /// `modeldeck --version` says which ModelDeck this is and which registry schema it speaks: the name of
    /// the last migration, the one a registry it creates is at.
    @Test func versionPrintsTheReleaseAndTheRegistrySchemaItSpeaks() throws {
        let result = try CLI.run(["--version"])
        #expect(result.status == 0, "\(result.stderr)")
        let line = result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(line == "modeldeck \(ModelDeckRelease.version) (registry schema \"\(ModelDeckRelease.registrySchema)\")")
        #expect(ModelDeckRelease.registrySchema.hasPrefix("20"), "a migration's name, not 'none'")

        // The schema it names is the one a registry it creates ends up at.
        let scratch = Scratch()
        defer { scratch.cleanUp() }
        #expect(try CLI.run(["init", "--registry", scratch.registry]).status == 0)
        let applied = try Registry(path: scratch.registry).read { db in
            try Migrations.migrator.appliedMigrations(db)
        }
        #expect(applied.last == ModelDeckRelease.registrySchema)
    }
}
