import Foundation

// Elementwise helpers, bias add and its backward, sums of squares and gradient clipping.

extension CPUKernels {
    /// `out[i] = a[i] + b[i]`; `a`, `b`, `out`: [count]. `out` may alias `a` or `b`.
    public static func add(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>,
                           _ out: UnsafeMutablePointer<Float>, count: Int) {
        parallelSIMD(count) { lo, hi in
            var i = lo
            while i + 16 <= hi { store16(load16(a + i) + load16(b + i), out + i); i += 16 }
            while i < hi { out[i] = a[i] + b[i]; i += 1 }
        }
    }

    /// `x[i] += y[i]`; `x`, `y`: [count] (residual connections, gradient accumulation).
    public static func addInPlace(_ x: UnsafeMutablePointer<Float>, _ y: UnsafePointer<Float>, count: Int) {
        parallelSIMD(count) { lo, hi in
            var i = lo
            while i + 16 <= hi { store16(load16(x + i) + load16(y + i), x + i); i += 16 }
            while i < hi { x[i] += y[i]; i += 1 }
        }
    }

    /// `y[i] += alpha · x[i]`; `x`, `y`: [count] (BLAS axpy; fused multiply-add per element).
    public static func axpy(alpha: Float, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int) {
        parallelSIMD(count) { lo, hi in
            var i = lo
            while i + 16 <= hi { store16(load16(y + i).addingProduct(alpha, load16(x + i)), y + i); i += 16 }
            while i < hi { y[i] = y[i].addingProduct(alpha, x[i]); i += 1 }
        }
    }

    /// `x[i] = value`; `x`: [count].
    public static func fill(_ x: UnsafeMutablePointer<Float>, count: Int, value: Float) {
        parallelSIMD(count, minChunk: 1 << 17) { lo, hi in
            (x + lo).update(repeating: value, count: hi - lo)
        }
    }

    /// `x[i] *= factor`; `x`: [count].
    public static func scale(_ x: UnsafeMutablePointer<Float>, count: Int, factor: Float) {
        parallelSIMD(count) { lo, hi in
            var i = lo
            while i + 16 <= hi { store16(load16(x + i) * factor, x + i); i += 16 }
            while i < hi { x[i] *= factor; i += 1 }
        }
    }

    /// Copies a strided block of rows: `dst[r·dstStride + c] = src[r·srcStride + c]`,
    /// r < rows, c < cols (gathering Q/K/V slices out of a fused QKV projection, views to
    /// contiguous storage). Rows must not overlap.
    public static func copyRows(_ src: UnsafePointer<Float>, srcStride: Int,
                                _ dst: UnsafeMutablePointer<Float>, dstStride: Int, rows: Int, cols: Int) {
        parallelFor(rows, minChunk: max(1, (1 << 16) / max(1, cols))) { r in
            for row in r { (dst + row * dstStride).update(from: src + row * srcStride, count: cols) }
        }
    }

    /// Adds a strided block of rows: `dst[r·dstStride + c] += src[r·srcStride + c]`.
    public static func addRows(_ src: UnsafePointer<Float>, srcStride: Int,
                               _ dst: UnsafeMutablePointer<Float>, dstStride: Int, rows: Int, cols: Int) {
        parallelFor(rows, minChunk: max(1, (1 << 15) / max(1, cols))) { r in
            for row in r {
                let s = src + row * srcStride, d = dst + row * dstStride
                var i = 0
                while i + 16 <= cols { store16(load16(d + i) + load16(s + i), d + i); i += 16 }
                while i < cols { d[i] += s[i]; i += 1 }
            }
        }
    }

    // MARK: Bias

    /// `x[r, c] += bias[c]`; `x`: [n, c] in place, `bias`: [c].
    public static func addBias(_ x: UnsafeMutablePointer<Float>, bias: UnsafePointer<Float>, n: Int, c: Int) {
        parallelFor(n, minChunk: max(1, elementwiseMinChunk / max(1, c))) { r in
            for row in r {
                let p = x + row * c
                var j = 0
                while j + 16 <= c { store16(load16(p + j) + load16(bias + j), p + j); j += 16 }
                while j < c { p[j] += bias[j]; j += 1 }
            }
        }
    }

    /// `dBias[c] += Σ_r dY[r, c]`; `dY`: [n, c], `dBias`: [c] (accumulates).
    ///
    /// Threads split the columns, and each column is summed over the rows in order, so the result
    /// is bitwise independent of the thread count.
    public static func biasBackward(dY: UnsafePointer<Float>, dBias: UnsafeMutablePointer<Float>, n: Int, c: Int) {
        let blocks = (c + 15) / 16
        parallelFor(blocks, minChunk: max(1, (1 << 16) / max(1, 16 * n))) { r in
            let c0 = r.lowerBound * 16, c1 = min(c, r.upperBound * 16)
            let width = c1 - c0
            let acc = UnsafeMutablePointer<Float>.allocate(capacity: width)
            defer { acc.deallocate() }
            acc.initialize(repeating: 0, count: width)
            for row in 0..<n {
                let p = dY + row * c + c0
                var j = 0
                while j + 16 <= width { store16(load16(acc + j) + load16(p + j), acc + j); j += 16 }
                while j < width { acc[j] += p[j]; j += 1 }
            }
            for j in 0..<width { dBias[c0 + j] += acc[j] }
        }
    }

