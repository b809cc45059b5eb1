import Foundation
import ModelDeckCore
import Synchronization

/// How bench requests reach a target: one request, timed by the runner, answered with what the target says
/// about it (status, cold start, instance, the cold start's split).
public protocol BenchTransport: Sendable {
    /// Whether this target can be made cold on demand (the local gateway stops the version's idle instances;
    /// Lambda takes a configuration change). When false the cold phase says so.
    var canForceCold: Bool { get }
    /// Sends one request; `cold` asks the target to make the version cold first. Never throws: no answer is
    /// status 0.
    func send(cold: Bool) async -> BenchAnswer
    /// What the figures of this transport are (a stand-in's, moto's), for the run's notes.
    var notes: [String] { get }
}

/// What the target answered to one bench request.
public struct BenchAnswer: Sendable {
    public var status: Int
    public var coldStart: Bool
    public var instance: String?
    public var processStartMs: Int?
    public var modelLoadMs: Int?

    public init(status: Int, coldStart: Bool = false, instance: String? = nil, processStartMs: Int? = nil, modelLoadMs: Int? = nil) {
        self.status = status
        self.coldStart = coldStart
        self.instance = instance
        self.processStartMs = processStartMs
        self.modelLoadMs = modelLoadMs
    }
}

/// Where a run is, for a progress bar.
public struct BenchProgress: Sendable {
    public var phase: BenchPlan.Phase
    /// 0…1 of the phase.
    public var fraction: Double
    public var sent: Int
}

/// Asks a running bench to stop (Ctrl-C): no new request leaves, those in flight finish, and what was measured
/// is kept (the run is stored as partial).
public final class BenchStop: Sendable {
    private let stopped = Atomic<Bool>(false)
    public init() {}
    public func stop() { stopped.store(true, ordering: .relaxed) }
    public var isStopped: Bool { stopped.load(ordering: .relaxed) }
}

/// Runs a bench plan's phases against one transport: open-loop arrivals (`OpenLoopSchedule`: due times fixed in
/// advance, never waiting for answers), latency measured from each request's due time.
public struct BenchRunner: Sendable {
    public var plan: BenchPlan
    public var transport: any BenchTransport
    public var stop: BenchStop
    public var progress: @Sendable (BenchProgress) -> Void

    public init(plan: BenchPlan, transport: any BenchTransport, stop: BenchStop = BenchStop(),
                progress: @escaping @Sendable (BenchProgress) -> Void = { _ in }) {
        self.plan = plan
        self.transport = transport
        self.stop = stop
        self.progress = progress
    }

    /// Every phase of the plan, in order; the figures of the phases that ran, every sample (for pricing), and
    /// whether the run was cut short.
    public func run() async -> (figures: BenchFigures, samples: [BenchSample], partial: Bool) {
        var figures = BenchFigures()
        figures.notes = transport.notes
        var all: [BenchSample] = []
        var partial = false
        for phase in plan.phases {
            if stop.isStopped { partial = true; break }
            switch phase {
            case .cold:
                let samples = await open(phase, schedule: [.zero], cold: true)
                if let first = samples.first { figures.cold = .init(first) }
                if !transport.canForceCold {
                    figures.notes.append("this target cannot be made cold on demand: the cold figure is the first request as it found the target")
                }
                all += samples
            case .warm:
                let samples = await open(phase, schedule: OpenLoopSchedule.fixed(rate: plan.rate, durationMs: plan.durationMs))
                if !samples.isEmpty { figures.warm = .init(samples) }
                all += samples
            case .scale:
                let samples = await open(phase, schedule: OpenLoopSchedule.ramp(plan.ramp))
                if !samples.isEmpty {
                    figures.scale = ScaleAnalysis.figures(samples, ramp: plan.ramp, referenceP99Ms: figures.warm?.p99Ms,
                                                          multiple: plan.p99Multiple)
                }
                all += samples
            case .lukeWarm:
                var curve: [BenchFigures.LukeWarm] = []
                for (index, gap) in plan.idleGapsMs.enumerated() {
                    if stop.isStopped { break }
                    // A warm instance first, then the gap, then the first requests all at once.
                    let warmer = await open(phase, schedule: [.zero])
                    all += warmer
                    guard await idle(.milliseconds(gap), phase: phase, done: Double(index) / Double(plan.idleGapsMs.count)) else { break }
                    let firsts = await open(phase, schedule: Array(repeating: .zero, count: max(1, plan.lukeWarmRequests)))
                    all += firsts
                    curve.append(.init(gapMs: gap, samples: firsts))
                }
                if !curve.isEmpty { figures.lukeWarm = curve }
            }
        }
        if stop.isStopped { partial = true }
        figures.requests = all.count
        return (figures, all, partial)
    }

    /// Sends one request at each due time of `schedule` (offsets from now) without waiting for answers, and
    /// returns every answered or failed request, in due order. Stops scheduling when asked to stop; requests
    /// in flight finish.
    func open(_ phase: BenchPlan.Phase, schedule: [Duration], cold: Bool = false) async -> [BenchSample] {
        let clock = ContinuousClock()
        let start = clock.now
        let total = schedule.last ?? .zero
        let transport = self.transport
        return await withTaskGroup(of: BenchSample.self) { group in
            var sent = 0
            for due in schedule {
                if stop.isStopped { break }
                let deadline = start + due
                if deadline > clock.now { try? await clock.sleep(until: deadline, tolerance: .zero) }
                if stop.isStopped { break }
                group.addTask {
                    let left = clock.now
                    let answer = await transport.send(cold: cold)
                    let done = clock.now
                    return BenchSample(due: due, latencyMicroseconds: Self.micros(done - deadline),
                                       latenessMicroseconds: Self.micros(left - deadline), status: answer.status,
                                       coldStart: answer.coldStart, instance: answer.instance,
                                       processStartMs: answer.processStartMs, modelLoadMs: answer.modelLoadMs)
                }
                sent += 1
                if sent % 50 == 1 { progress(BenchProgress(phase: phase, fraction: total > .zero ? due / total : 1, sent: sent)) }
            }
            var samples: [BenchSample] = []
            for await sample in group { samples.append(sample) }
            progress(BenchProgress(phase: phase, fraction: 1, sent: sent))
            return samples.sorted { $0.due < $1.due }
        }
    }

    /// Waits `gap` in short steps so a stop is noticed; false when stopped.
    func idle(_ gap: Duration, phase: BenchPlan.Phase, done: Double) async -> Bool {
        let clock = ContinuousClock()
        let end = clock.now + gap
        while clock.now < end {
            if stop.isStopped { return false }
            try? await clock.sleep(until: min(end, clock.now + .milliseconds(100)), tolerance: .zero)
        }
        progress(BenchProgress(phase: phase, fraction: done, sent: 0))
        return !stop.isStopped
    }

    static func micros(_ duration: Duration) -> UInt64 {
        let (seconds, attoseconds) = duration.components
        return UInt64(max(0, seconds * 1_000_000 + attoseconds / 1_000_000_000_000))
    }
}
