// GELU forward/backward, both the tanh approximation (official GLM) and the exact erf form (HF).

/// √(2/π), the constant of the official `gelu_impl`.
let geluK: Float = 0.7978845608028654
let geluC: Float = 0.044715
let invSqrt2: Float = 0.70710678118654752
let invSqrt2Pi: Float = 0.39894228040143268

/// Tanh-GELU through the identity 0.5·(1 + tanh(u)) = σ(2u): y = x·σ(2u). One exp, and no
/// cancellation in 1 + tanh(u) for negative x, so the relative error stays ~ulp everywhere.
/// Returns (y, s = σ(2u)).
@_transparent func geluTanhCore(_ x: F16x) -> (y: F16x, s: F16x) {
    let x2 = x * x
    let u = geluK * x * (1 + geluC * x2)
    let s = vsigmoid(2 * u)
    return (x * s, s)
}

/// d/dx of tanh-GELU: 0.5·(1+t) + 0.5·x·(1−t²)·u′ with 1+t = 2s and 1−t² = 4s(1−s):
/// s + 2·x·s·(1−s)·k·(1 + 3c·x²).
@_transparent func geluTanhGrad(_ x: F16x) -> F16x {
    let x2 = x * x
    let u = geluK * x * (1 + geluC * x2)
    let s = vsigmoid(2 * u)
    let du = geluK * (1 + (3 * geluC) * x2)
    return s + 2 * x * s * (1 - s) * du
}

/// Φ(x) (the normal CDF) and φ(x) (its density). Φ(x) = 0.5·erfc(−x/√2): the erfc form for
/// |x/√2| ≥ 0.75 keeps full relative accuracy in the left tail, where 1 + erf would cancel;
/// x²/2 is formed exactly (hi + lo) so e^(−x²/2) stays accurate for large |x|.
@_transparent func normalCDFPDF(_ x: F16x) -> (cdf: F16x, pdf: F16x) {
    let z = x * invSqrt2
    let az = vabs(z)
    let hi = x * x
    let lo = fmaResidual(x, x, hi)
    let zz = 0.5 * hi, zzLo = 0.5 * lo
    let ec = verfcPositive(az, zz: zz, zzLo: zzLo)
    var large = 1 - 0.5 * ec
    large.replace(with: 0.5 * ec, where: x .< 0)
    var cdf = 0.5 + 0.5 * verfSmall(z)
    cdf.replace(with: large, where: az .>= erfSeriesLimit)
    var pdfLo = zzLo
    pdfLo.replace(with: 0, where: zz .> 1e4)
    let pdf = invSqrt2Pi * vexp(-zz) * (1 - pdfLo)
    return (cdf, pdf)
}

@_transparent func geluErf(_ x: F16x) -> F16x {
    x * normalCDFPDF(x).cdf
}

/// d/dx of erf-GELU: Φ(x) + x·φ(x).
@_transparent func geluErfGrad(_ x: F16x) -> F16x {
    let (cdf, pdf) = normalCDFPDF(x)
    return cdf + x * pdf
}

@_transparent func geluTanh(_ x: F16x) -> F16x { geluTanhCore(x).y }

enum GELUTanhOp: SIMDMap { @_transparent static func apply(_ x: F16x) -> F16x { geluTanh(x) } }
enum GELUErfOp: SIMDMap { @_transparent static func apply(_ x: F16x) -> F16x { geluErf(x) } }
enum GELUTanhBackOp: SIMDZip { @_transparent static func apply(_ x: F16x, _ dy: F16x) -> F16x { geluTanhGrad(x) * dy } }
enum GELUErfBackOp: SIMDZip { @_transparent static func apply(_ x: F16x, _ dy: F16x) -> F16x { geluErfGrad(x) * dy } }

extension CPUKernels {
    /// `y = gelu(x)`; `x`, `y`: [count] (may alias).
    public static func geluForward(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int,
                                   approximation: GELUApproximation = .tanh) {
        switch approximation {
        case .tanh: mapSIMD(GELUTanhOp.self, x, y, count)
        case .erf: mapSIMD(GELUErfOp.self, x, y, count)
        }
    }

    /// `dX = dY ⊙ gelu′(x)` (overwrites `dX`: GELU's input feeds nothing else, so there is
    /// nothing to accumulate into). `x`, `dY`, `dX`: [count]; `dX` may alias `dY`.
    public static func geluBackward(_ x: UnsafePointer<Float>, dY: UnsafePointer<Float>, dX: UnsafeMutablePointer<Float>,
                                    count: Int, approximation: GELUApproximation = .tanh) {
        switch approximation {
        case .tanh: zipSIMD(GELUTanhBackOp.self, x, dY, dX, count)
        case .erf: zipSIMD(GELUErfBackOp.self, x, dY, dX, count)
        }
    }

    /// Fused MLP bias + activation: `x[r, :] += bias` in place (x keeps the pre-activation that
    /// the backward needs), then `y = gelu(x)`. `x`, `y`: [n, c]; `bias`: [c].
    public static func biasGeluForward(_ x: UnsafeMutablePointer<Float>, bias: UnsafePointer<Float>,
                                       _ y: UnsafeMutablePointer<Float>, n: Int, c: Int,
                                       approximation: GELUApproximation = .tanh) {
        switch approximation {
        case .tanh: biasMap(GELUTanhOp.self, x, bias, y, n, c)
        case .erf: biasMap(GELUErfOp.self, x, bias, y, n, c)
        }
    }

