import Foundation

/// The file this process runs, with links resolved: what `modeldeck` finds `modeldeck-full` beside, and the
/// dashboard its `Themes` folder above.
public enum ProgramFile {
    /// `/proc/self/exe`'s target, else `fallback` (the first argument, as the process was started).
    public static func path(fallback: String = CommandLine.arguments.first ?? "") -> String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? fallback
    }
}
