// Layer norm over the last dimension (apex FusedLayerNorm / torch.nn.LayerNorm, biased variance).

extension CPUKernels {
    /// `y[r, :] = (x[r, :] − mean[r]) · rstd[r] · weight + bias`, with mean and the biased
    /// variance over the row and rstd = 1/√(var + eps). Saves `mean` and `rstd` for the backward.
    /// `x`, `y`: [rows, cols] (may alias); `weight`, `bias`: [cols]; `mean`, `rstd`: [rows].
    ///
    /// Two passes over each row (mean, then Σ(x − mean)²) while it sits in L1, so the variance
    /// does not suffer the cancellation of E[x²] − E[x]².
    public static func layerNormForward(_ x: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>,
                                        _ y: UnsafeMutablePointer<Float>, mean: UnsafeMutablePointer<Float>,
                                        rstd: UnsafeMutablePointer<Float>, rows: Int, cols: Int, eps: Float = 1e-5) {
        parallelFor(rows, minChunk: max(1, (1 << 14) / max(1, cols))) { r in
            for row in r {
                layerNormRow(x + row * cols, weight, bias, y + row * cols, &mean[row], &rstd[row], cols, eps)
            }
        }
    }

    /// Fused residual add + layer norm (the pre-LN block boundary): `x += delta` in place (x is
    /// the residual stream and keeps the sum), then `y = layerNorm(x)` as
    /// ``layerNormForward(_:weight:bias:_:mean:rstd:rows:cols:eps:)``, with the row still in L1.
    /// `x`, `delta`, `y`: [rows, cols]; `weight`, `bias`: [cols]; `mean`, `rstd`: [rows].
    /// The backward is ``layerNormBackward(dY:_:weight:mean:rstd:dX:dWeight:dBias:rows:cols:)``
    /// on the updated x, its dX being the gradient of both summands.
    public static func residualLayerNormForward(_ x: UnsafeMutablePointer<Float>, delta: UnsafePointer<Float>,
                                                weight: UnsafePointer<Float>, bias: UnsafePointer<Float>,
                                                _ y: UnsafeMutablePointer<Float>, mean: UnsafeMutablePointer<Float>,
                                                rstd: UnsafeMutablePointer<Float>, rows: Int, cols: Int, eps: Float = 1e-5) {
        parallelFor(rows, minChunk: max(1, (1 << 14) / max(1, cols))) { r in
            for row in r {
                let xp = x + row * cols, dp = delta + row * cols
                var j = 0
                while j + 16 <= cols { store16(load16(xp + j) + load16(dp + j), xp + j); j += 16 }
                while j < cols { xp[j] += dp[j]; j += 1 }
                layerNormRow(xp, weight, bias, y + row * cols, &mean[row], &rstd[row], cols, eps)
            }
        }
    }

    /// One row of the layer norm forward (x and y may alias).
    @inline(__always) static func layerNormRow(_ xp: UnsafePointer<Float>, _ weight: UnsafePointer<Float>,
                                               _ bias: UnsafePointer<Float>, _ yp: UnsafeMutablePointer<Float>,
                                               _ mean: inout Float, _ rstd: inout Float, _ cols: Int, _ eps: Float) {
        var acc = F16x()
        var j = 0
        while j + 16 <= cols { acc += load16(xp + j); j += 16 }
        var s = acc.sum()
        while j < cols { s += xp[j]; j += 1 }
        let mu = s / Float(cols)
        var acc2 = F16x()
        j = 0
        while j + 16 <= cols { let d = load16(xp + j) - mu; acc2 = acc2.addingProduct(d, d); j += 16 }
        var v = acc2.sum()
        while j < cols { let d = xp[j] - mu; v += d * d; j += 1 }
        let rs = 1 / (v / Float(cols) + eps).squareRoot()
        mean = mu
        rstd = rs
        j = 0
        while j + 16 <= cols {
            let n = (load16(xp + j) - mu) * rs
            store16(n * load16(weight + j) + load16(bias + j), yp + j)
            j += 16
        }
        while j < cols { yp[j] = (xp[j] - mu) * rs * weight[j] + bias[j]; j += 1 }
    }

