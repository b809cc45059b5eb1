import NIOCore
import NIOHTTP1

/// HTTP/1.1 heads written straight into a `ByteBuffer` by the gateway's hot path: the request to an instance
/// and the answer to the caller, with no header dictionary or encoder in between (SwiftNIO's encoders build
/// an `HTTPHeaders` array of `String`s per message, which issue #20's `perf` counted among the gateway's costs).
/// Values come from SwiftNIO's request parser (which refuses CR and LF in them) or from the gateway itself.
extension ByteBuffer {
    /// Empties this buffer and writes into it. The gateway's handlers keep one buffer each for what they send:
    /// by the time the next request or answer is written, SwiftNIO has written the last one and let go of it,
    /// so its storage is used again (no allocation); were it still queued, clearing takes new storage (copy on
    /// write), never the bytes in flight.
    @inline(__always)
    mutating func rewrite(minimumCapacity: Int, _ write: (inout ByteBuffer) -> Void) {
        clear(minimumCapacity: minimumCapacity)
        write(&self)
    }

    /// `HTTP/1.1 200 OK` and its CRLF.
    mutating func writeStatusLine(version: HTTPVersion, status: Int) {
        writeStaticString(version.minor == 0 ? "HTTP/1.0 " : "HTTP/1.1 ")
        writeDecimal(status)
        writeInteger(UInt8(ascii: " "))
        writeString(HTTPResponseStatus(statusCode: status).reasonPhrase)
        writeStaticString("\r\n")
    }

    mutating func writeHeader(_ name: StaticString, _ value: String) {
        writeStaticString(name)
        writeStaticString(": ")
        writeString(value)
        writeStaticString("\r\n")
    }

    mutating func writeHeader(_ name: StaticString, _ value: ByteBuffer) {
        writeStaticString(name)
        writeStaticString(": ")
        writeImmutableBuffer(value)
        writeStaticString("\r\n")
    }

    mutating func writeHeader(_ name: StaticString, decimal value: Int) {
        writeStaticString(name)
        writeStaticString(": ")
        writeDecimal(value)
        writeStaticString("\r\n")
    }

    /// A non-negative integer in decimal, without building a `String`.
    mutating func writeDecimal(_ value: Int) {
        precondition(value >= 0)
        var divisor = 1
        while divisor <= value / 10 { divisor *= 10 }
        var left = value
        while divisor > 0 {
            writeInteger(UInt8(ascii: "0") + UInt8(left / divisor))
            left %= divisor
            divisor /= 10
        }
    }
}
