import NIOCore

/// A model server's answer, as the gateway forwards it: its status, its `Content-Type` value and its body's
/// bytes (slices of what was read from the instance's connection, not copies, when they came in one read).
struct UpstreamAnswer {
    var status: Int
    var contentType: ByteBuffer?
    var body: ByteBuffer
}

/// Reads a model server's HTTP/1.1 answer from the bytes of its connection only as far as the gateway needs:
/// the status line, the headers that frame the body (`Content-Length`, `Transfer-Encoding`), `Connection`
/// and `Content-Type`. Every other header is skipped unread, and the body's bytes are passed through.
///
/// Written by hand because no library reads only the framing of an answer: SwiftNIO's HTTP/1 client codec
/// (used before) turns every header into `String`s and the body into parts that the gateway then encoded
/// again, so the HTTP parser ran twice per request (issue #20's `perf`: most of the gateway's user-space time
/// was SwiftNIO's HTTP/1 machinery). Requests from callers are still parsed by SwiftNIO's decoder: what
/// callers send is not trusted; what this reads comes from the model process the gateway started.
///
/// The framing follows RFC 9112 section 6.3 (https://www.rfc-editor.org/rfc/rfc9112#section-6.3):
/// 1xx answers are skipped, 204 and 304 have no body, `Transfer-Encoding` ending in `chunked` is chunked
/// (section 7.1: chunk extensions and trailer fields are read and dropped), any other `Transfer-Encoding`
/// and an answer with neither header run until the connection closes, two different `Content-Length`s are
/// refused. Lines may end in CRLF or a bare LF (section 2.2).
struct UpstreamAnswerReader {
    enum Failure: Error, Equatable, CustomStringConvertible {
        case malformed(String)
        case tooLarge(Int)
        /// The connection closed before the answer was complete.
        case cutShort

        var description: String {
            switch self {
            case .malformed(let why): "the model server's answer is not valid HTTP/1.1: \(why)"
            case .tooLarge(let limit): "the answer is over \(limit) bytes"
            case .cutShort: "the connection closed before the answer was complete"
            }
        }
    }

    enum Progress {
        case needMore
        /// `keepAlive`: the connection may carry the next request.
        case complete(UpstreamAnswer, keepAlive: Bool)
    }

    static let maxHeadBytes = 64 << 10
    static let maxLineBytes = 8 << 10

    private enum Phase: Equatable {
        case head, fixed(Int), chunkSize, chunkData(Int), chunkDataEnd, trailers, untilClose, done
    }

    let maxBodyBytes: Int
    private var phase = Phase.head
    /// Bytes read and not yet consumed.
    private var unread: ByteBuffer?
    private var status = 0
    private var contentType: ByteBuffer?
    private var keepAlive = true
    private var body: ByteBuffer?

    init(maxBodyBytes: Int) { self.maxBodyBytes = maxBodyBytes }

    /// Ready for the next answer on the same connection.
    mutating func reset() {
        phase = .head
        unread = nil
        status = 0
        contentType = nil
        keepAlive = true
        body = nil
    }

    /// Takes the next bytes read from the connection.
    mutating func read(_ bytes: ByteBuffer) throws -> Progress {
        var buffer: ByteBuffer
        if var kept = unread.take(), kept.readableBytes > 0 {
            var bytes = bytes
            kept.writeBuffer(&bytes)
            buffer = kept
        } else {
            buffer = bytes
        }
        let progress = try advance(&buffer)
        if case .needMore = progress { unread = buffer.readableBytes > 0 ? buffer : nil }
        return progress
    }

    /// The connection closed: the answer, when it was framed by the close; `cutShort` otherwise.
    mutating func end() throws -> UpstreamAnswer {
        guard phase == .untilClose else { throw Failure.cutShort }
        phase = .done
        return finished()
    }

    private mutating func advance(_ buffer: inout ByteBuffer) throws -> Progress {
        while true {
            switch phase {
            case .head:
                guard try readHead(&buffer) else {
                    if buffer.readableBytes > Self.maxHeadBytes { throw Failure.malformed("a head over \(Self.maxHeadBytes) bytes") }
                    return .needMore
                }
            case .fixed(let left):
                let rest = try takeBody(left, from: &buffer)
                guard rest == 0 else {
                    phase = .fixed(rest)
                    return .needMore
                }
                phase = .done
            case .chunkSize:
                guard let line = try Self.readLine(&buffer) else { return .needMore }
                let size = try Self.chunkSize(line)
                phase = size == 0 ? .trailers : .chunkData(size)
            case .chunkData(let left):
                let rest = try takeBody(left, from: &buffer)
                guard rest == 0 else {
                    phase = .chunkData(rest)
                    return .needMore
                }
                phase = .chunkDataEnd
            case .chunkDataEnd:
                guard let line = try Self.readLine(&buffer) else { return .needMore }
                guard line.readableBytes == 0 else { throw Failure.malformed("a chunk longer than its size") }
                phase = .chunkSize
            case .trailers:
                guard let line = try Self.readLine(&buffer) else { return .needMore }
                if line.readableBytes == 0 { phase = .done }
            case .untilClose:
                if buffer.readableBytes > 0 { try append(buffer.readSlice(length: buffer.readableBytes)!) }
                return .needMore
            case .done:
                // Bytes after the answer: the server does not speak HTTP/1.1 as expected; the connection is not reused.
                if buffer.readableBytes > 0 { keepAlive = false }
                return .complete(finished(), keepAlive: keepAlive)
            }
        }
    }