    /// Backward of ``layerNormForward(_:weight:bias:_:mean:rstd:rows:cols:eps:)``, all three
    /// outputs accumulating (`+=`), so a residual stream's gradient adds into `dX` directly:
    ///
    ///     x̂ = (x − mean)·rstd,  g = dY ⊙ weight
    ///     dX     += rstd · (g − mean(g) − x̂ · mean(g ⊙ x̂))
    ///     dWeight += Σ_rows dY ⊙ x̂,   dBias += Σ_rows dY
    ///
    /// `dY`, `x`, `dX`: [rows, cols]; `weight`, `dWeight`, `dBias`: [cols]; `mean`, `rstd`: [rows].
    /// dWeight/dBias partials are kept per fixed block of 32 rows and summed in block order, so
    /// they are deterministic and independent of the thread count.
    public static func layerNormBackward(dY: UnsafePointer<Float>, _ x: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                                         mean: UnsafePointer<Float>, rstd: UnsafePointer<Float>,
                                         dX: UnsafeMutablePointer<Float>, dWeight: UnsafeMutablePointer<Float>,
                                         dBias: UnsafeMutablePointer<Float>, rows: Int, cols: Int) {
        if rows == 0 || cols == 0 { return }
        let blockRows = 32
        let nBlocks = (rows + blockRows - 1) / blockRows
        // [nBlocks][2][cols]: dWeight then dBias partial of each row block.
        let partial = UnsafeMutablePointer<Float>.allocate(capacity: nBlocks * 2 * cols)
        defer { partial.deallocate() }
        partial.initialize(repeating: 0, count: nBlocks * 2 * cols)
        parallelFor(nBlocks, minChunk: max(1, (1 << 14) / max(1, cols * blockRows))) { br in
            for b in br {
                let pw = partial + b * 2 * cols, pb = pw + cols
                for row in (b * blockRows)..<min(rows, (b + 1) * blockRows) {
                    let xp = x + row * cols, gp = dY + row * cols, dxp = dX + row * cols
                    let mu = mean[row], rs = rstd[row]
                    // Pass 1: mean(g), mean(g ⊙ x̂), and the weight/bias partials.
                    var a1 = F16x(), a2 = F16x()
                    var j = 0
                    while j + 16 <= cols {
                        let xh = (load16(xp + j) - mu) * rs
                        let dy = load16(gp + j)
                        let g = dy * load16(weight + j)
                        a1 += g
                        a2 = a2.addingProduct(g, xh)
                        store16(load16(pw + j).addingProduct(dy, xh), pw + j)
                        store16(load16(pb + j) + dy, pb + j)
                        j += 16
                    }
                    var s1 = a1.sum(), s2 = a2.sum()
                    while j < cols {
                        let xh = (xp[j] - mu) * rs, dy = gp[j], g = dy * weight[j]
                        s1 += g; s2 += g * xh
                        pw[j] += dy * xh; pb[j] += dy
                        j += 1
                    }
                    let m1 = s1 / Float(cols), m2 = s2 / Float(cols)
                    // Pass 2: dX += rstd·(g − m1 − x̂·m2).
                    j = 0
                    while j + 16 <= cols {
                        let xh = (load16(xp + j) - mu) * rs
                        let g = load16(gp + j) * load16(weight + j)
                        store16(load16(dxp + j) + rs * (g - m1 - xh * m2), dxp + j)
                        j += 16
                    }
                    while j < cols {
                        let xh = (xp[j] - mu) * rs, g = gp[j] * weight[j]
                        dxp[j] += rs * (g - m1 - xh * m2)
                        j += 1
                    }
                }
            }
        }
        // Fixed-order reduction of the block partials, threaded over columns.
        parallelFor((cols + 15) / 16, minChunk: max(1, (1 << 14) / max(1, 32 * nBlocks))) { cr in
            let c0 = cr.lowerBound * 16, c1 = min(cols, cr.upperBound * 16)
            for j in c0..<c1 {
                var sw: Float = 0, sb: Float = 0
                for b in 0..<nBlocks { sw += partial[b * 2 * cols + j]; sb += partial[b * 2 * cols + cols + j] }
                dWeight[j] += sw
                dBias[j] += sb
            }
        }
    }
}

extension ReferenceKernels {
    /// As ``CPUKernels/layerNormForward(_:weight:bias:_:mean:rstd:rows:cols:eps:)``.
    /// `x`, `y`: [rows, cols]; `weight`, `bias`: [cols]; `mean`, `rstd`: [rows].
    public static func layerNormForward<T: ReferenceFloat>(_ x: UnsafePointer<T>, weight: UnsafePointer<T>, bias: UnsafePointer<T>,
                                                           _ y: UnsafeMutablePointer<T>, mean: UnsafeMutablePointer<T>,
                                                           rstd: UnsafeMutablePointer<T>, rows: Int, cols: Int, eps: T = T(1e-5)) {
        for r in 0..<rows {
            var s: T = 0
            for j in 0..<cols { s += x[r * cols + j] }
            let mu = s / T(cols)
            var v: T = 0
            for j in 0..<cols { let d = x[r * cols + j] - mu; v += d * d }
            let rs = 1 / T.refSqrt(v / T(cols) + eps)
            mean[r] = mu
            rstd[r] = rs
            for j in 0..<cols { y[r * cols + j] = (x[r * cols + j] - mu) * rs * weight[j] + bias[j] }
        }
    }

    /// As ``CPUKernels/layerNormBackward(dY:_:weight:mean:rstd:dX:dWeight:dBias:rows:cols:)``
    /// (all three gradients accumulate).
    public static func layerNormBackward<T: ReferenceFloat>(dY: UnsafePointer<T>, _ x: UnsafePointer<T>, weight: UnsafePointer<T>,
                                                            mean: UnsafePointer<T>, rstd: UnsafePointer<T>,
                                                            dX: UnsafeMutablePointer<T>, dWeight: UnsafeMutablePointer<T>,
                                                            dBias: UnsafeMutablePointer<T>, rows: Int, cols: Int) {
        for r in 0..<rows {
            let mu = mean[r], rs = rstd[r]
            var m1: T = 0, m2: T = 0
            for j in 0..<cols {
                let xh = (x[r * cols + j] - mu) * rs, g = dY[r * cols + j] * weight[j]
                m1 += g; m2 += g * xh
            }
            m1 /= T(cols); m2 /= T(cols)
            for j in 0..<cols {
                let xh = (x[r * cols + j] - mu) * rs, dy = dY[r * cols + j], g = dy * weight[j]
                dX[r * cols + j] += rs * (g - m1 - xh * m2)
                dWeight[j] += dy * xh
                dBias[j] += dy
            }
        }
    }
}
