extension CPUKernels {
    /// `y[n] = Σ_k x[k] · W[n, k]` with `W` bf16 `[N, K]` row-major (a Linear weight), `x` f32 `[K]`,
    /// `y` f32 `[N]` (overwritten).
    ///
    /// Batch-1 decoding is one such product per layer projection: the weights are read once and
    /// the time is memory bandwidth. Widening bf16 to f32 is a 16-bit shift, so this streams
    /// half the bytes of an f32 GEMV; oneDNN's bf16 matmul for M = 1 ran at about 60 % of the
    /// bandwidth here. Rows are split over the threads; each row sums in f32 lanes.
    public static func gemvBF16(x: UnsafePointer<Float>, w: UnsafePointer<UInt16>, y: UnsafeMutablePointer<Float>,
                                n: Int, k: Int) {
        // A 32-bit word of W holds two bf16 values: element 2j in its low half, 2j+1 in its high
        // half. Widening each is then one shift or one mask (plain SIMD integer ops, which inline;
        // the stdlib's lane-type conversions do not), against x split once into even and odd lanes.
        let pairs = k / 2
        var xEven = [Float](repeating: 0, count: pairs), xOdd = [Float](repeating: 0, count: pairs)
        for j in 0..<pairs { xEven[j] = x[2 * j]; xOdd[j] = x[2 * j + 1] }
        xEven.withUnsafeBufferPointer { xe in
            xOdd.withUnsafeBufferPointer { xo in
                let ep = SendablePointer(xe.baseAddress!), op = SendablePointer(xo.baseAddress!)
                let wp = SendablePointer(w), xp = SendablePointer(x), yp = SendablePointer(y)
                parallelFor(n, minChunk: 64) { rows in
                    for r in rows {
                        let row = wp.base + r * k
                        let words = UnsafeRawPointer(row)
                        var accE = SIMD16<Float>(repeating: 0), accO = SIMD16<Float>(repeating: 0)
                        var j = 0
                        while j + 16 <= pairs {
                            let v = words.loadUnaligned(fromByteOffset: 4 * j, as: SIMD16<UInt32>.self)
                            let even = unsafeBitCast(v &<< 16, to: SIMD16<Float>.self)
                            let odd = unsafeBitCast(v & SIMD16<UInt32>(repeating: 0xFFFF_0000), to: SIMD16<Float>.self)
                            accE.addProduct(even, UnsafeRawPointer(ep.base + j).loadUnaligned(as: SIMD16<Float>.self))
                            accO.addProduct(odd, UnsafeRawPointer(op.base + j).loadUnaligned(as: SIMD16<Float>.self))
                            j += 16
                        }
                        var sum = (accE + accO).sum()
                        for i in (2 * j)..<k { sum += Float(bitPattern: UInt32(row[i]) << 16) * xp.base[i] }
                        yp.base[r] = sum
                    }
                }
            }
        }
    }
}

extension ReferenceKernels {
    /// As ``CPUKernels/gemvBF16(x:w:y:n:k:)``, one row at a time in Double.
    public static func gemvBF16(x: UnsafePointer<Float>, w: UnsafePointer<UInt16>, y: UnsafeMutablePointer<Float>,
                                n: Int, k: Int) {
        for r in 0..<n {
            var s = 0.0
            for i in 0..<k { s += Double(Float(bitPattern: UInt32(w[r * k + i]) << 16)) * Double(x[i]) }
            y[r] = Float(s)
        }
    }
}
