/// Protocol-buffer wire encoding of the few field kinds the project writes: TensorBoard event
/// records (`Metrics`) and, in the fuzz seeds, SentencePiece model files.
///
/// ```swift
/// var v = ProtoWriter(); v.string(1, "loss"); v.float(2, 4.2)
/// var e = ProtoWriter(); e.double(1, time); e.int(2, step); e.message(5, v.bytes)
/// ```
public struct ProtoWriter: Sendable {
    /// The encoded message so far.
    public private(set) var bytes: [UInt8] = []

    public init() {}

    /// A base-128 varint.
    public mutating func varint(_ v: UInt64) {
        var v = v
        while v >= 0x80 { bytes.append(UInt8(v & 0x7F) | 0x80); v >>= 7 }
        bytes.append(UInt8(v))
    }

    /// A field's key: `field << 3 | wire type`.
    public mutating func tag(_ field: Int, _ wire: Int) { varint(UInt64(field << 3 | wire)) }

    /// An `int32`/`int64`/`uint64`/`bool`/enum field (wire type 0; negative values as 64-bit two's complement).
    public mutating func int(_ field: Int, _ v: Int) { tag(field, 0); varint(UInt64(bitPattern: Int64(v))) }

    /// A `double` field (wire type 1, little-endian).
    public mutating func double(_ field: Int, _ v: Double) {
        tag(field, 1)
        let b = v.bitPattern
        for i in 0..<8 { bytes.append(UInt8(truncatingIfNeeded: b >> (8 * UInt64(i)))) }
    }

    /// A `float` field (wire type 5, little-endian).
    public mutating func float(_ field: Int, _ v: Float) {
        tag(field, 5)
        let b = v.bitPattern
        for i in 0..<4 { bytes.append(UInt8(truncatingIfNeeded: b >> (8 * UInt32(i)))) }
    }

    /// A length-delimited field: an embedded message or raw bytes (wire type 2).
    public mutating func message(_ field: Int, _ m: [UInt8]) { tag(field, 2); varint(UInt64(m.count)); bytes += m }

    /// A `string` field (UTF-8, wire type 2).
    public mutating func string(_ field: Int, _ s: String) { message(field, Array(s.utf8)) }
}
