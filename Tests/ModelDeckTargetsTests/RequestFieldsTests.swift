import ModelDeckCore
import NIOHTTP1
import Testing
@testable import ModelDeckTargets

/// The one pass over a request's headers gives what `HTTPHeaders.first(name:)` gives for each name it reads.
struct RequestFieldsTests {
    static let names = ["Host", "Content-Type", "Authorization", "Content-Length", "X-ModelDeck-Client", "X-ModelDeck-Warmup",
                        "X-ModelDeck-Version", "X-ModelDeck-Bench", "X-ModelDeck-Bench-Cold", "X-ModelDeck-Warmup-Secret",
                        "X-ModelDeck-Warmup-Hold-Ms",
                        // Near misses: same length or same prefix as a read name.
                        "Hosts", "Hos", "Content-Typf", "X-ModelDeck-Clienx", "X-ModelDeck-Benches", "Accept", "X-ModelDeck-Warmup-Hold-Mz",
                        "X-ModelDeck-Instance", "Content-Lengthh"]

    static func expected(_ headers: HTTPHeaders) -> RequestFields {
        var fields = RequestFields(HTTPHeaders())
        fields.host = headers.first(name: "Host")
        fields.contentType = headers.first(name: "Content-Type")
        fields.authorization = headers.first(name: "Authorization")
        fields.contentLength = headers.first(name: "Content-Length")
        fields.client = headers.contains(name: "X-ModelDeck-Client")
        fields.warmup = headers.first(name: "X-ModelDeck-Warmup")
        fields.version = headers.first(name: "X-ModelDeck-Version")
        fields.benchToken = headers.first(name: "X-ModelDeck-Bench")
        fields.benchCold = headers.first(name: "X-ModelDeck-Bench-Cold")
        fields.warmupSecret = headers.first(name: "X-ModelDeck-Warmup-Secret")
        fields.holdMilliseconds = headers.first(name: "X-ModelDeck-Warmup-Hold-Ms")
        return fields
    }

    @Test func aTypicalInvokeIsRead() {
        let fields = RequestFields(HTTPHeaders([("Host", "localhost:8765"), ("content-type", "application/json"), ("Content-Length", "30"),
                                                ("X-MODELDECK-CLIENT", ""), ("Accept", "*/*")]))
        #expect(fields.host == "localhost:8765")
        #expect(fields.contentType == "application/json")
        #expect(fields.contentLength == "30")
        #expect(fields.client)
        #expect(fields.authorization == nil && fields.warmup == nil && fields.benchToken == nil && fields.version == nil)
    }

    @Test func theFirstOfARepeatedNameWins() {
        let fields = RequestFields(HTTPHeaders([("Host", "localhost"), ("host", "evil.example"), ("X-ModelDeck-Version", "v1"),
                                                ("x-modeldeck-version", "v2")]))
        #expect(fields.host == "localhost")
        #expect(fields.version == "v1")
    }

    /// Random heads of read names, near misses and other headers, in random case and order, some repeated.
    @Test(arguments: [1, 2, 3, 4])
    func randomHeadsReadAsFirstNameDoes(seed: UInt64) {
        var random = SplitMix64(seed: seed)
        for _ in 0..<500 {
            var headers = HTTPHeaders()
            for _ in 0..<Int.random(in: 0...12, using: &random) {
                let name = Self.names.randomElement(using: &random)!
                let cased = String(name.map { Bool.random(using: &random) ? Character($0.uppercased()) : Character($0.lowercased()) })
                headers.add(name: cased, value: "v\(Int.random(in: 0...99, using: &random))")
            }
            #expect(RequestFields(headers) == Self.expected(headers), "\(headers)")
        }
    }
}
