/// Open-addressing hash table from byte strings to `Int32`, with the keys packed in one arena.
///
/// Vocab lookups sit in the innermost loop of WordPiece and BPE. Swift's `Dictionary<String, Int>`
/// would need a `String` per candidate substring and SipHash per lookup; this table hashes the
/// UTF-8 bytes in place and compares them with `memcmp`-like loops, with no allocation.
struct ByteStringTable: Sendable {
    private struct Slot {
        var hash: UInt32
        var length: UInt32
        var offset: UInt32
        var value: Int32 // -1 = empty slot
    }
    private var slots: [Slot]
    private var arena: [UInt8] = []
    private var mask: Int
    private(set) var count = 0

    init(capacity: Int = 16) {
        var size = 16
        while size < capacity * 2 { size <<= 1 }
        slots = [Slot](repeating: Slot(hash: 0, length: 0, offset: 0, value: -1), count: size)
        mask = size - 1
    }

    @inline(__always)
    static func hash(_ p: UnsafePointer<UInt8>, _ n: Int) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        var i = 0
        while i + 8 <= n {
            let w = UnsafeRawPointer(p + i).loadUnaligned(as: UInt64.self)
            h = (h ^ w) &* 0x0000_0100_0000_01b3
            h ^= h >> 29
            i += 8
        }
        while i < n {
            h = (h ^ UInt64(p[i])) &* 0x0000_0100_0000_01b3
            i += 1
        }
        h ^= UInt64(n)
        h = (h ^ (h >> 32)) &* 0xd6e8_feb8_6659_fd93
        return h ^ (h >> 32)
    }

    /// Inserts or replaces (later entries win, as when a vocab file lists a token twice).
    mutating func set(_ key: [UInt8], _ value: Int32) {
        if (count + 1) * 2 > slots.count { grow() }
        key.withUnsafeBufferPointer { kb in
            let base = kb.baseAddress ?? UnsafePointer(bitPattern: 1)!
            let h = ByteStringTable.hash(base, kb.count)
            var i = Int(truncatingIfNeeded: h) & mask
            let h32 = UInt32(truncatingIfNeeded: h)
            while slots[i].value >= 0 {
                if slots[i].hash == h32 && Int(slots[i].length) == kb.count && equal(slots[i], base, kb.count) {
                    slots[i].value = value
                    return
                }
                i = (i + 1) & mask
            }
            slots[i] = Slot(hash: h32, length: UInt32(kb.count), offset: UInt32(arena.count), value: value)
            arena.append(contentsOf: kb)
            count += 1
        }
    }

    private func equal(_ s: Slot, _ p: UnsafePointer<UInt8>, _ n: Int) -> Bool {
        arena.withUnsafeBufferPointer { a in
            let q = a.baseAddress! + Int(s.offset)
            for j in 0..<n where q[j] != p[j] { return false }
            return true
        }
    }

    private mutating func grow() {
        let old = slots
        let size = slots.count * 2
        slots = [Slot](repeating: Slot(hash: 0, length: 0, offset: 0, value: -1), count: size)
        mask = size - 1
        for s in old where s.value >= 0 {
            var i = Int(s.hash) & mask
            while slots[i].value >= 0 { i = (i + 1) & mask }
            slots[i] = s
        }
    }

    /// The value for `n` bytes at `p`, or -1.
    @inline(__always)
    func get(_ p: UnsafePointer<UInt8>, _ n: Int) -> Int32 {
        let h = ByteStringTable.hash(p, n)
        let h32 = UInt32(truncatingIfNeeded: h)
        return slots.withUnsafeBufferPointer { sb in
            arena.withUnsafeBufferPointer { ab in
                var i = Int(truncatingIfNeeded: h) & mask
                while true {
                    let s = sb[i]
                    if s.value < 0 { return -1 }
                    if s.hash == h32 && Int(s.length) == n {
                        let q = ab.baseAddress! + Int(s.offset)
                        var j = 0
                        while j < n && q[j] == p[j] { j += 1 }
                        if j == n { return s.value }
                    }
                    i = (i + 1) & mask
                }
            }
        }
    }

    func get(_ key: [UInt8]) -> Int32 {
        key.withUnsafeBufferPointer { kb in
            guard let b = kb.baseAddress else {
                var z: UInt8 = 0
                return withUnsafePointer(to: &z) { get($0, 0) }
            }
            return get(b, kb.count)
        }
    }
}

/// Open-addressing map from a pair of token ids to (merge rank, merged id), for BPE.
struct PairTable: Sendable {
    private var keys: [UInt64]
    private var values: [UInt64]
    private var mask: Int
    private static let empty = UInt64.max

    init(capacity: Int) {
        var size = 16
        while size < capacity * 2 { size <<= 1 }
        keys = [UInt64](repeating: PairTable.empty, count: size)
        values = [UInt64](repeating: 0, count: size)
        mask = size - 1
    }

    @inline(__always) private static func slot(_ k: UInt64, _ mask: Int) -> Int {
        Int(truncatingIfNeeded: (k &* 0x9e37_79b9_7f4a_7c15) >> 32) & mask
    }

    /// Keeps the first (lowest) rank when a merges file lists a pair twice.
    mutating func insertIfAbsent(_ a: Int32, _ b: Int32, rank: Int32, merged: Int32) {
        let k = UInt64(UInt32(bitPattern: a)) << 32 | UInt64(UInt32(bitPattern: b))
        var i = PairTable.slot(k, mask)
        while keys[i] != PairTable.empty {
            if keys[i] == k { return }
            i = (i + 1) & mask
        }
        keys[i] = k
        values[i] = UInt64(UInt32(bitPattern: rank)) << 32 | UInt64(UInt32(bitPattern: merged))
    }

    /// (rank, merged id) or nil.
    @inline(__always)
    func get(_ a: Int32, _ b: Int32) -> (rank: Int32, merged: Int32)? {
        let k = UInt64(UInt32(bitPattern: a)) << 32 | UInt64(UInt32(bitPattern: b))
        return keys.withUnsafeBufferPointer { kb in
            var i = PairTable.slot(k, mask)
            while true {
                let kk = kb[i]
                if kk == k {
                    let v = values[i]
                    return (Int32(truncatingIfNeeded: v >> 32), Int32(truncatingIfNeeded: v))
                }
                if kk == PairTable.empty { return nil }
                i = (i + 1) & mask
            }
        }
    }
}