    private mutating func finished() -> UpstreamAnswer {
        UpstreamAnswer(status: status, contentType: contentType, body: body ?? ByteBuffer())
    }

    /// Takes up to `left` bytes of the body from `buffer`; how many are still to come.
    private mutating func takeBody(_ left: Int, from buffer: inout ByteBuffer) throws -> Int {
        let taken = min(left, buffer.readableBytes)
        try append(buffer.readSlice(length: taken)!)
        return left - taken
    }

    private mutating func append(_ slice: ByteBuffer) throws {
        guard slice.readableBytes > 0 else { return }
        if body == nil {
            body = slice
        } else {
            var slice = slice
            body!.writeBuffer(&slice)
        }
        if body!.readableBytes > maxBodyBytes { throw Failure.tooLarge(maxBodyBytes) }
    }

    /// What a head says, read in one pass over its bytes: offsets are from the start of the head.
    private struct Head {
        var length = 0
        var status = 0
        var keepAlive = true
        var contentLength: Int?
        var transferEncoding = false
        var chunked = false
        var contentType: Range<Int>?
    }

    /// Reads a whole head when it is there (true), else leaves `buffer` as it was (false).
    private mutating func readHead(_ buffer: inout ByteBuffer) throws -> Bool {
        guard let head = try buffer.withUnsafeReadableBytes({ try Self.parseHead($0) }) else { return false }
        let type = head.contentType.flatMap { buffer.getSlice(at: buffer.readerIndex + $0.lowerBound, length: $0.count) }
        buffer.moveReaderIndex(forwardBy: head.length)
        status = head.status
        if (100..<200).contains(status) {
            // An interim answer (100 Continue, 103 Early Hints): the real one follows.
            guard status != 101 else { throw Failure.malformed("101 Switching Protocols to a POST") }
            status = 0
            return true
        }
        contentType = type
        keepAlive = head.keepAlive
        if status == 204 || status == 304 {
            phase = .done
        } else if head.transferEncoding {
            if head.chunked {
                phase = .chunkSize
            } else {
                phase = .untilClose
                keepAlive = false
            }
        } else if let contentLength = head.contentLength {
            guard contentLength <= maxBodyBytes else { throw Failure.tooLarge(maxBodyBytes) }
            phase = contentLength == 0 ? .done : .fixed(contentLength)
        } else {
            phase = .untilClose
            keepAlive = false
        }
        return true
    }

    /// The head at the start of `bytes`, or nil when it is not all there. Raw bytes rather than `ByteBuffer`
    /// slices: a slice per header retains the buffer's storage, which `perf` showed at every request.
    private static func parseHead(_ bytes: UnsafeRawBufferPointer) throws -> Head? {
        var head = Head(), position = 0
        guard let statusLine = line(in: bytes, from: &position) else { return try incomplete(bytes) }
        (head.status, head.keepAlive) = try status(UnsafeRawBufferPointer(rebasing: bytes[statusLine]))
        while true {
            guard let range = line(in: bytes, from: &position) else { return try incomplete(bytes) }
            if range.isEmpty { break }
            let line = bytes[range]
            guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else { throw Failure.malformed("a header line without a colon") }
            let name = bytes[range.lowerBound..<colon], value = trimmed(bytes, colon + 1..<range.upperBound)
            switch name.count {
            case 14 where same(name, "content-length"):
                guard let length = decimal(bytes[value]) else { throw Failure.malformed("Content-Length is not a number") }
                if let known = head.contentLength, known != length { throw Failure.malformed("two different Content-Lengths") }
                head.contentLength = length
            case 17 where same(name, "transfer-encoding"):
                head.transferEncoding = true
                let last = bytes[value].lastIndex(of: UInt8(ascii: ",")).map { $0 + 1 } ?? value.lowerBound
                head.chunked = same(bytes[trimmed(bytes, last..<value.upperBound)], "chunked")
            case 10 where same(name, "connection"):
                var start = value.lowerBound
                while start <= value.upperBound {
                    let end = bytes[start..<value.upperBound].firstIndex(of: UInt8(ascii: ",")) ?? value.upperBound
                    let token = bytes[trimmed(bytes, start..<end)]
                    if same(token, "close") { head.keepAlive = false } else if same(token, "keep-alive") { head.keepAlive = true }
                    start = end + 1
                }
            case 12 where same(name, "content-type"):
                // Forwarded to the caller as it is: a value with a control character (a bare CR) is dropped.
                head.contentType = bytes[value].allSatisfy { $0 >= 0x20 || $0 == UInt8(ascii: "\t") } ? value : nil
            default:
                break
            }
        }
        head.length = position
        return head
    }

