import Foundation
import ModelDeckCore
import Testing
@testable import ModelDeckTargets

/// The pure rules behind the gateway's and the runtime's hardening (issue #15).
struct HardeningPolicyTests {
    @Test func crashLoopsBackOffFromTheThirdFailureUpToFiveMinutes() {
        #expect(StartBackoff.delay(afterFailures: 0) == .zero)
        #expect(StartBackoff.delay(afterFailures: 2) == .zero)
        #expect(StartBackoff.delay(afterFailures: 3) == .seconds(1))
        #expect(StartBackoff.delay(afterFailures: 4) == .seconds(2))
        #expect(StartBackoff.delay(afterFailures: 11) == .seconds(256))
        #expect(StartBackoff.delay(afterFailures: 12) == .seconds(300))
        #expect(StartBackoff.delay(afterFailures: 10_000) == .seconds(300))
        var backoff = StartBackoff()
        let first = backoff.fail("a"), second = backoff.fail("b"), third = backoff.fail("c"), fourth = backoff.fail("d")
        #expect(!first && !second)
        #expect(third)   // the third makes it crash-looping, once
        #expect(!fourth)
        #expect(backoff.isCrashLooping && backoff.lastReason == "d")
    }

    @Test func theGatewayAnswersLoopbackHostsJSONAndTokens() {
        let local = GatewayAdmission(listensOnLoopback: true, token: nil, warmupSecret: "s3cret")
        func check(_ admission: GatewayAdmission, host: String? = "127.0.0.1:8765", auth: String? = nil, type: String? = "application/json",
                   client: Bool = false, secret: String? = nil) -> Int? {
            admission.check(host: host, authorization: auth, contentType: type, clientHeader: client, warmupSecret: secret, isInvoke: true)?.status
        }
        #expect(check(local) == nil)
        #expect(check(local, host: "localhost") == nil)
        #expect(check(local, host: "[::1]:8765") == nil)
        #expect(check(local, host: "evil.example:8765") == 421)
        #expect(check(local, host: "127.0.0.1.evil.example") == 421)
        #expect(check(local, host: nil) == 421)
        #expect(check(local, type: "text/plain;charset=UTF-8") == 415)
        #expect(check(local, type: "application/x-www-form-urlencoded") == 415)
        #expect(check(local, type: nil) == 415)
        #expect(check(local, type: "text/plain", client: true) == nil)
        #expect(check(local, type: "application/octet-stream") == nil)
        #expect(check(local, type: "application/vnd.api+json") == nil)
        #expect(check(local, host: nil, type: nil, secret: "s3cret") == nil)  // the daemon's own ping
        #expect(check(local, host: "evil.example", secret: "wrong") == 421)

        let remote = GatewayAdmission(listensOnLoopback: false, token: "tok", warmupSecret: "s3cret")
        #expect(check(remote, host: "gateway.internal") == 401)
        #expect(check(remote, host: "gateway.internal", auth: "Bearer tok") == nil)
        #expect(check(remote, host: "gateway.internal", auth: "Bearer tok2") == 401)
        #expect(check(GatewayAdmission(listensOnLoopback: false, token: nil, warmupSecret: "s"), auth: "Bearer x") == 401)
        #expect(WarmupSecret.make().count == 64 && WarmupSecret.make() != WarmupSecret.make())
    }

    @Test func aContentTypesMediaTypeIsItsLowercasedNameWithoutParameters() {
        #expect(GatewayAdmission.mediaType("application/json") == "application/json")
        #expect(GatewayAdmission.mediaType(" Text/Plain ;charset=UTF-8") == "text/plain")
        #expect(GatewayAdmission.mediaType("\tmultipart/form-data; boundary=x") == "multipart/form-data")
        #expect(GatewayAdmission.mediaType("  ") == "")
        #expect(GatewayAdmission.mediaType(";x") == "")
        #expect(GatewayAdmission.mediaType(nil) == "")
    }

    @Test func aModelsEnvironmentIsTheAllowlistAndItsOwnEnv() {
        let version = ModelVersion(model: "m", version: "v1", artifact: "/a/w.json", digest: "sha256:" + String(repeating: "a", count: 64),
                                   sizeBytes: 1, memoryMB: 128, environment: ["LOG_LEVEL": "debug", "PORT": "80"])
        let inherited = ["PATH": "/usr/bin", "LANG": "C.UTF-8", "LC_TIME": "de_DE", "TZ": "UTC", "HOME": "/root",
                         "MODELDECK_API_TOKEN": "t", "AWS_SECRET_ACCESS_KEY": "k", "GITHUB_TOKEN": "g"]
        let environment = ModelEnvironment.make(inherited: inherited, port: 9000, version: version, endpoint: "e", instance: "e-1",
                                                temporaryDirectory: "/run/e-1.tmp")
        #expect(Set(environment.keys) == ["PATH", "LANG", "LC_TIME", "TZ", "LOG_LEVEL", "PORT", "HOST", "MODEL_VERSION", "MODEL_ARTIFACT",
                                          "MODELDECK_ENDPOINT", "MODELDECK_INSTANCE", "TMPDIR", "TMP", "TEMP"])
        #expect(environment["PORT"] == "9000")  // the contract wins over a declared value
        #expect(environment["TMPDIR"] == "/run/e-1.tmp")
    }
}
