import Foundation

/// Reads the bytes and LEB128 varints of an encoded sketch, refusing truncated or oversized ones. It reads
/// the blob in place (no copy); it must not outlive the buffer it was given.
struct VarintReader {
    private let bytes: UnsafeBufferPointer<UInt8>
    private var position = 0

    init(_ bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

    var atEnd: Bool { position >= bytes.count }

    mutating func byte() throws -> UInt8 {
        guard position < bytes.count else { throw ModelDeckError("latency histogram blob ends early (\(bytes.count) bytes)") }
        defer { position += 1 }
        return bytes[position]
    }

    mutating func varint() throws -> UInt64 {
        var value: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            let b = try byte()
            guard shift < 64, shift < 63 || b <= 1 else { throw ModelDeckError("latency histogram blob has a number past 64 bits") }
            value |= UInt64(b & 0x7F) << shift
            if b & 0x80 == 0 { return value }
            shift += 7
        }
    }
}
