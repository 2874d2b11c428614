import Foundation

// Counter-based random numbers (Philox4x32-10) and dropout built on them.

/// Philox4x32-10 (Salmon et al., SC'11, "Parallel random numbers: as easy as 1, 2, 3"), the
/// generator of cuRAND and PyTorch's CUDA RNG: a keyed bijection of a 128-bit counter, so
/// random number k of stream `seed` is a pure function of (seed, k). Any thread can produce any
/// slice, results do not depend on the thread split, and training resumes exactly from
/// (seed, offset) without replaying anything.
///
/// Layout of a stream, chosen so 16 blocks run side by side in the SIMD lanes and their words
/// land in element order without shuffles: element k lies in unit u = k / 64; with r = k % 64
/// it is word r / 16 of block 16·u + r % 16 (counter = that block number as 64 bits, upper
/// words 0; key = the seed). Each block serves exactly 4 elements. `offset` arguments count
/// elements, so consecutive calls hand out disjoint ranges by advancing the offset by the count.
public struct CounterRNG: Sendable, Hashable {
    public var seed: UInt64
    public init(seed: UInt64) { self.seed = seed }

    @usableFromInline static let m0: UInt32 = 0xD251_1F53, m1: UInt32 = 0xCD9E_8D57
    @usableFromInline static let w0: UInt32 = 0x9E37_79B9, w1: UInt32 = 0xBB67_AE85

    /// One Philox4x32-10 block: 4 × 32 random bits for 128-bit `counter` under 64-bit `key`.
    @inlinable
    public static func philox(counter: (UInt32, UInt32, UInt32, UInt32), key: (UInt32, UInt32))
        -> (UInt32, UInt32, UInt32, UInt32) {
        var (c0, c1, c2, c3) = counter
        var (k0, k1) = key
        for round in 0..<10 {
            if round > 0 { k0 &+= w0; k1 &+= w1 }
            let p0 = UInt64(m0) &* UInt64(c0)
            let p1 = UInt64(m1) &* UInt64(c2)
            let hi0 = UInt32(truncatingIfNeeded: p0 >> 32), lo0 = UInt32(truncatingIfNeeded: p0)
            let hi1 = UInt32(truncatingIfNeeded: p1 >> 32), lo1 = UInt32(truncatingIfNeeded: p1)
            (c0, c1, c2, c3) = (hi1 ^ c1 ^ k0, lo1, hi0 ^ c3 ^ k1, lo0)
        }
        return (c0, c1, c2, c3)
    }

    @inlinable var key: (UInt32, UInt32) { (UInt32(truncatingIfNeeded: seed), UInt32(truncatingIfNeeded: seed >> 32)) }

    /// The 4 words of block `block` of this stream.
    @inlinable public func block(_ block: UInt64) -> (UInt32, UInt32, UInt32, UInt32) {
        CounterRNG.philox(counter: (UInt32(truncatingIfNeeded: block), UInt32(truncatingIfNeeded: block >> 32), 0, 0), key: key)
    }

    /// Where element `index` lives: its block and which of the block's 4 words.
    @inlinable public static func location(of index: UInt64) -> (block: UInt64, word: Int) {
        let r = Int(index & 63)
        return ((index >> 6) << 4 | UInt64(r & 15), r >> 4)
    }

    /// Raw 32 bits of element `index`.
    @inlinable public func bits(at index: UInt64) -> UInt32 {
        let (b, w) = CounterRNG.location(of: index)
        let words = block(b)
        switch w {
        case 0: return words.0
        case 1: return words.1
        case 2: return words.2
        default: return words.3
        }
    }

    /// Uniform in [0, 1) with 24 random bits (every float of that grid is exact).
    @inlinable public static func uniform(_ bits: UInt32) -> Float { Float(bits >> 8) * 0x1p-24 }

    /// Uniform in [0, 1) of element `index`.
    @inlinable public func uniform(at index: UInt64) -> Float { CounterRNG.uniform(bits(at: index)) }

