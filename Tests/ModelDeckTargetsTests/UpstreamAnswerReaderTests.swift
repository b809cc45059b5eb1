import NIOCore
import Testing
@testable import ModelDeckTargets

/// The gateway reads a model server's answer only as far as its status and framing: every framing, fed whole
/// and split at every byte.
struct UpstreamAnswerReaderTests {
    struct Read: Equatable {
        var status: Int
        var contentType: String?
        var body: String
        var keepAlive: Bool
    }

    /// Feeds `text` in pieces cut at `cuts`; the answer once complete, nil while more is needed.
    static func read(_ text: String, cuts: [Int] = [], maxBodyBytes: Int = 1 << 20) throws -> Read? {
        var reader = UpstreamAnswerReader(maxBodyBytes: maxBodyBytes)
        let bytes = Array(text.utf8)
        var start = 0
        for end in cuts + [bytes.count] where end >= start {
            let progress = try reader.read(ByteBuffer(bytes: bytes[start..<end]))
            start = end
            if case .complete(let answer, let keepAlive) = progress {
                return Read(status: answer.status, contentType: answer.contentType.map { String(buffer: $0) },
                            body: String(buffer: answer.body), keepAlive: keepAlive)
            }
        }
        return nil
    }

    /// The same answer, whole and cut at every byte: the same result each time.
    static func readEverySplit(_ text: String) throws -> Read? {
        let whole = try read(text)
        for cut in 0...text.utf8.count {
            #expect(try read(text, cuts: [cut]) == whole, "cut at \(cut)")
        }
        #expect(try read(text, cuts: Array(0...text.utf8.count)) == whole, "one byte at a time")
        return whole
    }

    @Test func aContentLengthAnswer() throws {
        let answer = "HTTP/1.1 200 OK\r\nServer: x\r\nContent-Type: application/json\r\nContent-Length: 12\r\n\r\n{\"label\": 1}"
        #expect(try Self.readEverySplit(answer) == Read(status: 200, contentType: "application/json", body: "{\"label\": 1}", keepAlive: true))
    }

    @Test func headerNamesAnyCaseAndBlanksAroundValues() throws {
        let answer = "HTTP/1.1 500 Internal Server Error\r\ncontent-TYPE:  text/plain \r\nCONTENT-LENGTH:2\r\n\r\nno"
        #expect(try Self.read(answer) == Read(status: 500, contentType: "text/plain", body: "no", keepAlive: true))
    }

    @Test func aChunkedAnswerWithExtensionsAndTrailers() throws {
        let answer = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
            + "5;part=1\r\n{\"a\":\r\nA\r\n 123456789\r\n1\r\n}\r\n0\r\nX-Trailer: done\r\n\r\n"
        #expect(try Self.readEverySplit(answer) == Read(status: 200, contentType: "application/json", body: "{\"a\": 123456789}", keepAlive: true))
    }

    @Test func anAnswerUntilTheCloseEndsWithTheConnection() throws {
        var reader = UpstreamAnswerReader(maxBodyBytes: 100)
        guard case .needMore = try reader.read(ByteBuffer(string: "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nhello ")),
              case .needMore = try reader.read(ByteBuffer(string: "world")) else {
            Issue.record("complete before the close")
            return
        }
        #expect(String(buffer: try reader.end().body) == "hello world")
    }

