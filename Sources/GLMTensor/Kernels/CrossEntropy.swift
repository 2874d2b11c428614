import Foundation

// Cross-entropy over the vocabulary fused with log-softmax and its gradient.

extension CPUKernels {
    /// Per-row cross-entropy of `logits` against `targets`, weighted by `lossMask`, and optionally
    /// its gradient, in one kernel, with optional label smoothing ε = `labelSmoothing`:
    ///
    ///     lse           = logsumexp(logits[i, :])
    ///     CE[i]         = (1 − ε)·(lse − logits[i, targets[i]]) + ε·(lse − mean_v logits[i, v])
    ///     losses[i]     = CE[i] where lossMask[i] ≠ 0, else 0
    ///     dLogits[i, v] = (softmax(logits[i, :])[v] − (1 − ε)·[v == targets[i]] − ε/V) · lossMask[i] · gradScale
    ///     returns (lossSum: Σ CE[i]·lossMask[i], maskSum: Σ lossMask[i]), both summed in row order in Double
    ///
    /// ε = 0 is plain cross-entropy. With ε > 0 it is the official seq2seq loss
    /// `(1 − ε)·CE + ε·mean_v(−log p_v)` (docs/official-glm.md §6.2; official
    /// `tasks/seq2seq/finetune.py:seq2seq_forward_step`), whose second term is `lse − mean(logits)`.
    ///
    /// The caller forms the token mean loss = lossSum / maskSum and passes
    /// gradScale = upstream / maskSum (GLM's `loss_mask`-weighted mean, `pretrain_glm.py:forward_step`).
    ///
    /// `logits`: [n, V] with row stride `ldLogits` ≥ V; `targets`, `lossMask`, `losses`: [n];
    /// `dLogits`: [n, V] with row stride `ldDLogits` (default `ldLogits`), or nil for the loss only.
    /// `dLogits` may alias `logits` (in place). Rows whose mask is 0 are skipped (their target may be
    /// any value, e.g. padding) and get a zero gradient row; on the other rows targets must be in [0, V).
    ///
    /// Per row: one pass for the max, one writing e^(x − max) into `dLogits` while summing, one
    /// scaling; the row (120 KB at V = 30592) stays in L2 after the first pass, so memory sees
    /// one read and one write. Threads split the rows.
    @discardableResult
    public static func crossEntropyForwardBackward(logits: UnsafePointer<Float>, ldLogits: Int? = nil,
                                                   targets: UnsafePointer<Int32>, lossMask: UnsafePointer<Float>,
                                                   n: Int, V: Int, losses: UnsafeMutablePointer<Float>,
                                                   dLogits: UnsafeMutablePointer<Float>?, ldDLogits: Int? = nil,
                                                   gradScale: Float = 1, labelSmoothing eps: Float = 0) -> (lossSum: Double, maskSum: Double) {
        if n == 0 { return (0, 0) }
        let ldl = ldLogits ?? V
        let ldd = ldDLogits ?? ldl
        let rowLoss = UnsafeMutablePointer<Double>.allocate(capacity: n)
        defer { rowLoss.deallocate() }
        parallelFor(n, minChunk: max(1, (1 << 15) / max(1, V))) { r in
            for i in r {
                let w = lossMask[i]
                let x = logits + i * ldl
                if w == 0 {
                    losses[i] = 0
                    rowLoss[i] = 0
                    if let d = dLogits { (d + i * ldd).update(repeating: 0, count: V) }
                    continue
                }
                let t = Int(targets[i])
                assert(t >= 0 && t < V, "target \(t) of row \(i) outside [0, \(V)) on a row with loss")
                let xt = x[t]  // read before an in-place gradient overwrites the row
                var lmax = F16x(repeating: -.infinity)
                var j = 0
                // Σ logits (for the smoothing term) rides on the max pass when ε > 0.
                var rowMean = 0.0
                if eps != 0 {
                    var lsum = F16x()
                    while j + 16 <= V { let v = load16(x + j); lmax = vmax(lmax, v); lsum += v; j += 16 }
                    var total = Double(lsum.sum())
                    var k = j
                    while k < V { total += Double(x[k]); k += 1 }
                    rowMean = total / Double(V)
                } else {
                    while j + 16 <= V { lmax = vmax(lmax, load16(x + j)); j += 16 }
                }
                var mx = lmax.max()
                while j < V { mx = Swift.max(mx, x[j]); j += 1 }
                // lse − (1−ε)·x_t − ε·mean(x) = (1−ε)·CE + ε·(lse − mean(x))
                let offset = Double(mx) - (1 - Double(eps)) * Double(xt) - Double(eps) * rowMean
                var vsum = F16x()
                if let dl = dLogits {
                    let d = dl + i * ldd
                    j = 0
                    while j + 16 <= V { let e = vexp(load16(x + j) - mx); store16(e, d + j); vsum += e; j += 16 }
                    if j < V {
                        let e = vexp(loadPartial(x + j, V - j, fill: -.infinity) - mx)
                        storePartial(e, d + j, V - j); vsum += e
                    }
                    let sum = vsum.sum()
                    let g = w * gradScale
                    let f = g / sum
                    j = 0
                    if eps != 0 {
                        let u = F16x(repeating: g * eps / Float(V))
                        while j + 16 <= V { store16(load16(d + j) * f - u, d + j); j += 16 }
                        while j < V { d[j] = d[j] * f - g * eps / Float(V); j += 1 }
                    } else {
                        while j + 16 <= V { store16(load16(d + j) * f, d + j); j += 16 }
                        while j < V { d[j] *= f; j += 1 }
                    }
                    d[t] -= g * (1 - eps)
                    let ce = eps == 0 ? Foundation.log(Double(sum)) + Double(mx) - Double(xt) : Foundation.log(Double(sum)) + offset
                    losses[i] = Float(ce)
                    rowLoss[i] = ce * Double(w)
                } else {
                    j = 0
                    while j + 16 <= V { vsum += vexp(load16(x + j) - mx); j += 16 }
                    if j < V { vsum += vexp(loadPartial(x + j, V - j, fill: -.infinity) - mx) }
                    let ls = Foundation.log(Double(vsum.sum()))
                    let ce = eps == 0 ? ls + Double(mx) - Double(xt) : ls + offset
                    losses[i] = Float(ce)
                    rowLoss[i] = ce * Double(w)
                }
            }
        }
        var lossSum = 0.0, maskSum = 0.0
        for i in 0..<n { lossSum += rowLoss[i]; maskSum += Double(lossMask[i]) }
        return (lossSum, maskSum)
    }
}