    private static func incomplete(_ bytes: UnsafeRawBufferPointer) throws -> Head? {
        if bytes.count > maxHeadBytes { throw Failure.malformed("a head over \(maxHeadBytes) bytes") }
        return nil
    }

    /// The range of the line starting at `position` without its CRLF or LF, `position` moved past it; nil when
    /// the line is not all there.
    private static func line(in bytes: UnsafeRawBufferPointer, from position: inout Int) -> Range<Int>? {
        guard let newline = bytes[position...].firstIndex(of: UInt8(ascii: "\n")) else { return nil }
        let end = newline > position && bytes[newline - 1] == UInt8(ascii: "\r") ? newline - 1 : newline
        defer { position = newline + 1 }
        return position..<end
    }

    private static func trimmed(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>) -> Range<Int> {
        var (start, end) = (range.lowerBound, range.upperBound)
        while start < end, bytes[start] == UInt8(ascii: " ") || bytes[start] == UInt8(ascii: "\t") { start += 1 }
        while end > start, bytes[end - 1] == UInt8(ascii: " ") || bytes[end - 1] == UInt8(ascii: "\t") { end -= 1 }
        return start..<end
    }

    /// ASCII case-insensitive equality with a lowercase literal.
    private static func same(_ bytes: Slice<UnsafeRawBufferPointer>, _ lowercased: StaticString) -> Bool {
        guard bytes.count == lowercased.utf8CodeUnitCount else { return false }
        var wanted = lowercased.utf8Start
        for byte in bytes {
            guard (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte | 0x20 : byte) == wanted.pointee else { return false }
            wanted += 1
        }
        return true
    }

    private static func decimal(_ value: Slice<UnsafeRawBufferPointer>) -> Int? {
        guard !value.isEmpty, value.count <= 18 else { return nil }
        var result = 0
        for byte in value {
            guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) else { return nil }
            result = result * 10 + Int(byte - UInt8(ascii: "0"))
        }
        return result
    }

    /// `HTTP/1.1 200 OK`: the status, and whether the version keeps connections alive by default.
    private static func status(_ bytes: UnsafeRawBufferPointer) throws -> (Int, Bool) {
        guard bytes.count >= 12, bytes.starts(with: "HTTP/1.".utf8) else { throw Failure.malformed("no HTTP/1.x status line") }
        let minor = bytes[7]
        guard minor == UInt8(ascii: "0") || minor == UInt8(ascii: "1"), bytes[8] == UInt8(ascii: " ") else {
            throw Failure.malformed("no HTTP/1.x status line")
        }
        var code = 0
        for index in 9..<12 {
            let digit = bytes[index]
            guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(digit) else { throw Failure.malformed("a status that is not three digits") }
            code = code * 10 + Int(digit - UInt8(ascii: "0"))
        }
        guard code >= 100, bytes.count == 12 || bytes[12] == UInt8(ascii: " ") else {
            throw Failure.malformed("a status that is not three digits")
        }
        return (code, minor == UInt8(ascii: "1"))
    }

    /// `1a;name=value` → 26.
    private static func chunkSize(_ line: ByteBuffer) throws -> Int {
        var size = 0, digits = 0
        for byte in line.readableBytesView {
            let value: Int
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): value = Int(byte - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): value = Int(byte - UInt8(ascii: "a")) + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): value = Int(byte - UInt8(ascii: "A")) + 10
            case UInt8(ascii: ";"), UInt8(ascii: " "), UInt8(ascii: "\t"):
                guard digits > 0 else { throw Failure.malformed("a chunk size that is not hexadecimal") }
                return size
            default: throw Failure.malformed("a chunk size that is not hexadecimal")
            }
            digits += 1
            guard digits <= 15 else { throw Failure.malformed("a chunk size over 15 hexadecimal digits") }
            size = size * 16 + value
        }
        guard digits > 0 else { throw Failure.malformed("a chunk size that is not hexadecimal") }
        return size
    }

    /// The next line without its CRLF or LF, consumed; nil (nothing consumed) when it is not all there.
    private static func readLine(_ buffer: inout ByteBuffer) throws -> ByteBuffer? {
        guard let newline = buffer.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) else {
            if buffer.readableBytes > maxLineBytes { throw Failure.malformed("a line over \(maxLineBytes) bytes") }
            return nil
        }
        var line = buffer.readSlice(length: newline - buffer.readerIndex)!
        buffer.moveReaderIndex(forwardBy: 1)
        if line.readableBytesView.last == UInt8(ascii: "\r") { line.moveWriterIndex(to: line.writerIndex - 1) }
        return line
    }
}
