import Foundation

/// A protocol-2 pickle, opcode by opcode: what ``PyTorchCheckpoint/write(_:to:layout:zip64:)``
/// emits, and public so that tests and fuzzing seeds can craft the hostile pickles a reader must
/// refuse (deep nesting, impossible tensor sizes, forbidden globals) without committing binary blobs.
public struct PickleWriter: Sendable {
    /// The pickle so far.
    public private(set) var bytes: [UInt8] = []

    public init() {}

    /// Opcodes by their pickletools names.
    public enum Op: UInt8, Sendable {
        case mark = 0x28, stop = 0x2E, pop = 0x30, popMark = 0x31, dup = 0x32
        case none = 0x4E, binPersId = 0x51, reduce = 0x52, append = 0x61, build = 0x62
        case binGet = 0x68, longBinGet = 0x6A, binPut = 0x71, setItem = 0x73, tuple = 0x74, setItems = 0x75
        case emptyList = 0x5D, appends = 0x65, emptyDict = 0x7D, emptyTuple = 0x29
        case newObj = 0x81, tuple1 = 0x85, tuple2 = 0x86, tuple3 = 0x87, newTrue = 0x88, newFalse = 0x89
        case emptySet = 0x8F, memoize = 0x94
    }

    /// Appends one argument-less opcode.
    public mutating func op(_ o: Op) { bytes.append(o.rawValue) }
    /// Appends a raw opcode byte (or any byte: hostile pickles need invalid ones too).
    public mutating func op(_ o: UInt8) { bytes.append(o) }
    /// Appends raw bytes.
    public mutating func raw(_ b: [UInt8]) { bytes += b }
    /// PROTO 2.
    public mutating func proto() { bytes += [0x80, 2] }
    /// GLOBAL `module.name` (newline-terminated text arguments).
    public mutating func global(_ module: String, _ name: String) {
        bytes.append(0x63)
        bytes += Array(module.utf8) + [0x0A] + Array(name.utf8) + [0x0A]
    }
    /// BINUNICODE.
    public mutating func string(_ s: String) {
        let u = Array(s.utf8)
        bytes.append(0x58); bytes.le(UInt32(u.count)); bytes += u
    }
    /// BININT for 32-bit values, LONG1 with 8 bytes otherwise.
    public mutating func int(_ v: Int) {
        if let small = Int32(exactly: v) {
            bytes.append(0x4A); bytes.le(small)
        } else {
            bytes += [0x8A, 8]; bytes.le(Int64(v))
        }
    }
    /// LONG1 with these little-endian two's-complement bytes (Python ints wider than 64 bits).
    public mutating func long(_ littleEndian: [UInt8]) {
        bytes += [0x8A, UInt8(littleEndian.count)] + littleEndian
    }
    /// MARK, the integers, TUPLE.
    public mutating func tuple(_ values: [Int]) {
        bytes.append(0x28)
        for v in values { int(v) }
        bytes.append(0x74)
    }
}
