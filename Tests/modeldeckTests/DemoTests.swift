import Foundation
import Testing

/// The README's main job, as a newcomer runs it (the quick timing, same story).
@Suite(.serialized)
struct DemoTests {
    @Test func theDemoRollsBackTheBadCanaryAndPromotesTheGoodOne() throws {
        let result = try CLI.run(["demo", "--quick"])
        #expect(result.status == 0, "\(result.stdout)\n\(result.stderr)")
        #expect(result.stdout.contains("✔ v2 was rolled back automatically: sentiment@v2 error rate"))
        #expect(result.stdout.contains("✔ v3 was promoted"))
        #expect(result.stdout.contains("daemon  deploy.alarm"))
        // It used a temporary folder, the one it reports, removed it, and left nothing running: no process
        // (a model server, whose logs are in that folder) still has a file of it open.
        let reported = result.stdout.split(separator: "\n").first { $0.hasPrefix("demo folder: ") }
        let folder = try #require(reported.map { String($0.dropFirst("demo folder: ".count)) })
        #expect(folder.count > 1 && folder.hasPrefix("/"))
        // A folder from mkdtemp (modeldeck-demo.XXXXXX), not a name another user could guess and plant (modeldeck-demo-<pid>).
        #expect(URL(fileURLWithPath: folder).lastPathComponent.hasPrefix("modeldeck-demo."), "\(folder)")
        #expect(!FileManager.default.fileExists(atPath: folder), "the demo left \(folder)")
        let leftovers = try CLI.run(["get", "endpoints", "--registry", folder + "/registry.sqlite"])
        #expect(leftovers.status != 0)
        #expect(Self.processesWithFilesOpen(under: folder) == [], "still running with files in \(folder)")
    }

    @Test func aMissingDeckIsOneClearLine() throws {
        let result = try CLI.run(["demo", "--deck", "no/such/deck.yaml"])
        #expect(result.status != 0)
        #expect(result.stderr == "Error: deck no/such/deck.yaml not found; run the demo from the ModelDeck folder or pass --deck PATH\n")
    }

    /// Pids of processes (this user's, those /proc lets us read) with a file under `folder` open, deleted or not.
    static func processesWithFilesOpen(under folder: String) -> [Int32] {
        let files = FileManager.default
        let pids = ((try? files.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap(Int32.init)
        return pids.filter { pid in
            let fds = (try? files.contentsOfDirectory(atPath: "/proc/\(pid)/fd")) ?? []
            return fds.contains { fd in
                (try? files.destinationOfSymbolicLink(atPath: "/proc/\(pid)/fd/\(fd)"))?.hasPrefix(folder + "/") == true
            }
        }
    }
}