    // MARK: Norms

    /// Σ x[i]², accumulated in Double: fixed 64K-element blocks (each in 16 float lanes over
    /// runs of 1024, then Double), block sums added in order, so the result is deterministic and
    /// the same for any thread count. `x`: [count].
    public static func sumOfSquares(_ x: UnsafePointer<Float>, count: Int) -> Double {
        let block = 1 << 16
        let nBlocks = (count + block - 1) / block
        if nBlocks == 0 { return 0 }
        let partial = UnsafeMutablePointer<Double>.allocate(capacity: nBlocks)
        defer { partial.deallocate() }
        parallelFor(nBlocks, minChunk: 1) { r in
            for b in r {
                let lo = b * block, hi = min(count, lo + block)
                var total = 0.0
                var i = lo
                while i < hi {
                    let end = min(hi, i + 1024)
                    var acc = F16x()
                    while i + 16 <= end { let v = load16(x + i); acc = acc.addingProduct(v, v); i += 16 }
                    var s = 0.0
                    for k in 0..<16 { s += Double(acc[k]) }
                    while i < end { s += Double(x[i]) * Double(x[i]); i += 1 }
                    total += s
                }
                partial[b] = total
            }
        }
        var sum = 0.0
        for b in 0..<nBlocks { sum += partial[b] }
        return sum
    }

    /// Clips a flat gradient buffer to L2 norm `maxNorm`, as `torch.nn.utils.clip_grad_norm_`:
    /// coef = maxNorm / (norm + 1e-6); the buffer is multiplied by coef when coef < 1.
    /// Returns the norm before clipping (NaN/Inf passes through, as torch does by default).
    /// `buffer`: [count].
    @discardableResult
    public static func clipGradNorm(_ buffer: UnsafeMutablePointer<Float>, count: Int, maxNorm: Float) -> Float {
        let norm = Float(sumOfSquares(buffer, count: count).squareRoot())
        if let coef = clipCoefficient(norm: norm, maxNorm: maxNorm) { scale(buffer, count: count, factor: coef) }
        return norm
    }

    /// The factor `maxNorm / (norm + 1e-6)` that clipping scales by, or nil when it is ≥ 1 (no clipping).
    public static func clipCoefficient(norm: Float, maxNorm: Float) -> Float? {
        let coef = maxNorm / (norm + 1e-6)
        return coef < 1 || coef.isNaN ? coef : nil
    }
}

extension ReferenceKernels {
    /// `out[i] = a[i] + b[i]`; [count].
    public static func add<T: ReferenceFloat>(_ a: UnsafePointer<T>, _ b: UnsafePointer<T>,
                                              _ out: UnsafeMutablePointer<T>, count: Int) {
        for i in 0..<count { out[i] = a[i] + b[i] }
    }

    /// `x[i] += y[i]`; [count].
    public static func addInPlace<T: ReferenceFloat>(_ x: UnsafeMutablePointer<T>, _ y: UnsafePointer<T>, count: Int) {
        for i in 0..<count { x[i] += y[i] }
    }

    /// `y[i] += alpha · x[i]`; [count].
    public static func axpy<T: ReferenceFloat>(alpha: T, _ x: UnsafePointer<T>, _ y: UnsafeMutablePointer<T>, count: Int) {
        for i in 0..<count { y[i] += alpha * x[i] }
    }

    /// `x[i] *= factor`; [count].
    public static func scale<T: ReferenceFloat>(_ x: UnsafeMutablePointer<T>, count: Int, factor: T) {
        for i in 0..<count { x[i] *= factor }
    }

    /// `x[r, c] += bias[c]`; `x`: [n, c], `bias`: [c].
    public static func addBias<T: ReferenceFloat>(_ x: UnsafeMutablePointer<T>, bias: UnsafePointer<T>, n: Int, c: Int) {
        for r in 0..<n { for j in 0..<c { x[r * c + j] += bias[j] } }
    }

    /// `dBias[c] += Σ_r dY[r, c]`; `dY`: [n, c], `dBias`: [c].
    public static func biasBackward<T: ReferenceFloat>(dY: UnsafePointer<T>, dBias: UnsafeMutablePointer<T>, n: Int, c: Int) {
        for j in 0..<c {
            var s: T = 0
            for r in 0..<n { s += dY[r * c + j] }
            dBias[j] += s
        }
    }

    /// Σ x[i]² in Double; [count].
    public static func sumOfSquares<T: ReferenceFloat>(_ x: UnsafePointer<T>, count: Int) -> Double {
        var s = 0.0
        for i in 0..<count { s += Double(x[i]) * Double(x[i]) }
        return s
    }

    /// As ``CPUKernels/clipGradNorm(_:count:maxNorm:)``; [count]. Returns the norm before clipping.
    @discardableResult
    public static func clipGradNorm<T: ReferenceFloat>(_ buffer: UnsafeMutablePointer<T>, count: Int, maxNorm: T) -> T {
        let norm = T(sumOfSquares(buffer, count: count).squareRoot())
        let coef = maxNorm / (norm + T(1e-6))
        if coef < 1 || coef.isNaN { for i in 0..<count { buffer[i] *= coef } }
        return norm
    }
}
