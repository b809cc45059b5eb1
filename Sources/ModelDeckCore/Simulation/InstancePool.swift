import Foundation
import HeapModule

/// One endpoint's instances on the simulated target: one request at a time each; a request takes the most
/// recently idle warm instance, else starts one; an instance idle for the idle timeout stops. Times in µs.
struct InstancePool {
    let idleTimeout: Int64
    let coldStart: Int64
    /// Instances serving something, soonest free first.
    private var busy = Heap<Busy>()
    /// Idle instances as (idle since, started at), oldest first; requests take the newest.
    private var idle: [(since: Int64, started: Int64)] = []
    private var idleHead = 0

    init(idleTimeout: Int64, coldStart: Int64) {
        self.idleTimeout = idleTimeout
        self.coldStart = coldStart
    }

    /// A busy instance: until when, and when it started; ordered by `until`, then `started`.
    private struct Busy: Comparable {
        var until: Int64
        var started: Int64

        static func < (a: Busy, b: Busy) -> Bool { (a.until, a.started) < (b.until, b.started) }
    }

    var busyCount: Int { busy.count }
    func allBusyEnd(at until: Int64) -> Bool { busy.unordered.allSatisfy { $0.until == until } }
    /// Every busy instance busy until `until` instead (they all end together).
    mutating func moveAllBusy(until: Int64) {
        busy = Heap(busy.unordered.map { Busy(until: until, started: $0.started) })
    }

    /// Takes a warm instance or starts one; returns whether it was a cold start. The lifetimes of instances
    /// found stopped are added to `alive`.
    mutating func acquire(at time: Int64, running duration: Int64, alive: inout Int64) -> Bool {
        release(until: time)
        // Instances idle for the whole timeout have stopped.
        while idleHead < idle.count, idle[idleHead].since + idleTimeout <= time {
            alive += lifetime(idle[idleHead], until: .max)
            idleHead += 1
        }
        if idleHead > 4_096 && idleHead * 2 > idle.count {
            idle.removeFirst(idleHead)
            idleHead = 0
        }
        if idleHead < idle.count {
            let instance = idle.removeLast()
            busy.insert(Busy(until: time + duration, started: instance.started))
            return false
        }
        busy.insert(Busy(until: time + coldStart + duration, started: time))
        return true
    }

    /// Adds the lifetimes of every instance, up to `end`, to `alive`.
    mutating func finish(at end: Int64, alive: inout Int64) {
        release(until: Int64.max)
        for instance in idle[idleHead...] { alive += lifetime(instance, until: end) }
    }

    /// Instances whose work ended by `time` become idle (in order, so `idle` stays sorted).
    private mutating func release(until time: Int64) {
        while let top = busy.min, top.until <= time {
            busy.removeMin()
            idle.append((top.until, top.started))
        }
    }

    /// Microseconds an idle instance was alive, from its start until it stopped or `end`.
    private func lifetime(_ instance: (since: Int64, started: Int64), until end: Int64) -> Int64 {
        max(0, min(instance.since + idleTimeout, end) - instance.started)
    }
}

extension Int64 {
    func roundedUp(to step: Int64) -> Int64 { (self + step - 1) / step * step }
}
