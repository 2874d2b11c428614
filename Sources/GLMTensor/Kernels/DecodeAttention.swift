extension CPUKernels {
    /// Attention of one new query per sequence against that sequence's cached keys and values
    /// (a decoding step, where every key is visible):
    ///
    ///     s_t   = (q_ij · K[r, t, head j]) · scale          t < totals[i]
    ///     p     = softmax(s)
    ///     out_ij = Σ_t p_t · V[r, t, head j]
    ///
    /// for sequence `i` stored in cache row `r = rows[i]` and head `j`.
    /// - `q`: `[b, ldq]`, head j of sequence i at `q + i·ldq + j·d`.
    /// - `keys`, `values`: `[R, capacity, h]` (`rowStride = capacity·h`), head j at column j·d.
    /// - `out`: `[b, h]`.
    ///
    /// Each (sequence, head) is computed on its own, so a sequence's result does not depend on the
    /// others in the batch. Pairs are split over the threads.
    public static func attentionDecode(q: UnsafePointer<Float>, ldq: Int, keys: UnsafePointer<Float>,
                                       values: UnsafePointer<Float>, rowStride: Int, rows: UnsafePointer<Int>,
                                       totals: UnsafePointer<Int>, b: Int, heads: Int, d: Int, h: Int, scale: Float,
                                       out: UnsafeMutablePointer<Float>) {
        var longest = 0
        for i in 0..<b { longest = max(longest, totals[i]) }
        let qp = SendablePointer(q), kp = SendablePointer(keys), vp = SendablePointer(values)
        let rp = SendablePointer(rows), tp = SendablePointer(totals), op = SendablePointer(out)
        let full = d / 16 * 16
        parallelFor(b * heads, minChunk: max(1, (1 << 13) / max(1, longest * d))) { pairs in
            let scores = UnsafeMutablePointer<Float>.allocate(capacity: max(longest, 1))
            defer { scores.deallocate() }
            for pair in pairs {
                let i = pair / heads, j = pair % heads
                let n = tp.base[i]
                let qi = qp.base + i * ldq + j * d
                let kb = kp.base + rp.base[i] * rowStride + j * d, vb = vp.base + rp.base[i] * rowStride + j * d
                var mx = -Float.infinity
                for t in 0..<n {
                    let kt = kb + t * h
                    var acc = F16x()
                    var c = 0
                    while c < full { acc.addProduct(load16(qi + c), load16(kt + c)); c += 16 }
                    var s = acc.sum()
                    while c < d { s += qi[c] * kt[c]; c += 1 }
                    s *= scale
                    scores[t] = s
                    mx = Swift.max(mx, s)
                }
                var sum: Float = 0
                var t = 0
                var vsum = F16x()
                while t + 16 <= n { let e = vexp(load16(scores + t) - mx); store16(e, scores + t); vsum += e; t += 16 }
                if t < n {
                    let e = vexp(loadPartial(scores + t, n - t, fill: -.infinity) - mx)
                    storePartial(e, scores + t, n - t); vsum += e
                }
                sum = vsum.sum()
                let inv = 1 / sum
                let o = op.base + i * h + j * d
                o.update(repeating: 0, count: d)
                for t in 0..<n {
                    let p = scores[t] * inv
                    let vt = vb + t * h
                    var c = 0
                    while c < full { store16(load16(o + c).addingProduct(F16x(repeating: p), load16(vt + c)), o + c); c += 16 }
                    while c < d { o[c] += p * vt[c]; c += 1 }
                }
            }
        }
    }
}

extension ReferenceKernels {
    /// As ``CPUKernels/attentionDecode(q:ldq:keys:values:rowStride:rows:totals:b:heads:d:h:scale:out:)``,
    /// written plainly in `T`.
    public static func attentionDecode<T: ReferenceFloat>(q: UnsafePointer<T>, ldq: Int, keys: UnsafePointer<T>,
                                                          values: UnsafePointer<T>, rowStride: Int, rows: UnsafePointer<Int>,
                                                          totals: UnsafePointer<Int>, b: Int, heads: Int, d: Int, h: Int, scale: T,
                                                          out: UnsafeMutablePointer<T>) {
        for i in 0..<b {
            for j in 0..<heads {
                let n = totals[i]
                let base = rows[i] * rowStride + j * d
                var s = [T](repeating: 0, count: n)
                for t in 0..<n {
                    var dot: T = 0
                    for c in 0..<d { dot += q[i * ldq + j * d + c] * keys[base + t * h + c] }
                    s[t] = dot * scale
                }
                let mx = s.max() ?? 0
                let e = s.map { T.refExp($0 - mx) }
                let z = e.reduce(0, +)
                for c in 0..<d {
                    var acc: T = 0
                    for t in 0..<n { acc += e[t] / z * values[base + t * h + c] }
                    out[i * h + j * d + c] = acc
                }
            }
        }
    }
}
