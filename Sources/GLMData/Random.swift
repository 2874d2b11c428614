/// A small, fast, seedable random number generator (xoshiro256**, seeded through SplitMix64).
///
/// The data pipeline never uses `SystemRandomNumberGenerator`: every packed sample and every collated
/// batch must be a pure function of `(seed, index)` so that a run can resume its data stream exactly
/// and so that two machines see the same batches. Streams for different purposes are separated by
/// hashing a purpose tag together with the seed and the index (``GLMRandom/init(seed:stream:index:)``).
public struct GLMRandom: RandomNumberGenerator, Sendable {
    private var s0: UInt64, s1: UInt64, s2: UInt64, s3: UInt64

    /// Named purposes, so the packing of sample `i` and the collation of batch `i` never share numbers.
    public enum Stream: UInt64, Sendable {
        case packing = 0x5041_434B
        case collator = 0x434F_4C4C
        case benchmark = 0x4245_4E43
        case other = 0x4F54_4852
    }

    /// A generator seeded from one 64-bit value.
    public init(seed: UInt64) {
        var sm = seed
        s0 = GLMRandom.splitMix(&sm); s1 = GLMRandom.splitMix(&sm)
        s2 = GLMRandom.splitMix(&sm); s3 = GLMRandom.splitMix(&sm)
        if s0 | s1 | s2 | s3 == 0 { s0 = 1 }  // xoshiro's one forbidden state
    }

    /// The generator for item `index` of `stream` under a run's `seed`: a pure function of the three.
    public init(seed: UInt64, stream: Stream, index: Int) {
        var h = seed ^ 0x9E37_79B9_7F4A_7C15
        h = GLMRandom.mix(h ^ stream.rawValue)
        h = GLMRandom.mix(h ^ UInt64(bitPattern: Int64(index)))
        self.init(seed: h)
    }

    @inline(__always) static func splitMix(_ x: inout UInt64) -> UInt64 {
        x &+= 0x9E37_79B9_7F4A_7C15
        return mix(x)
    }

    @inline(__always) static func mix(_ v: UInt64) -> UInt64 {
        var z = v
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    @inline(__always) private static func rotl(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }

    /// The next 64 random bits.
    @inline(__always) public mutating func next() -> UInt64 {
        let result = GLMRandom.rotl(s1 &* 5, 7) &* 9
        let t = s1 << 17
        s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3
        s2 ^= t
        s3 = GLMRandom.rotl(s3, 45)
        return result
    }

    /// A uniform integer in `0..<n` (Lemire's unbiased multiply-shift). `n` must be positive.
    @inline(__always) public mutating func int(below n: Int) -> Int {
        precondition(n > 0, "int(below:) needs a positive bound")
        let bound = UInt64(n)
        var m = next().multipliedFullWidth(by: bound)
        if m.low < bound {
            let threshold = (0 &- bound) % bound
            while m.low < threshold { m = next().multipliedFullWidth(by: bound) }
        }
        return Int(m.high)
    }

    /// A uniform integer in the closed range `lo...hi` (Python's `randint`).
    @inline(__always) public mutating func int(in lo: Int, _ hi: Int) -> Int {
        lo + int(below: hi - lo + 1)
    }

    /// A uniform double in [0, 1) with 53 random bits.
    @inline(__always) public mutating func unit() -> Double {
        Double(next() >> 11) * (1.0 / 9_007_199_254_740_992.0)
    }

    /// Fisher–Yates shuffle driven by this generator (independent of the standard library's algorithm,
    /// which is not guaranteed stable across Swift versions).
    public mutating func shuffle<T>(_ a: inout [T]) {
        var i = a.count - 1
        while i > 0 {
            let j = int(below: i + 1)
            if i != j { a.swapAt(i, j) }
            i -= 1
        }
    }
}

/// Span lengths drawn from Poisson(λ) restricted to `1...maxLength` and re-normalised, as
/// `blocklm_utils.py` does with `rng.choices(range(1, 40), weights=poisson.pmf(...))`.
///
/// Sampling is by inverse CDF over the precomputed truncated pmf, so one draw costs one uniform number
/// and a short scan (the mass sits on 1...8).
public struct TruncatedPoisson: Sendable, Equatable {
    public let lambda: Double
    public let maxLength: Int
    /// Cumulative probabilities of lengths 1...maxLength (last element 1).
    public let cdf: [Double]
    /// The normalised pmf of lengths 1...maxLength (element 0 is length 1).
    public let pmf: [Double]

    public init(lambda: Double = 3, maxLength: Int = 39) {
        precondition(lambda > 0 && maxLength >= 1)
        self.lambda = lambda; self.maxLength = maxLength
        var raw = [Double]()
        var p = exp(-lambda)  // P(0)
        for k in 1...maxLength { p *= lambda / Double(k); raw.append(p) }
        let total = raw.reduce(0, +)
        pmf = raw.map { $0 / total }
        var c = 0.0
        var cum = [Double]()
        for v in pmf { c += v; cum.append(c) }
        cum[cum.count - 1] = 1
        cdf = cum
    }

    /// The mean of the truncated distribution.
    public var mean: Double { pmf.enumerated().reduce(0) { $0 + Double($1.offset + 1) * $1.element } }

    /// One span length in 1...maxLength.
    @inline(__always) public func sample(_ rng: inout GLMRandom) -> Int {
        let u = rng.unit()
        var k = 0
        while k < cdf.count - 1 && u >= cdf[k] { k += 1 }
        return k + 1
    }
}

import Foundation