    /// Standard normal of element `index` by Box–Muller: words 0 and 1 of a block form one pair
    /// (cos for word 0, sin for word 1), words 2 and 3 the other. u1 ∈ (0, 1] (never 0, so the log
    /// is finite), radius √(−2 ln u1), angle 2π·u2, in Double, rounded once.
    public func normal(at index: UInt64) -> Float {
        let (b, w) = CounterRNG.location(of: index)
        let words = block(b)
        let (a, c) = w < 2 ? (words.0, words.1) : (words.2, words.3)
        return CounterRNG.boxMuller(a, c, sine: w & 1 == 1)
    }

    @inlinable static func boxMuller(_ a: UInt32, _ c: UInt32, sine: Bool) -> Float {
        let u1 = (Double(a >> 8) + 1) * 0x1p-24
        let u2 = Double(c >> 8) * 0x1p-24
        let rad = (-2 * Foundation.log(u1)).squareRoot()
        let th = 2 * Double.pi * u2
        return Float(rad * (sine ? Foundation.sin(th) : Foundation.cos(th)))
    }

    /// The four word vectors of unit `unit` (blocks 16·unit + lane in the lanes): element
    /// 64·unit + 16·j + lane is lane `lane` of word vector j.
    @inline(__always) func unitWords(_ unit: UInt64) -> (U16x, U16x, U16x, U16x) {
        let first = unit << 4  // a multiple of 16, so adding the lane never carries into the high word
        let c0 = U16x(repeating: UInt32(truncatingIfNeeded: first)) &+ U16x(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15)
        let c1 = U16x(repeating: UInt32(truncatingIfNeeded: first >> 32))
        return CounterRNG.philox16(c0, c1, key)
    }

    /// Philox4x32-10 on 16 counters at once (c2 = c3 = 0), with the 32×32→64 products built from
    /// 16-bit halves in 32-bit lanes (all plain vector integer ops).
    @inline(__always) static func philox16(_ c0in: U16x, _ c1in: U16x, _ key: (UInt32, UInt32)) -> (U16x, U16x, U16x, U16x) {
        var c0 = c0in, c1 = c1in, c2 = U16x(), c3 = U16x()
        var k0 = key.0, k1 = key.1
        for round in 0..<10 {
            if round > 0 { k0 &+= w0; k1 &+= w1 }
            let (hi0, lo0) = mulHiLo(c0, m0)
            let (hi1, lo1) = mulHiLo(c2, m1)
            (c0, c1, c2, c3) = (hi1 ^ c1 ^ k0, lo1, hi0 ^ c3 ^ k1, lo0)
        }
        return (c0, c1, c2, c3)
    }

    /// The high and low 32 bits of a·m per lane.
    @_transparent static func mulHiLo(_ a: U16x, _ m: UInt32) -> (U16x, U16x) {
        let ml = m & 0xFFFF, mh = m >> 16
        let al = a & 0xFFFF, ah = a &>> 16
        let t0 = al &* ml, t1 = ah &* ml, t2 = al &* mh, t3 = ah &* mh
        let mid = (t0 &>> 16) &+ (t1 & 0xFFFF) &+ (t2 & 0xFFFF)
        return (t3 &+ (t1 &>> 16) &+ (t2 &>> 16) &+ (mid &>> 16), a &* m)
    }

    /// Runs `edge(i)` for each relative element i whose unit is only partly inside
    /// [offset, offset + count), and `full(unit, i0)` (threaded) for every whole unit, i0 being
    /// the relative index of the unit's first element. Units are fixed by the absolute index,
    /// so the numbers do not depend on how the range is split.
    @inline(__always) static func forEachUnit(count: Int, offset: UInt64, edge: (Int) -> Void,
                                              full: (UInt64, Int) -> Void) {
        let start = offset, end = offset + UInt64(count)
        let firstUnit = (start + 63) >> 6, endUnit = end >> 6
        if firstUnit >= endUnit {
            for i in 0..<count { edge(i) }
            return
        }
        let headEnd = Int(firstUnit * 64 - start), tailStart = Int(endUnit * 64 - start)
        for i in 0..<headEnd { edge(i) }
        for i in tailStart..<count { edge(i) }
        parallelFor(Int(endUnit - firstUnit), minChunk: 256) { r in
            for u in r { full(firstUnit + UInt64(u), headEnd + 64 * u) }
        }
    }

