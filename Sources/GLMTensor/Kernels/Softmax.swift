import Foundation

// Attention softmax: the GLM separator mask, an explicit 0/1 mask, and the shared backward.

/// The value the official code gives masked attention logits (`scores·M − 65504·(1 − M)`,
/// the most negative fp16): finite, so even a fully masked row gives a defined softmax.
public let attentionMaskValue: Float = -65504

extension CPUKernels {
    /// GLM attention softmax with the separator mask, in place (scores → probs).
    ///
    /// `scores`: [batch, heads, sq, sk], the sq query rows being the LAST sq of the sk = m + sq
    /// key positions (m memory/cache columns, 0 in training). `sep`: [batch], indexing the
    /// current chunk. Key column c is visible to query row i iff c < m, or (c − m) < sep, or
    /// (c − m) ≤ i; the visible columns of a row are therefore the prefix
    /// c < m + max(sep, i + 1). Scores are multiplied by `scale`, masked columns set to exactly
    /// −65504, then softmax over each row, exactly the official arithmetic. Masked columns enter
    /// the max and the sum as the constant they are (in closed form, not touched one by one), so
    /// their probability is exactly what the official code gives (0 unless every score is ~−65504).
    public static func softmaxSepForward(_ scores: UnsafeMutablePointer<Float>, batch: Int, heads: Int, sq: Int, sk: Int,
                                         sep: UnsafePointer<Int32>, scale: Float = 1) {
        let m = sk - sq
        let rows = batch * heads * sq
        parallelFor(rows, minChunk: max(1, (1 << 14) / max(1, sk))) { r in
            for row in r {
                let i = row % sq, b = row / (heads * sq)
                let visible = min(sk, m + max(Int(sep[b]), i + 1))
                softmaxPrefixRow(scores + row * sk, visible: visible, cols: sk, scale: scale)
            }
        }
    }

    /// One row: scale the first `visible` scores, the rest are the mask constant.
    @inline(__always) static func softmaxPrefixRow(_ p: UnsafeMutablePointer<Float>, visible: Int, cols: Int, scale: Float) {
        // Pass 1: scale and max.
        var lmax = F16x(repeating: -.infinity)
        var j = 0
        while j + 16 <= visible {
            let v = load16(p + j) * scale
            store16(v, p + j)
            lmax = vmax(lmax, v)
            j += 16
        }
        var mx = lmax.max()
        while j < visible { let v = p[j] * scale; p[j] = v; mx = Swift.max(mx, v); j += 1 }
        let masked = cols - visible
        if masked > 0 { mx = Swift.max(mx, attentionMaskValue) }
        // Pass 2: exponentials and their sum.
        var vsum = F16x()
        j = 0
        while j + 16 <= visible {
            let e = vexp(load16(p + j) - mx)
            store16(e, p + j)
            vsum += e
            j += 16
        }
        if j < visible {
            let n = visible - j
            let e = vexp(loadPartial(p + j, n, fill: -.infinity) - mx)
            storePartial(e, p + j, n)
            vsum += e
        }
        var sum = vsum.sum()
        var maskedProb: Float = 0
        if masked > 0 {
            maskedProb = Foundation.exp(attentionMaskValue - mx)
            sum += Float(masked) * maskedProb
        }
        // Pass 3: normalize.
        let inv = 1 / sum
        j = 0
        while j + 16 <= visible { store16(load16(p + j) * inv, p + j); j += 16 }
        while j < visible { p[j] *= inv; j += 1 }
        if masked > 0 { (p + visible).update(repeating: maskedProb * inv, count: masked) }
    }

    /// Attention softmax with an explicit 0/1 mask, in place (scores → probs):
    /// `s' = (scores·scale)·M + (−65504)·(1 − M)`, then softmax over each row, as the official
    /// code does with a mask tensor. `scores`: [batch, heads, sq, sk]; `mask`: [batch, 1, sq, sk]
    /// (broadcast over heads; pass batch-stride 0 via `maskBatchStride` for a [1, 1, sq, sk] mask).
    public static func softmaxMaskedForward(_ scores: UnsafeMutablePointer<Float>, mask: UnsafePointer<Float>,
                                            batch: Int, heads: Int, sq: Int, sk: Int, scale: Float = 1,
                                            maskBatchStride: Int? = nil) {
        let mbs = maskBatchStride ?? sq * sk
        let rows = batch * heads * sq
        parallelFor(rows, minChunk: max(1, (1 << 14) / max(1, sk))) { r in
            for row in r {
                let i = row % sq, b = row / (heads * sq)
                let p = scores + row * sk, mp = mask + b * mbs + i * sk
                var lmax = F16x(repeating: -.infinity)
                var j = 0
                while j + 16 <= sk {
                    let mk = load16(mp + j)
                    let v = (load16(p + j) * scale) * mk + attentionMaskValue * (1 - mk)
                    store16(v, p + j)
                    lmax = vmax(lmax, v)
                    j += 16
                }
                var mx = lmax.max()
                while j < sk {
                    let v = (p[j] * scale) * mp[j] + attentionMaskValue * (1 - mp[j])
                    p[j] = v; mx = Swift.max(mx, v); j += 1
                }
                var vsum = F16x()
                j = 0
                while j + 16 <= sk { let e = vexp(load16(p + j) - mx); store16(e, p + j); vsum += e; j += 16 }
                if j < sk {
                    let e = vexp(loadPartial(p + j, sk - j, fill: -.infinity) - mx)
                    storePartial(e, p + j, sk - j); vsum += e
                }
                let inv = 1 / vsum.sum()
                j = 0
                while j + 16 <= sk { store16(load16(p + j) * inv, p + j); j += 16 }
                while j < sk { p[j] *= inv; j += 1 }
            }
        }
    }

