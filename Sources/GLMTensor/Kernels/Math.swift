import Foundation

// Vectorized transcendental functions on SIMD16<Float>. The C library's scalar expf/tanhf/erff
// would cost a call per element and block vectorization; these are branch-free polynomial and
// rational approximations with ~1–2 ulp (exp) and ≤ ~3e-7 relative (tanh, erf, erfc) error,
// checked against Foundation in ElementwiseMathTests.

/// e^x. Cody–Waite range reduction x = n·ln2 + r, |r| ≤ ln2/2, a degree-6 polynomial for e^r
/// (Cephes expf coefficients), then 2^n applied as two exponent-bit factors 2^⌊n/2⌋·2^⌈n/2⌉ so
/// n may run over [−150, 128]: results are gradual (subnormal) down to the true underflow, exactly
/// 0 below −104 (so masked softmax logits give exactly 0, as in torch), +∞ above 88.72,
/// NaN in → NaN out. ~1–2 ulp for normal results.
@_transparent func vexp(_ x: F16x) -> F16x {
    let log2e: Float = 1.44269504088896341
    // 1.5·2^23: adding it rounds to an integer held in the low mantissa bits.
    let magic: Float = 12582912.0
    let xc = vmin(vmax(x, F16x(repeating: -104.0)), F16x(repeating: 88.72283))
    let t = xc * log2e + magic
    let n = t - magic
    // ln2 split in a part exact in float and a correction (Cody–Waite); n·0.693359375 is exact.
    var r = xc - n * 0.693359375
    r = r + n * 2.12194440e-4
    var p = F16x(repeating: 1.9875691500e-4)
    p = p * r + 1.3981999507e-3
    p = p * r + 8.3334519073e-3
    p = p * r + 4.1665795894e-2
    p = p * r + 1.6666665459e-1
    p = p * r + 5.0000001201e-1
    let y = p * (r * r) + r + 1
    let k = unsafeBitCast(bitsOf(t) &- magic.bitPattern, to: SIMD16<Int32>.self)  // n as an integer
    let k1 = k &>> 1, k2 = k &- k1                                                 // both in [−75, 64]
    let a = floatsOf(unsafeBitCast((k1 &+ 127) &<< 23, to: U16x.self))
    let b = floatsOf(unsafeBitCast((k2 &+ 127) &<< 23, to: U16x.self))
    var result = (y * a) * b
    result.replace(with: Float.infinity, where: x .> 88.72283)
    // NaN needs no case of its own: the compare-and-blend clamp keeps it and it poisons y.
    return result
}

/// tanh(x): an odd polynomial for |x| < 0.625 (Cephes tanhf; no cancellation near 0), and
/// sign(x)·(1 − e)/(1 + e) with e = e^(−2|x|) elsewhere (e ≤ 0.29 there, so no cancellation either).
@_transparent func vtanh(_ x: F16x) -> F16x {
    let ax = vabs(x)
    let z = x * x
    var p = F16x(repeating: -5.70498872745e-3)
    p = p * z + 2.06390887954e-2
    p = p * z - 5.37397155531e-2
    p = p * z + 1.33314422036e-1
    p = p * z - 3.33332819422e-1
    let small = p * z * x + x
    let e = vexp(-2 * ax)
    var large = (1 - e) / (1 + e)
    large.replace(with: -large, where: x .< 0)
    var result = small
    result.replace(with: large, where: ax .>= 0.625)  // NaN fails the compare and stays in `small`
    return result
}

/// erfc(z) for z ≥ 0 with the exponent's argument passed in split as `zz` = z² (hi part) and
/// `zzLo` (its rounding error), so the e^(−z²) factor keeps full relative accuracy for large z.
/// Chebyshev fit of Numerical Recipes `erfcc` (fractional error < 1.2e-7 for all z ≥ 0).
@_transparent func verfcPositive(_ z: F16x, zz: F16x, zzLo: F16x) -> F16x {
    let t = 1 / (1 + 0.5 * z)
    var p = F16x(repeating: 0.17087277)
    p = p * t - 0.82215223
    p = p * t + 1.48851587
    p = p * t - 1.13520398
    p = p * t + 0.27886807
    p = p * t - 0.18628806
    p = p * t + 0.09678418
    p = p * t + 0.37409196
    p = p * t + 1.00002368
    p = p * t - 1.26551223
    // e^(−zz − zzLo + p) ≈ e^(−zz + p)·(1 − zzLo); |zzLo| ≤ ulp(zz)/2 so one term suffices.
    // Past zz = 1e4 the factor e^(−zz) is 0 anyway; drop zzLo there (it is NaN for zz = ∞).
    var lo = zzLo
    lo.replace(with: 0, where: zz .> 1e4)
    return t * vexp(p - zz) * (1 - lo)
}

