import Testing
@testable import ModelDeckTargets

/// The runtime's request slots: what a request may take without the runtime actor, and what it must leave to it.
struct InstanceSlotsTests {
    private func slots(_ instances: [(id: String, version: String, max: Int)], ready: Bool = true) -> InstanceSlots {
        let slots = InstanceSlots()
        for (index, instance) in instances.enumerated() {
            slots.insert(id: instance.id, endpoint: "e", version: instance.version, port: 9_000 + index, maxConcurrency: instance.max)
            if ready { slots.update(instance.id) { $0.ready = true } }
        }
        return slots
    }

    @Test func aRequestTakesTheLeastBusyReadyInstanceOfItsVersionUntilAllAreFull() {
        let slots = slots([("a", "v1", 2), ("b", "v1", 2), ("c", "v2", 2)])
        let first = slots.take(endpoint: "e", version: "v1")
        let second = slots.take(endpoint: "e", version: "v1")
        #expect(Set([first?.instanceID, second?.instanceID]) == ["a", "b"])
        #expect(second?.inFlight == 2)
        #expect(second?.coldStart == false)
        #expect(slots.take(endpoint: "e", version: "v1") != nil)
        #expect(slots.take(endpoint: "e", version: "v1")?.inFlight == 4)
        #expect(slots.take(endpoint: "e", version: "v1") == nil)
        #expect(slots.take(endpoint: "e", version: "v2")?.instanceID == "c")
        #expect(slots.take(endpoint: "other", version: "v1") == nil)
    }

    @Test func anInstanceStillStartingTakesNoRequest() {
        let slots = slots([("a", "v1", 4)], ready: false)
        #expect(slots.take(endpoint: "e", version: "v1") == nil)
        slots.update("a") { $0.ready = true }
        #expect(slots.take(endpoint: "e", version: "v1")?.port == 9_000)
    }

    @Test func aReleaseSaysWhenTheActorMustHandTheSlotToAQueuedRequest() {
        let slots = slots([("a", "v1", 1)])
        let lease = slots.take(endpoint: "e", version: "v1")!
        // Full: the request is counted as queued in the same step.
        #expect(slots.takeOrQueue(endpoint: "e", version: "v1") == nil)
        #expect(slots.release(lease) == true)
        #expect(slots.take(instance: "a")?.instanceID == "a")
        slots.dequeued(endpoint: "e")
        #expect(slots.release(lease) == false)
        #expect(slots["a"]?.inFlight == 0)
        #expect(slots["a"]?.lastUsedAt != nil)
    }

    @Test func aFreeSlotIsTakenRatherThanQueuedFor() {
        let slots = slots([("a", "v1", 1)])
        #expect(slots.takeOrQueue(endpoint: "e", version: "v1")?.instanceID == "a")
        let other = slots.take(endpoint: "e", version: "v1")
        #expect(other == nil)
        #expect(slots.release(Lease(instanceID: "a", endpoint: "e", version: "v1", port: 9_000, coldStart: false, inFlight: 1)) == false)
    }

    @Test func aReleaseOnAnInstanceThatIsGoneGoesToTheActor() {
        let slots = slots([("a", "v1", 1)])
        let lease = slots.take(endpoint: "e", version: "v1")!
        slots.remove(id: "a")
        #expect(slots.release(lease) == true)
        #expect(slots.take(endpoint: "e", version: "v1") == nil)
    }

    @Test func onlyAnIdleInstanceIsClosedAndAClosedOneTakesNoRequest() {
        let slots = slots([("a", "v1", 2)])
        let lease = slots.take(endpoint: "e", version: "v1")!
        #expect(slots.closeIfIdle("a") == false)
        _ = slots.release(lease)
        #expect(slots.closeIfIdle("a") == true)
        #expect(slots.take(endpoint: "e", version: "v1") == nil)
        #expect(slots.take(instance: "a") == nil)
    }

    @Test func noSlotIsTakenOnceStopping() {
        let slots = slots([("a", "v1", 2)])
        slots.stop()
        #expect(slots.take(endpoint: "e", version: "v1") == nil)
        #expect(slots.take(instance: "a") == nil)
        #expect(slots.takeOrQueue(endpoint: "e", version: "v1") == nil)
    }
}