    /// `ptr[i] = uniform(offset + i)` in [0, 1); [count]. Threaded, split-independent.
    public static func fillUniform(_ ptr: UnsafeMutablePointer<Float>, count: Int, seed: UInt64, offset: UInt64 = 0) {
        let rng = CounterRNG(seed: seed)
        forEachUnit(count: count, offset: offset, edge: { i in ptr[i] = rng.uniform(at: offset + UInt64(i)) }) { unit, i0 in
            let (a, b, c, d) = rng.unitWords(unit)
            store16(uniformLanes(a), ptr + i0)
            store16(uniformLanes(b), ptr + i0 + 16)
            store16(uniformLanes(c), ptr + i0 + 32)
            store16(uniformLanes(d), ptr + i0 + 48)
        }
    }

    /// ``uniform(_:)`` on 16 lanes (the integer-to-float conversion as a lane loop, vcvtdq2ps).
    @inline(__always) static func uniformLanes(_ w: U16x) -> F16x {
        let top = unsafeBitCast(w &>> 8, to: SIMD16<Int32>.self)
        var f = F16x()
        for k in 0..<16 { f[k] = Float(top[k]) }
        return f * 0x1p-24
    }

    /// `ptr[i] = mean + std · normal(at: offset + i)`; [count]. Threaded, split-independent.
    public static func fillNormal(_ ptr: UnsafeMutablePointer<Float>, count: Int, mean: Float = 0, std: Float = 1,
                                  seed: UInt64, offset: UInt64 = 0) {
        let rng = CounterRNG(seed: seed)
        forEachUnit(count: count, offset: offset, edge: { i in ptr[i] = mean + std * rng.normal(at: offset + UInt64(i)) }) { unit, i0 in
            let (a, b, c, d) = rng.unitWords(unit)
            for lane in 0..<16 {
                ptr[i0 + lane] = mean + std * boxMuller(a[lane], b[lane], sine: false)
                ptr[i0 + 16 + lane] = mean + std * boxMuller(a[lane], b[lane], sine: true)
                ptr[i0 + 32 + lane] = mean + std * boxMuller(c[lane], d[lane], sine: false)
                ptr[i0 + 48 + lane] = mean + std * boxMuller(c[lane], d[lane], sine: true)
            }
        }
    }

    /// The integer threshold t with (bits >> 8) ≥ t ⇔ uniform(bits) ≥ p, i.e. "kept" has
    /// probability 1 − p on the 2^24 grid.
    @inlinable static func keepThreshold(_ p: Float) -> UInt32 {
        UInt32(Swift.min(16_777_216.0, (Double(p) * 16_777_216.0).rounded(.up)))
    }
}

extension CPUKernels {
    /// Inverted dropout: element i is kept iff uniform(seed, offset + i) ≥ p, and
    /// `y[i] = kept ? x[i] / (1 − p) : 0`. If `mask` is non-nil it receives 1/0 per element
    /// (for a backward that reads it back); otherwise the backward regenerates it from
    /// (seed, offset). `x`, `y` (may alias), `mask`: [count]. p = 0 copies, p = 1 zeroes.
    public static func dropoutForward(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>,
                                      mask: UnsafeMutablePointer<UInt8>?, count: Int, p: Float,
                                      seed: UInt64, offset: UInt64) {
        dropoutApply(x, y, mask: mask, count: count, p: p, seed: seed, offset: offset)
    }