/// erf(x) on |x| < 0.75 as x·P(x²), the Maclaurin series truncated after the x²³ term
/// (remainder < 1e-10 there), evaluated by Horner in x².
@_transparent func verfSmall(_ x: F16x) -> F16x {
    let z = x * x
    // 2/√π · (−1)^n / (n!·(2n+1)), n = 11 … 0
    var p = F16x(repeating: -1.1283791670955126 / (39916800.0 * 23.0))
    p = p * z + Float(1.1283791670955126 / (3628800.0 * 21.0))
    p = p * z - Float(1.1283791670955126 / (362880.0 * 19.0))
    p = p * z + Float(1.1283791670955126 / (40320.0 * 17.0))
    p = p * z - Float(1.1283791670955126 / (5040.0 * 15.0))
    p = p * z + Float(1.1283791670955126 / (720.0 * 13.0))
    p = p * z - Float(1.1283791670955126 / (120.0 * 11.0))
    p = p * z + Float(1.1283791670955126 / (24.0 * 9.0))
    p = p * z - Float(1.1283791670955126 / (6.0 * 7.0))
    p = p * z + Float(1.1283791670955126 / (2.0 * 5.0))
    p = p * z - Float(1.1283791670955126 / 3.0)
    p = p * z + Float(1.1283791670955126)
    return p * x
}

/// The threshold between the series and the erfc form of erf.
let erfSeriesLimit: Float = 0.75

/// erf(x): series near 0, 1 − erfc(|x|) (with sign) beyond, both ≤ ~2e-7 relative.
@_transparent func verf(_ x: F16x) -> F16x {
    let ax = vabs(x)
    let hi = ax * ax
    let zzLo = fmaResidual(ax, ax, hi)
    var large = 1 - verfcPositive(ax, zz: hi, zzLo: zzLo)
    large.replace(with: -large, where: x .< 0)
    var result = verfSmall(x)
    result.replace(with: large, where: ax .>= erfSeriesLimit)  // NaN stays in the series branch
    return result
}

/// a·b − p exactly (p = fl(a·b)), via a fused multiply-add: the rounding error of the product.
@_transparent func fmaResidual(_ a: F16x, _ b: F16x, _ p: F16x) -> F16x {
    (-p).addingProduct(a, b)
}

/// 1/(1 + e^(−x)), with relative accuracy a few ulp for all x (no cancellation: 1 + e ≥ 1).
@_transparent func vsigmoid(_ x: F16x) -> F16x {
    1 / (1 + vexp(-x))
}

// MARK: - Public elementwise math (also the test hook for the SIMD approximations)

extension CPUKernels {
    /// `y[i] = e^(x[i])`, `x`, `y`: [count] (may alias). SIMD, ~2 ulp.
    public static func exp(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int) {
        mapSIMD(ExpOp.self, x, y, count)
    }

    /// `y[i] = tanh(x[i])`, `x`, `y`: [count] (may alias). SIMD, ≤ ~3e-7 relative.
    public static func tanh(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int) {
        mapSIMD(TanhOp.self, x, y, count)
    }

    /// `y[i] = erf(x[i])`, `x`, `y`: [count] (may alias). SIMD, ≤ ~3e-7 relative.
    public static func erf(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int) {
        mapSIMD(ErfOp.self, x, y, count)
    }

    /// `y[i] = Op(x[i])` over [count], threaded; the tail through the same SIMD code.
    @inline(__always) static func mapSIMD<Op: SIMDMap>(_ op: Op.Type, _ x: UnsafePointer<Float>,
                                                       _ y: UnsafeMutablePointer<Float>, _ count: Int) {
        parallelSIMD(count, minChunk: 1 << 13) { lo, hi in
            var i = lo
            while i + 16 <= hi { store16(Op.apply(load16(x + i)), y + i); i += 16 }
            if i < hi { storePartial(Op.apply(loadPartial(x + i, hi - i)), y + i, hi - i) }
        }
    }
}

enum ExpOp: SIMDMap { @_transparent static func apply(_ x: F16x) -> F16x { vexp(x) } }
enum TanhOp: SIMDMap { @_transparent static func apply(_ x: F16x) -> F16x { vtanh(x) } }
enum ErfOp: SIMDMap { @_transparent static func apply(_ x: F16x) -> F16x { verf(x) } }