    @Test func anAnswerCutShortIsNotComplete() throws {
        var reader = UpstreamAnswerReader(maxBodyBytes: 100)
        guard case .needMore = try reader.read(ByteBuffer(string: "HTTP/1.1 200 OK\r\nContent-Length: 20\r\n\r\nhello")) else {
            Issue.record("complete with 15 bytes missing")
            return
        }
        #expect(throws: UpstreamAnswerReader.Failure.cutShort) { try reader.end() }
        var chunked = UpstreamAnswerReader(maxBodyBytes: 100)
        _ = try chunked.read(ByteBuffer(string: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n"))
        #expect(throws: UpstreamAnswerReader.Failure.cutShort) { try chunked.end() }
    }

    @Test func whatKeepsTheConnection() throws {
        #expect(try Self.read("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")?.keepAlive == false)
        #expect(try Self.read("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n")?.keepAlive == false)
        #expect(try Self.read("HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 0\r\n\r\n")?.keepAlive == true)
        // Bytes after the answer: the connection is out of step and not reused.
        #expect(try Self.read("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1") == Read(status: 200, body: "ok", keepAlive: false))
        // Another transfer coding than chunked runs until the close.
        var reader = UpstreamAnswerReader(maxBodyBytes: 100)
        guard case .needMore = try reader.read(ByteBuffer(string: "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nxyz")) else {
            Issue.record("gzip without chunked is framed by the close")
            return
        }
        #expect(String(buffer: try reader.end().body) == "xyz")
    }

    @Test func interimAnswersAreSkippedAndSomeStatusesHaveNoBody() throws {
        #expect(try Self.readEverySplit("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 1\r\n\r\nx")
            == Read(status: 201, body: "x", keepAlive: true))
        #expect(try Self.read("HTTP/1.1 204 No Content\r\n\r\n") == Read(status: 204, body: "", keepAlive: true))
        #expect(try Self.read("HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n") == Read(status: 304, body: "", keepAlive: true))
        #expect(try Self.read("HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n") == Read(status: 200, body: "", keepAlive: true))
    }

    @Test func bareLineFeedsAreLines() throws {
        #expect(try Self.readEverySplit("HTTP/1.1 200 OK\nContent-Length: 2\n\nok") == Read(status: 200, body: "ok", keepAlive: true))
    }

    @Test func theReaderIsReusedForTheNextAnswer() throws {
        var reader = UpstreamAnswerReader(maxBodyBytes: 100)
        for body in ["one", "two!"] {
            reader.reset()
            guard case .complete(let answer, true) = try reader.read(ByteBuffer(string: "HTTP/1.1 200 OK\r\nContent-Length: \(body.count)\r\n\r\n\(body)")) else {
                Issue.record("not complete")
                return
            }
            #expect(String(buffer: answer.body) == body)
        }
    }

    @Test func malformedAnswersAreRefused() {
        let refused = [
            "HTTP/2 200 OK\r\n\r\n",
            "ICY 200 OK\r\n\r\n",
            "HTTP/1.1 2x0 OK\r\n\r\n",
            "HTTP/1.1 2000 OK\r\n\r\n",
            "HTTP/1.1 200 OK\r\nno colon here\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: 12a\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n",
            "HTTP/1.1 101 Switching Protocols\r\n\r\n",
        ]
        for answer in refused {
            #expect(throws: UpstreamAnswerReader.Failure.self, "\(answer.debugDescription)") { try Self.read(answer) }
        }
    }

    @Test func answersOverTheLimitAreRefused() throws {
        #expect(throws: UpstreamAnswerReader.Failure.tooLarge(10)) {
            try Self.read("HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n", maxBodyBytes: 10)
        }
        #expect(throws: UpstreamAnswerReader.Failure.tooLarge(10)) {
            try Self.read("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n6\r\n123456\r\n6\r\n123456\r\n0\r\n\r\n", maxBodyBytes: 10)
        }
        // A head that never ends.
        let endless = "HTTP/1.1 200 OK\r\n" + String(repeating: "X-Filler: 0123456789\r\n", count: 4_000)
        #expect(throws: UpstreamAnswerReader.Failure.self) { try Self.read(endless) }
        #expect(try Self.read("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123456789", maxBodyBytes: 10)?.body == "0123456789")
    }

    @Test func aContentTypeWithAControlCharacterIsDropped() throws {
        #expect(try Self.read("HTTP/1.1 200 OK\r\nContent-Type: text/html\rX-Evil: 1\r\nContent-Length: 0\r\n\r\n")?.contentType == nil)
    }

    @Test func decimalsAreWrittenWithoutStrings() {
        for value in [0, 7, 10, 99, 100, 12_345, 1 << 40] {
            var buffer = ByteBuffer()
            buffer.writeDecimal(value)
            #expect(String(buffer: buffer) == String(value))
        }
    }
}
