import ModelDeckCore
import Testing
@testable import ModelDeckDaemon

struct LocalTargetHostTests {
    let local = Target(name: "local", kind: .local, config: ["port": "9000"])
    let lambda = Target(name: "lambda-eu", kind: .awsLambda, region: "eu-central-1")

    @Test func theOnlyLocalTargetIsChosenOnLoopbackByDefault() throws {
        let listen = try LocalTargetHost.choose(from: [lambda, Target(name: "box", kind: .local)], named: nil, host: nil, port: nil)
        #expect(listen == .init(target: "box", host: "127.0.0.1", port: 8765))
    }

    @Test func theDecksPortAndHostAreUsedUnlessOverridden() throws {
        #expect(try LocalTargetHost.choose(from: [local], named: nil, host: nil, port: nil).port == 9000)
        #expect(try LocalTargetHost.choose(from: [local], named: "local", host: "0.0.0.0", port: 0)
            == .init(target: "local", host: "0.0.0.0", port: 0))
    }

    @Test func ambiguousMissingOrRemoteTargetsAreRefused() {
        #expect(throws: ModelDeckError("the registry has no local target; declare one in a deck (kind: local) and apply it")) {
            try LocalTargetHost.choose(from: [lambda], named: nil, host: nil, port: nil)
        }
        #expect(throws: ModelDeckError("the registry has 2 local targets (a, local); choose one with --target")) {
            try LocalTargetHost.choose(from: [local, Target(name: "a", kind: .local)], named: nil, host: nil, port: nil)
        }
        #expect(throws: ModelDeckError("target 'lambda-eu' is aws-lambda; only local targets run a gateway on this machine")) {
            try LocalTargetHost.choose(from: [local, lambda], named: "lambda-eu", host: nil, port: nil)
        }
        #expect(throws: ModelDeckError("port 70000 is outside 0–65535")) {
            try LocalTargetHost.choose(from: [local], named: nil, host: nil, port: 70_000)
        }
    }
}
