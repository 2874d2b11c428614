/// A 64-bit FNV-1a digest, for checking that ranks hold the same bytes (not a cryptographic hash).
public struct Digest64: Sendable {
    public private(set) var value: UInt64 = 0xCBF2_9CE4_8422_2325

    public init() {}

    /// Mixes in `bytes`.
    public mutating func update<S: Sequence>(_ bytes: S) where S.Element == UInt8 {
        for b in bytes { value = (value ^ UInt64(b)) &* 0x0000_0100_0000_01B3 }
    }

    /// Mixes in `count` 32-bit words (e.g. the bits of floats), one word per multiply: 4× faster
    /// than bytewise for large buffers.
    public mutating func update(words p: UnsafeRawPointer, count: Int) {
        let w = p.assumingMemoryBound(to: UInt32.self)
        for i in 0..<count { value = (value ^ UInt64(w[i])) &* 0x0000_0100_0000_01B3 }
    }

    /// The digest of `bytes`.
    public static func of<S: Sequence>(_ bytes: S) -> UInt64 where S.Element == UInt8 {
        var d = Digest64()
        d.update(bytes)
        return d.value
    }
}
