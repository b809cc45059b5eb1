import Dispatch
import Synchronization

/// Wakes any number of sleeping tasks when something happened (a registry write, a recorded invocation, a
/// catalog reload), each sleeping until that or its own deadline, whichever comes first.
///
/// A count of signals stands for "something happened": a task remembers the count it last acted on and
/// waits for it to move, so a signal sent between two waits is never lost and none is consumed by another
/// waiter (the loops of a daemon share one). A wait also ends when its task is cancelled, so a loop that
/// sleeps until a far deadline still stops at once (ServiceLifecycle's graceful shutdown cancels it through
/// `cancelWhenGracefulShutdown`).
///
/// Swift's concurrency library has no timed wait on a condition, and an `AsyncStream` serves one consumer,
/// hence these few lines: waiters under a `Mutex`, deadlines on a dispatch timer.
public final class WakeSignal: Sendable {
    private struct State {
        var count: UInt64 = 0
        var nextWaiter: UInt64 = 0
        var waiters: [UInt64: CheckedContinuation<Bool, Never>] = [:]
    }

    private let state = Mutex(State())
    private let timers: DispatchQueue

    public init(label: String = "modeldeck.wake") {
        timers = DispatchQueue(label: label)
    }

    /// Signals so far; a waiter passes the count it last saw.
    public var count: UInt64 { state.withLock { $0.count } }

    /// Something happened: every waiter wakes.
    public func signal() {
        let woken = state.withLock { state -> [CheckedContinuation<Bool, Never>] in
            state.count &+= 1
            defer { state.waiters = [:] }
            return Array(state.waiters.values)
        }
        for waiter in woken { waiter.resume(returning: true) }
    }

    /// True as soon as the count differs from `seen` (at once when it already does); false at `deadline`
    /// (nil: none) or when the task is cancelled.
    public func wait(after seen: UInt64, until deadline: ContinuousClock.Instant?) async -> Bool {
        let id = state.withLock { state -> UInt64 in
            state.nextWaiter &+= 1
            return state.nextWaiter
        }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
                let signalled = state.withLock { state -> Bool in
                    if state.count != seen { return true }
                    state.waiters[id] = continuation
                    return false
                }
                if signalled { return continuation.resume(returning: true) }
                // Cancelled before the waiter was registered: the cancellation handler found nothing to end.
                if Task.isCancelled { return expire(id) }
                guard let deadline else { return }
                let left = ContinuousClock.now.duration(to: deadline)
                let (seconds, attoseconds) = left.components
                let nanoseconds = max(0, seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
                // A timer of its own with no leeway: `asyncAfter` lets a timer fire up to a tenth of its delay late
                // (libdispatch's default leeway), so a keep-warm loop sleeping 300 ms woke up to 30 ms after its
                // ping was due.
                let timer = DispatchSource.makeTimerSource(flags: .strict, queue: timers)
                timer.schedule(deadline: .now() + .nanoseconds(Int(clamping: nanoseconds)), leeway: .nanoseconds(0))
                timer.setEventHandler { [self] in
                    expire(id)
                    timer.cancel()
                }
                timer.resume()
            }
        } onCancel: {
            expire(id)
        }
    }

    /// Ends the wait `id` with false, if it still waits.
    private func expire(_ id: UInt64) {
        state.withLock { $0.waiters.removeValue(forKey: id) }?.resume(returning: false)
    }
}