extension ReferenceKernels {
    /// As ``CPUKernels/crossEntropyForwardBackward(logits:ldLogits:targets:lossMask:n:V:losses:dLogits:ldDLogits:gradScale:labelSmoothing:)``
    /// (contiguous rows): max-shifted logsumexp, the smoothing term as the official
    /// `-log_softmax(x).mean(-1)`, then the gradient from the normalized softmax.
    @discardableResult
    public static func crossEntropyForwardBackward<T: ReferenceFloat>(logits: UnsafePointer<T>, targets: UnsafePointer<Int32>,
                                                                      lossMask: UnsafePointer<T>, n: Int, V: Int,
                                                                      losses: UnsafeMutablePointer<T>,
                                                                      dLogits: UnsafeMutablePointer<T>?,
                                                                      gradScale: T = 1, labelSmoothing eps: T = 0) -> (lossSum: Double, maskSum: Double) {
        var lossSum = 0.0, maskSum = 0.0
        for i in 0..<n {
            let w = lossMask[i]
            maskSum += Double(w)
            let x = logits + i * V
            if w == 0 {
                losses[i] = 0
                if let d = dLogits { for v in 0..<V { d[i * V + v] = 0 } }
                continue
            }
            let t = Int(targets[i])
            let xt = x[t]
            var mx = -T.infinity
            for v in 0..<V { mx = Swift.max(mx, x[v]) }
            var sum: T = 0
            for v in 0..<V { sum += T.refExp(x[v] - mx) }
            let lse = T.refLog(sum) + mx
            // −mean_v log p_v, as the official code writes it: −log_softmax(x).mean(-1)
            var negMeanLogP: T = 0
            for v in 0..<V { negMeanLogP += lse - x[v] }
            negMeanLogP /= T(V)
            let ce = eps == 0 ? lse - xt : (1 - eps) * (lse - xt) + eps * negMeanLogP
            losses[i] = ce
            lossSum += Double(ce) * Double(w)
            if let d = dLogits {
                let g = w * gradScale
                for v in 0..<V { d[i * V + v] = (T.refExp(x[v] - mx) / sum - eps / T(V)) * g }
                d[i * V + t] -= g * (1 - eps)
            }
        }
        return (lossSum, maskSum)
    }
}
