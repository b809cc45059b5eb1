import Foundation
import Testing
@testable import ModelDeckDaemon

struct KeepWarmLoopTests {
    @Test func anEndpointWhosePingsReachNothingIsAskedLessAndLessOften() {
        let pauses = (1...12).map { KeepWarmLoop.pause(afterFailures: $0, first: 1) }
        #expect(Array(pauses.prefix(5)) == [1, 2, 4, 8, 16])
        #expect(pauses.last == 300) // at most every 5 minutes
        #expect(KeepWarmLoop.pause(afterFailures: 10_000, first: 1) == 300)
        #expect(KeepWarmLoop.pause(afterFailures: 0, first: 1) == 1)
    }
}
