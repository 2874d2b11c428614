import Foundation

// Counter-based random numbers (Philox4x32-10) and dropout built on them.

/// Philox4x32-10 (Salmon et al., SC'11, "Parallel random numbers: as easy as 1, 2, 3"), the
/// generator of cuRAND and PyTorch's CUDA RNG: a keyed bijection of a 128-bit counter, so
/// random number k of stream `seed` is a pure function of (seed, k). Any thread can produce any
/// slice, results do not depend on the thread split, and training resumes exactly from
/// (seed, offset) without replaying anything.
///
/// Element k of a stream is lane k % 4 of block `philox(counter: k / 4, key: seed)`; `offset`
/// arguments count elements (not blocks), so consecutive calls can hand out disjoint ranges by
/// advancing the offset by the element count.
public struct CounterRNG: Sendable, Hashable {
    public var seed: UInt64
    public init(seed: UInt64) { self.seed = seed }

    /// One Philox4x32-10 block: 4 × 32 random bits for 128-bit `counter` under 64-bit `key`.
    @inlinable
    public static func philox(counter: (UInt32, UInt32, UInt32, UInt32), key: (UInt32, UInt32))
        -> (UInt32, UInt32, UInt32, UInt32) {
        var (c0, c1, c2, c3) = counter
        var (k0, k1) = key
        for round in 0..<10 {
            if round > 0 { k0 &+= 0x9E37_79B9; k1 &+= 0xBB67_AE85 }
            let p0 = UInt64(0xD251_1F53) &* UInt64(c0)
            let p1 = UInt64(0xCD9E_8D57) &* UInt64(c2)
            let hi0 = UInt32(truncatingIfNeeded: p0 >> 32), lo0 = UInt32(truncatingIfNeeded: p0)
            let hi1 = UInt32(truncatingIfNeeded: p1 >> 32), lo1 = UInt32(truncatingIfNeeded: p1)
            (c0, c1, c2, c3) = (hi1 ^ c1 ^ k0, lo1, hi0 ^ c3 ^ k1, lo0)
        }
        return (c0, c1, c2, c3)
    }

    /// The 4 words of block `block` of this stream (counter = block as 64 bits, high words 0).
    @inlinable public func block(_ block: UInt64) -> (UInt32, UInt32, UInt32, UInt32) {
        CounterRNG.philox(counter: (UInt32(truncatingIfNeeded: block), UInt32(truncatingIfNeeded: block >> 32), 0, 0),
                          key: (UInt32(truncatingIfNeeded: seed), UInt32(truncatingIfNeeded: seed >> 32)))
    }

    /// Raw 32 bits of element `index`.
    @inlinable public func bits(at index: UInt64) -> UInt32 {
        let b = block(index >> 2)
        switch index & 3 {
        case 0: return b.0
        case 1: return b.1
        case 2: return b.2
        default: return b.3
        }
    }

    /// Uniform in [0, 1) with 24 random bits (every float of that grid is exact).
    @inlinable public static func uniform(_ bits: UInt32) -> Float { Float(bits >> 8) * 0x1p-24 }

    /// Uniform in [0, 1) of element `index`.
    @inlinable public func uniform(at index: UInt64) -> Float { CounterRNG.uniform(bits(at: index)) }

    /// Calls `body(k, w)` with the raw bits `w` of every element k in `lo..<hi`, one Philox block
    /// per 4 elements (not one per element).
    @inlinable func forEachBits(_ lo: UInt64, _ hi: UInt64, _ body: (UInt64, UInt32) -> Void) {
        var k = lo
        while k < hi {
            let b = block(k >> 2)
            var lane = Int(k & 3)
            while lane < 4 && k < hi {
                let w: UInt32
                switch lane { case 0: w = b.0; case 1: w = b.1; case 2: w = b.2; default: w = b.3 }
                body(k, w)
                k += 1; lane += 1
            }
        }
    }

    /// `ptr[i] = uniform(offset + i)` in [0, 1); [count]. Threaded, split-independent.
    public static func fillUniform(_ ptr: UnsafeMutablePointer<Float>, count: Int, seed: UInt64, offset: UInt64 = 0) {
        let rng = CounterRNG(seed: seed)
        parallelFor((count + 3) / 4, minChunk: 1 << 12) { r in
            let lo = r.lowerBound * 4, hi = min(count, r.upperBound * 4)
            rng.forEachBits(offset + UInt64(lo), offset + UInt64(hi)) { k, w in
                ptr[Int(k - offset)] = uniform(w)
            }
        }
    }

    /// `ptr[i] = mean + std · z(offset + i)` with z standard normal by Box–Muller: elements
    /// 4q, 4q+1 are cos/sin of the pair (u0, u1) of block q and 4q+2, 4q+3 of (u2, u3), so each
    /// element is still a function of its index alone. [count]. Threaded, split-independent.
    public static func fillNormal(_ ptr: UnsafeMutablePointer<Float>, count: Int, mean: Float = 0, std: Float = 1,
                                  seed: UInt64, offset: UInt64 = 0) {
        let rng = CounterRNG(seed: seed)
        parallelFor((count + 3) / 4, minChunk: 1 << 10) { r in
            let lo = UInt64(r.lowerBound * 4), hi = UInt64(min(count, r.upperBound * 4))
            var k = offset + lo
            let end = offset + hi
            while k < end {
                let q = k >> 2
                let b = rng.block(q)
                let z = boxMuller(b)
                var lane = Int(k & 3)
                while lane < 4 && k < end {
                    ptr[Int(k - offset)] = mean + std * z[lane]
                    k += 1; lane += 1
                }
            }
        }
    }

    /// Four standard normals from one block: u1 ∈ (0, 1] (never 0, so the log is finite),
    /// radius √(−2 ln u1), angle 2π·u2; computed in Double and rounded once.
    @inlinable static func boxMuller(_ b: (UInt32, UInt32, UInt32, UInt32)) -> SIMD4<Float> {
        func pair(_ a: UInt32, _ c: UInt32) -> (Float, Float) {
            let u1 = (Double(a >> 8) + 1) * 0x1p-24
            let u2 = Double(c >> 8) * 0x1p-24
            let rad = (-2 * Foundation.log(u1)).squareRoot()
            let th = 2 * Double.pi * u2
            return (Float(rad * Foundation.cos(th)), Float(rad * Foundation.sin(th)))
        }
        let (z0, z1) = pair(b.0, b.1)
        let (z2, z3) = pair(b.2, b.3)
        return SIMD4(z0, z1, z2, z3)
    }

    /// Normal of element `index` (as ``fillNormal(_:count:mean:std:seed:offset:)`` with mean 0, std 1).
    public func normal(at index: UInt64) -> Float { CounterRNG.boxMuller(block(index >> 2))[Int(index & 3)] }

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
        let rng = CounterRNG(seed: seed)
        parallelFor((count + 3) / 4, minChunk: 1 << 12) { r in
            let lo = r.lowerBound * 4, hi = min(count, r.upperBound * 4)
            var i = lo
            while i < hi {
                let k = offset + UInt64(i)
                let b = rng.block(k >> 2)
                var lane = Int(k & 3)
                while lane < 4 && i < hi {
                    let w: UInt32
                    switch lane { case 0: w = b.0; case 1: w = b.1; case 2: w = b.2; default: w = b.3 }
                    let keep = (w >> 8) >= threshold
                    y[i] = keep ? x[i] * s : 0
                    mask?[i] = keep ? 1 : 0
                    i += 1; lane += 1
                }
            }
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