    /// Fused backward of ``biasGeluForward(_:bias:_:n:c:approximation:)``:
    /// `dX = dY ⊙ gelu′(x)` (overwrites; may alias `dY`) and `dBias[c] += Σ_r dX[r, c]`
    /// (deterministic, as ``biasBackward(dY:dBias:n:c:)``). `x` (pre-activation incl. bias),
    /// `dY`, `dX`: [n, c]; `dBias`: [c].
    public static func biasGeluBackward(_ x: UnsafePointer<Float>, dY: UnsafePointer<Float>,
                                        dX: UnsafeMutablePointer<Float>, dBias: UnsafeMutablePointer<Float>,
                                        n: Int, c: Int, approximation: GELUApproximation = .tanh) {
        geluBackward(x, dY: dY, dX: dX, count: n * c, approximation: approximation)
        biasBackward(dY: dX, dBias: dBias, n: n, c: c)
    }

    /// `out[i] = Op(a[i], b[i])` over [count], threaded.
    @inline(__always) static func zipSIMD<Op: SIMDZip>(_ op: Op.Type, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>,
                                                       _ out: UnsafeMutablePointer<Float>, _ count: Int) {
        parallelSIMD(count, minChunk: 1 << 13) { lo, hi in
            var i = lo
            while i + 16 <= hi { store16(Op.apply(load16(a + i), load16(b + i)), out + i); i += 16 }
            if i < hi {
                let n = hi - i
                storePartial(Op.apply(loadPartial(a + i, n), loadPartial(b + i, n)), out + i, n)
            }
        }
    }

    /// `x[r, :] += bias; y = Op(x)` over [n, c], threaded over rows.
    @inline(__always) static func biasMap<Op: SIMDMap>(_ op: Op.Type, _ x: UnsafeMutablePointer<Float>, _ bias: UnsafePointer<Float>,
                                                       _ y: UnsafeMutablePointer<Float>, _ n: Int, _ c: Int) {
        parallelFor(n, minChunk: max(1, (1 << 13) / max(1, c))) { r in
            for row in r {
                let xp = x + row * c, yp = y + row * c
                var j = 0
                while j + 16 <= c {
                    let v = load16(xp + j) + load16(bias + j)
                    store16(v, xp + j)
                    store16(Op.apply(v), yp + j)
                    j += 16
                }
                if j < c {
                    let v = loadPartial(xp + j, c - j) + loadPartial(bias + j, c - j)
                    storePartial(v, xp + j, c - j)
                    storePartial(Op.apply(v), yp + j, c - j)
                }
            }
        }
    }
}

extension ReferenceKernels {
    /// gelu(v) in the textbook form, as the official code and torch write it.
    @inlinable public static func gelu<T: ReferenceFloat>(_ v: T, approximation: GELUApproximation) -> T {
        switch approximation {
        case .tanh:
            let k = T(0.7978845608028654), c = T(0.044715)
            return T(0.5) * v * (1 + T.refTanh(k * (v + c * v * v * v)))
        case .erf:
            return T(0.5) * v * (1 + T.refErf(v * T(0.70710678118654752440)))
        }
    }

    /// gelu′(v), differentiated by hand from ``gelu(_:approximation:)``.
    @inlinable public static func geluDerivative<T: ReferenceFloat>(_ v: T, approximation: GELUApproximation) -> T {
        switch approximation {
        case .tanh:
            let k = T(0.7978845608028654), c = T(0.044715)
            let t = T.refTanh(k * (v + c * v * v * v))
            return T(0.5) * (1 + t) + T(0.5) * v * (1 - t * t) * k * (1 + 3 * c * v * v)
        case .erf:
            let cdf = T(0.5) * (1 + T.refErf(v * T(0.70710678118654752440)))
            return cdf + v * T.refExp(-v * v / 2) * T(0.39894228040143268)
        }
    }

    /// `y = gelu(x)`; [count].
    public static func geluForward<T: ReferenceFloat>(_ x: UnsafePointer<T>, _ y: UnsafeMutablePointer<T>, count: Int,
                                                      approximation: GELUApproximation = .tanh) {
        for i in 0..<count { y[i] = gelu(x[i], approximation: approximation) }
    }

    /// `dX = dY ⊙ gelu′(x)` (overwrites); [count].
    public static func geluBackward<T: ReferenceFloat>(_ x: UnsafePointer<T>, dY: UnsafePointer<T>, dX: UnsafeMutablePointer<T>,
                                                       count: Int, approximation: GELUApproximation = .tanh) {
        for i in 0..<count { dX[i] = dY[i] * geluDerivative(x[i], approximation: approximation) }
    }

    /// `x[r, :] += bias`, then `y = gelu(x)`; `x`, `y`: [n, c], `bias`: [c].
    public static func biasGeluForward<T: ReferenceFloat>(_ x: UnsafeMutablePointer<T>, bias: UnsafePointer<T>,
                                                          _ y: UnsafeMutablePointer<T>, n: Int, c: Int,
                                                          approximation: GELUApproximation = .tanh) {
        addBias(x, bias: bias, n: n, c: c)
        geluForward(x, y, count: n * c, approximation: approximation)
    }

    /// `dX = dY ⊙ gelu′(x)`, `dBias += Σ_r dX`; `x`, `dY`, `dX`: [n, c], `dBias`: [c].
    public static func biasGeluBackward<T: ReferenceFloat>(_ x: UnsafePointer<T>, dY: UnsafePointer<T>,
                                                           dX: UnsafeMutablePointer<T>, dBias: UnsafeMutablePointer<T>,
                                                           n: Int, c: Int, approximation: GELUApproximation = .tanh) {
        geluBackward(x, dY: dY, dX: dX, count: n * c, approximation: approximation)
        biasBackward(dY: dX, dBias: dBias, n: n, c: c)
    }
}
