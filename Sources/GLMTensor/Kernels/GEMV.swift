extension CPUKernels {
    /// `y[i, r] = Σ_j x[i, j] · W[r, j]` for `m` input rows: `x` f32 `[m, K]`, `W` f32 `[N, K]`
    /// row-major (a Linear weight), `y` f32 `[m, N]` (overwritten).
    ///
    /// The decoding kernel. Each output is one dot product summed in a fixed order (16 f32 lanes
    /// in order of j, then the lanes, then the tail), whatever `m` is and whichever other rows
    /// share the call, so a sequence decoded in a batch gets bit-for-bit the logits it gets alone
    /// (oneDNN's sgemm sums differently for M = 1, M = 2…8 and M = 16). Weight rows are split over
    /// the threads and each is streamed from memory once for all `m` inputs, which is what
    /// batching decode steps buys: the time is the weight bandwidth, not the arithmetic.
    public static func gemv(x: UnsafePointer<Float>, w: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>,
                            m: Int, n: Int, k: Int) {
        let wp = SendablePointer(w), xp = SendablePointer(x), yp = SendablePointer(y)
        let full = k / 16 * 16
        parallelFor(n, minChunk: 64) { rows in
            var r = rows.lowerBound
            // 2 weight rows × 4 inputs per tile: 8 accumulators, 6 loads per 8 FMAs.
            while r + 2 <= rows.upperBound {
                let w0 = wp.base + r * k, w1 = w0 + k
                var i = 0
                while i + 4 <= m {
                    let x0 = xp.base + i * k, x1 = x0 + k, x2 = x1 + k, x3 = x2 + k
                    var a00 = F16x(), a01 = F16x(), a02 = F16x(), a03 = F16x()
                    var a10 = F16x(), a11 = F16x(), a12 = F16x(), a13 = F16x()
                    var j = 0
                    while j < full {
                        let u = load16(w0 + j), v = load16(w1 + j)
                        let b0 = load16(x0 + j), b1 = load16(x1 + j), b2 = load16(x2 + j), b3 = load16(x3 + j)
                        a00.addProduct(u, b0); a01.addProduct(u, b1); a02.addProduct(u, b2); a03.addProduct(u, b3)
                        a10.addProduct(v, b0); a11.addProduct(v, b1); a12.addProduct(v, b2); a13.addProduct(v, b3)
                        j += 16
                    }
                    yp.base[i * n + r] = finish(a00, w0, x0, from: full, to: k)
                    yp.base[(i + 1) * n + r] = finish(a01, w0, x1, from: full, to: k)
                    yp.base[(i + 2) * n + r] = finish(a02, w0, x2, from: full, to: k)
                    yp.base[(i + 3) * n + r] = finish(a03, w0, x3, from: full, to: k)
                    yp.base[i * n + r + 1] = finish(a10, w1, x0, from: full, to: k)
                    yp.base[(i + 1) * n + r + 1] = finish(a11, w1, x1, from: full, to: k)
                    yp.base[(i + 2) * n + r + 1] = finish(a12, w1, x2, from: full, to: k)
                    yp.base[(i + 3) * n + r + 1] = finish(a13, w1, x3, from: full, to: k)
                    i += 4
                }
                while i < m {
                    let xi = xp.base + i * k
                    var a0 = F16x(), a1 = F16x()
                    var j = 0
                    while j < full {
                        let b = load16(xi + j)
                        a0.addProduct(load16(w0 + j), b); a1.addProduct(load16(w1 + j), b)
                        j += 16
                    }
                    yp.base[i * n + r] = finish(a0, w0, xi, from: full, to: k)
                    yp.base[i * n + r + 1] = finish(a1, w1, xi, from: full, to: k)
                    i += 1
                }
                r += 2
            }
            while r < rows.upperBound {
                let w0 = wp.base + r * k
                for i in 0..<m {
                    let xi = xp.base + i * k
                    var a = F16x()
                    var j = 0
                    while j < full { a.addProduct(load16(w0 + j), load16(xi + j)); j += 16 }
                    yp.base[i * n + r] = finish(a, w0, xi, from: full, to: k)
                }
                r += 1
            }
        }
    }

    /// The lanes of one accumulator, then the `k % 16` tail: the one reduction order every tile uses.
    @inline(__always) static func finish(_ acc: F16x, _ w: UnsafePointer<Float>, _ x: UnsafePointer<Float>,
                                         from: Int, to: Int) -> Float {
        var s = acc.sum()
        for j in from..<to { s += w[j] * x[j] }
        return s
    }

    /// As ``gemv(x:w:y:m:n:k:)`` with `W` bf16 `[N, K]`: `y[i, r] = Σ_j x[i, j] · W[r, j]`.
    ///
    /// Streams half the bytes of the f32 kernel. A 32-bit word of W holds two bf16 values:
    /// element 2j in its low half, 2j+1 in its high half, so widening each is one shift or one
    /// mask (plain SIMD integer ops, which inline; the stdlib's lane conversions do not), against
    /// x split once into even and odd lanes. oneDNN's bf16 matmul for M = 1 ran at about 60 % of
    /// the bandwidth here. Summation order per output is fixed, as in the f32 kernel.
    public static func gemvBF16(x: UnsafePointer<Float>, w: UnsafePointer<UInt16>, y: UnsafeMutablePointer<Float>,
                                m: Int, n: Int, k: Int) {
        let pairs = k / 2
        let full = pairs / 16 * 16
        var xEven = [Float](repeating: 0, count: m * pairs), xOdd = [Float](repeating: 0, count: m * pairs)
        for i in 0..<m {
            for j in 0..<pairs { xEven[i * pairs + j] = x[i * k + 2 * j]; xOdd[i * pairs + j] = x[i * k + 2 * j + 1] }
        }
        xEven.withUnsafeBufferPointer { xe in
            xOdd.withUnsafeBufferPointer { xo in
                let ep = SendablePointer(xe.baseAddress!), op = SendablePointer(xo.baseAddress!)
                let wp = SendablePointer(w), xp = SendablePointer(x), yp = SendablePointer(y)
                parallelFor(n, minChunk: 64) { rows in
                    for r in rows {
                        let row = wp.base + r * k
                        let words = UnsafeRawPointer(row)
                        for i in 0..<m {
                            let xe = ep.base + i * pairs, xo = op.base + i * pairs
                            var accE = F16x(), accO = F16x()
                            var j = 0
                            while j < full {
                                let v = words.loadUnaligned(fromByteOffset: 4 * j, as: U16x.self)
                                let even = unsafeBitCast(v &<< 16, to: F16x.self)
                                let odd = unsafeBitCast(v & U16x(repeating: 0xFFFF_0000), to: F16x.self)
                                accE.addProduct(even, load16(xe + j))
                                accO.addProduct(odd, load16(xo + j))
                                j += 16
                            }
                            var sum = (accE + accO).sum()
                            let xi = xp.base + i * k
                            for t in (2 * j)..<k { sum += Float(bitPattern: UInt32(row[t]) << 16) * xi[t] }
                            yp.base[i * n + r] = sum
                        }
                    }
                }
            }
        }
    }
}

extension ReferenceKernels {
    /// As ``CPUKernels/gemv(x:w:y:m:n:k:)``, one output at a time in `T`.
    public static func gemv<T: ReferenceFloat>(x: UnsafePointer<T>, w: UnsafePointer<T>, y: UnsafeMutablePointer<T>,
                                               m: Int, n: Int, k: Int) {
        for i in 0..<m {
            for r in 0..<n {
                var s: T = 0
                for j in 0..<k { s += x[i * k + j] * w[r * k + j] }
                y[i * n + r] = s
            }
        }
    }

    /// As ``CPUKernels/gemvBF16(x:w:y:m:n:k:)``, one output at a time in Double.
    public static func gemvBF16(x: UnsafePointer<Float>, w: UnsafePointer<UInt16>, y: UnsafeMutablePointer<Float>,
                                m: Int, n: Int, k: Int) {
        for i in 0..<m {
            for r in 0..<n {
                var s = 0.0
                for j in 0..<k { s += Double(Float(bitPattern: UInt32(w[r * k + j]) << 16)) * Double(x[i * k + j]) }
                y[i * n + r] = Float(s)
            }
        }
    }
}
