import Foundation

/// CRC-32C (Castagnoli, the iSCSI/ext4 checksum: reflected polynomial 0x82F63B78, initial and final
/// value 0xFFFFFFFF), computed eight bytes at a time ("slicing-by-8").
///
/// For checking that large files (checkpoints, shards) hold the bytes that were written: it detects
/// every burst error up to 32 bits and flipped bytes anywhere, at memory speed. Not a defence against
/// deliberate tampering (that needs a cryptographic hash).
///
/// ```swift
/// var c = CRC32C(); c.update(part1); c.update(part2); let sum = c.value
/// let fileSum = try CRC32C.checksum(file: url)
/// ```
public struct CRC32C: Sendable {
    private var state: UInt32 = 0xFFFF_FFFF

    public init() {}

    /// The checksum of everything passed to ``update(_:)-(UnsafeRawBufferPointer)`` so far.
    public var value: UInt32 { ~state }

    /// Feeds more bytes.
    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        var c = state
        var p = base
        var n = bytes.count
        CRC32C.table.withUnsafeBufferPointer { t in
            while n >= 8 {
                let v = UInt64(littleEndian: p.loadUnaligned(as: UInt64.self)) ^ UInt64(c)
                c = t[7 * 256 + Int(v & 0xFF)] ^ t[6 * 256 + Int((v >> 8) & 0xFF)]
                    ^ t[5 * 256 + Int((v >> 16) & 0xFF)] ^ t[4 * 256 + Int((v >> 24) & 0xFF)]
                    ^ t[3 * 256 + Int((v >> 32) & 0xFF)] ^ t[2 * 256 + Int((v >> 40) & 0xFF)]
                    ^ t[1 * 256 + Int((v >> 48) & 0xFF)] ^ t[Int(v >> 56)]
                p += 8
                n -= 8
            }
            while n > 0 {
                c = t[Int((c ^ UInt32(p.load(as: UInt8.self))) & 0xFF)] ^ (c >> 8)
                p += 1
                n -= 1
            }
        }
        state = c
    }

    /// Feeds more bytes.
    public mutating func update<C: ContiguousBytes>(_ bytes: C) {
        bytes.withUnsafeBytes { update($0) }
    }

    /// The checksum of `bytes`.
    public static func checksum(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        var c = CRC32C()
        c.update(bytes)
        return c.value
    }

    /// The checksum of `bytes`.
    public static func checksum<C: ContiguousBytes>(_ bytes: C) -> UInt32 {
        bytes.withUnsafeBytes { checksum($0) }
    }

    /// The checksum of a whole file, read through a memory mapping (never loaded whole).
    ///
    /// - Throws: ``SystemError`` naming the file (missing, a folder, unreadable).
    public static func checksum(file url: URL) throws -> UInt32 {
        let f = try MappedFile(url)
        return checksum(f.bytes)
    }

    /// TensorFlow's masked CRC of `bytes` (TFRecord framing: the CRC rotated right by 15 bits plus
    /// 0xA282EAD8), so that a CRC stored inside the checked data does not check itself.
    public static func masked<C: ContiguousBytes>(_ bytes: C) -> UInt32 {
        let c = checksum(bytes)
        return ((c >> 15) | (c << 17)) &+ 0xA282_EAD8
    }

    /// Eight-digit lower-case hex, the form to store next to a file.
    public static func hex(_ value: UInt32) -> String {
        let s = String(value, radix: 16)
        return String(repeating: "0", count: 8 - s.count) + s
    }

    /// table[k·256 + b]: the CRC of byte b followed by k zero bytes.
    private static let table: [UInt32] = {
        var t = [UInt32](repeating: 0, count: 8 * 256)
        for b in 0..<256 {
            var c = UInt32(b)
            for _ in 0..<8 { c = c & 1 != 0 ? (c >> 1) ^ 0x82F6_3B78 : c >> 1 }
            t[b] = c
        }
        for k in 1..<8 {
            for b in 0..<256 {
                let prev = t[(k - 1) * 256 + b]
                t[k * 256 + b] = (prev >> 8) ^ t[Int(prev & 0xFF)]
            }
        }
        return t
    }()
}