    /// Softmax backward: `dScores = scale · P ⊙ (dP − Σ_row dP ⊙ P)`.
    /// `probs`, `dProbs`, `dScores`: [rows, cols]; `dScores` may alias `dProbs` (in place).
    /// `scale` folds in the forward's score scale (1 when the scaling lives in the GEMM).
    /// Masked positions get P·(…) = 0 since their probability is 0.
    public static func softmaxBackward(probs: UnsafePointer<Float>, dProbs: UnsafePointer<Float>,
                                       dScores: UnsafeMutablePointer<Float>, rows: Int, cols: Int, scale: Float = 1) {
        parallelFor(rows, minChunk: max(1, (1 << 14) / max(1, cols))) { r in
            for row in r {
                let p = probs + row * cols, dp = dProbs + row * cols, ds = dScores + row * cols
                var acc = F16x()
                var j = 0
                while j + 16 <= cols { acc = acc.addingProduct(load16(p + j), load16(dp + j)); j += 16 }
                var dot = acc.sum()
                while j < cols { dot += p[j] * dp[j]; j += 1 }
                j = 0
                while j + 16 <= cols {
                    store16(scale * load16(p + j) * (load16(dp + j) - dot), ds + j)
                    j += 16
                }
                while j < cols { ds[j] = scale * p[j] * (dp[j] - dot); j += 1 }
            }
        }
    }
}

extension ReferenceKernels {
    /// As ``CPUKernels/softmaxSepForward(_:batch:heads:sq:sk:sep:scale:)``, written the official
    /// way: build the 0/1 mask, `s·M − 65504·(1 − M)`, plain softmax.
    public static func softmaxSepForward<T: ReferenceFloat>(_ scores: UnsafeMutablePointer<T>, batch: Int, heads: Int, sq: Int, sk: Int,
                                                            sep: UnsafePointer<Int32>, scale: T = 1) {
        let m = sk - sq
        for b in 0..<batch {
            let mask = UnsafeMutablePointer<T>.allocate(capacity: sq * sk)
            defer { mask.deallocate() }
            for i in 0..<sq {
                for c in 0..<sk {
                    let visible = c < m || (c - m) < Int(sep[b]) || (c - m) <= i
                    mask[i * sk + c] = visible ? 1 : 0
                }
            }
            softmaxMaskedForward(scores + b * heads * sq * sk, mask: mask, batch: 1, heads: heads, sq: sq, sk: sk, scale: scale)
        }
    }

    /// As ``CPUKernels/softmaxMaskedForward(_:mask:batch:heads:sq:sk:scale:maskBatchStride:)``.
    public static func softmaxMaskedForward<T: ReferenceFloat>(_ scores: UnsafeMutablePointer<T>, mask: UnsafePointer<T>,
                                                               batch: Int, heads: Int, sq: Int, sk: Int, scale: T = 1,
                                                               maskBatchStride: Int? = nil) {
        let mbs = maskBatchStride ?? sq * sk
        let maskValue = T(-65504)
        for b in 0..<batch {
            for hd in 0..<heads {
                for i in 0..<sq {
                    let p = scores + ((b * heads + hd) * sq + i) * sk, mp = mask + b * mbs + i * sk
                    var mx = -T.infinity
                    for c in 0..<sk {
                        p[c] = (p[c] * scale) * mp[c] + maskValue * (1 - mp[c])
                        mx = Swift.max(mx, p[c])
                    }
                    var sum: T = 0
                    for c in 0..<sk { p[c] = T.refExp(p[c] - mx); sum += p[c] }
                    for c in 0..<sk { p[c] /= sum }
                }
            }
        }
    }

    /// As ``CPUKernels/softmaxBackward(probs:dProbs:dScores:rows:cols:scale:)``.
    public static func softmaxBackward<T: ReferenceFloat>(probs: UnsafePointer<T>, dProbs: UnsafePointer<T>,
                                                          dScores: UnsafeMutablePointer<T>, rows: Int, cols: Int, scale: T = 1) {
        for r in 0..<rows {
            var dot: T = 0
            for c in 0..<cols { dot += probs[r * cols + c] * dProbs[r * cols + c] }
            for c in 0..<cols { dScores[r * cols + c] = scale * probs[r * cols + c] * (dProbs[r * cols + c] - dot) }
        }
    }
}
