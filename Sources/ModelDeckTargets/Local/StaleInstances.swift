import Foundation
import ModelDeckCore

/// Model processes a previous gateway left behind.
///
/// The kernel's parent-death signal kills an instance's direct child when its gateway dies, even by
/// SIGKILL, but not what that child started (a shell's background job, a worker pool): those live on in
/// the instance's process group, holding ports, memory and GPUs. When a gateway starts, every group the
/// registry still lists whose leader is gone is killed — but only processes that carry the instance's own
/// `MODELDECK_INSTANCE` in their environment, so a pid the kernel has since handed to someone else is
/// never touched. A leader still alive belongs to a running gateway and is left alone.
public enum StaleInstances {
    /// Kills what is left of `recorded`; returns the pids it signalled.
    @discardableResult
    public static func stop(_ recorded: [RecordedInstance]) -> [Int32] {
        guard !recorded.isEmpty else { return [] }
        let groups = Dictionary(grouping: processes(), by: \.group)
        var killed: [Int32] = []
        for instance in recorded {
            let marker = "MODELDECK_INSTANCE=\(instance.id)"
            let members = (groups[instance.pid] ?? []).filter { environment(of: $0.pid).contains(marker) }
            // A live leader with this instance's marker: a gateway still runs it.
            if members.contains(where: { $0.pid == instance.pid }) { continue }
            for member in members where kill(member.pid, SIGKILL) == 0 { killed.append(member.pid) }
        }
        return killed
    }

    /// Every process's pid and process group, from /proc (the group is the 5th field of /proc/PID/stat,
    /// after the command name in parentheses, which may itself hold spaces and parentheses).
    static func processes() -> [(pid: Int32, group: Int32)] {
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return [] }
        return entries.compactMap { entry in
            guard let pid = Int32(entry),
                  let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")") else { return nil }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            guard fields.count > 2, let group = Int32(fields[2]) else { return nil }
            return (pid, group)
        }
    }

    static func environment(of pid: Int32) -> [String] {
        guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/environ") else { return [] }
        return data.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
    }
}