    /// `dX[i] = kept(i) ? dY[i] / (1 − p) : 0` with the same keep decision as the forward: read
    /// from `mask` if given, regenerated from (seed, offset) otherwise. Overwrites `dX` (may alias `dY`).
    public static func dropoutBackward(dY: UnsafePointer<Float>, dX: UnsafeMutablePointer<Float>,
                                       mask: UnsafePointer<UInt8>?, count: Int, p: Float,
                                       seed: UInt64, offset: UInt64) {
        if let m = mask {
            let s: Float = p >= 1 ? 0 : 1 / (1 - p)
            parallelFor(count, minChunk: elementwiseMinChunk) { r in
                for i in r { dX[i] = m[i] != 0 ? dY[i] * s : 0 }
            }
        } else {
            dropoutApply(dY, dX, mask: nil, count: count, p: p, seed: seed, offset: offset)
        }
    }

    static func dropoutApply(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>,
                             mask: UnsafeMutablePointer<UInt8>?, count: Int, p: Float,
                             seed: UInt64, offset: UInt64) {
        if p <= 0 {
            if UnsafePointer(y) != x { y.update(from: x, count: count) }
            mask?.update(repeating: 1, count: count)
            return
        }
        let s: Float = p >= 1 ? 0 : 1 / (1 - p)
        let threshold = CounterRNG.keepThreshold(p)
        let thr = SIMD16<Int32>(repeating: Int32(threshold))
        let rng = CounterRNG(seed: seed)
        CounterRNG.forEachUnit(count: count, offset: offset, edge: { i in
            let keep = (rng.bits(at: offset + UInt64(i)) >> 8) >= threshold
            y[i] = keep ? x[i] * s : 0
            mask?[i] = keep ? 1 : 0
        }) { unit, i0 in
            let (a, b, c, d) = rng.unitWords(unit)
            @inline(__always) func apply(_ w: U16x, _ i: Int) {
                // kept ⇔ (w >> 8) ≥ threshold ⇔ not (threshold > w >> 8); both below 2^25.
                let keep = ~greater(thr, unsafeBitCast(w &>> 8, to: SIMD16<Int32>.self))
                store16(floatsOf(intsOf(load16(x + i) * s) & keep), y + i)
                if let m = mask {
                    var bytes = SIMD16<UInt8>()
                    for k in 0..<16 { bytes[k] = UInt8(truncatingIfNeeded: keep[k] & 1) }
                    UnsafeMutableRawPointer(m + i).storeBytes(of: bytes, as: SIMD16<UInt8>.self)
                }
            }
            apply(a, i0); apply(b, i0 + 16); apply(c, i0 + 32); apply(d, i0 + 48)
        }
    }
}

extension ReferenceKernels {
    /// As ``CPUKernels/dropoutForward(_:_:mask:count:p:seed:offset:)``, one element at a time
    /// from ``CounterRNG/uniform(at:)``.
    public static func dropoutForward<T: ReferenceFloat>(_ x: UnsafePointer<T>, _ y: UnsafeMutablePointer<T>,
                                                         mask: UnsafeMutablePointer<UInt8>?, count: Int, p: Float,
                                                         seed: UInt64, offset: UInt64) {
        let rng = CounterRNG(seed: seed)
        let s: T = p >= 1 ? 0 : 1 / (1 - T(p))
        for i in 0..<count {
            let keep = p <= 0 || rng.uniform(at: offset + UInt64(i)) >= p
            y[i] = keep ? x[i] * s : 0
            mask?[i] = keep ? 1 : 0
        }
    }

    /// As ``CPUKernels/dropoutBackward(dY:dX:mask:count:p:seed:offset:)``.
    public static func dropoutBackward<T: ReferenceFloat>(dY: UnsafePointer<T>, dX: UnsafeMutablePointer<T>,
                                                          mask: UnsafePointer<UInt8>?, count: Int, p: Float,
                                                          seed: UInt64, offset: UInt64) {
        if let m = mask {
            let s: T = p >= 1 ? 0 : 1 / (1 - T(p))
            for i in 0..<count { dX[i] = m[i] != 0 ? dY[i] * s : 0 }
        } else {
            dropoutForward(dY, dX, mask: nil, count: count, p: p, seed: seed, offset: offset)
        }
    }
}
