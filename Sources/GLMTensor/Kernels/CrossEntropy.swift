import Foundation

// Cross-entropy over the vocabulary fused with log-softmax and its gradient.

extension CPUKernels {
    /// Per-row cross-entropy of `logits` against `targets`, weighted by `lossMask`, and optionally
    /// its gradient, in one kernel:
    ///
    ///     CE[i]         = logsumexp(logits[i, :]) − logits[i, targets[i]]
    ///     losses[i]     = CE[i] where lossMask[i] ≠ 0, else 0
    ///     dLogits[i, v] = (softmax(logits[i, :])[v] − [v == targets[i]]) · lossMask[i] · gradScale
    ///     returns (lossSum: Σ CE[i]·lossMask[i], maskSum: Σ lossMask[i]), both summed in row order in Double
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
                                                   gradScale: Float = 1) -> (lossSum: Double, maskSum: Double) {
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
                while j + 16 <= V { lmax = vmax(lmax, load16(x + j)); j += 16 }
                var mx = lmax.max()
                while j < V { mx = Swift.max(mx, x[j]); j += 1 }
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
                    while j + 16 <= V { store16(load16(d + j) * f, d + j); j += 16 }
                    while j < V { d[j] *= f; j += 1 }
                    d[t] -= g
                    let ce = Foundation.log(Double(sum)) + Double(mx) - Double(xt)
                    losses[i] = Float(ce)
                    rowLoss[i] = ce * Double(w)
                } else {
                    j = 0
                    while j + 16 <= V { vsum += vexp(load16(x + j) - mx); j += 16 }
                    if j < V { vsum += vexp(loadPartial(x + j, V - j, fill: -.infinity) - mx) }
                    let ce = Foundation.log(Double(vsum.sum())) + Double(mx) - Double(xt)
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
    /// As ``CPUKernels/crossEntropyForwardBackward(logits:ldLogits:targets:lossMask:n:V:losses:dLogits:ldDLogits:gradScale:)``
    /// (contiguous rows): max-shifted logsumexp, then the gradient from the normalized softmax.
    @discardableResult
    public static func crossEntropyForwardBackward<T: ReferenceFloat>(logits: UnsafePointer<T>, targets: UnsafePointer<Int32>,
                                                                      lossMask: UnsafePointer<T>, n: Int, V: Int,
                                                                      losses: UnsafeMutablePointer<T>,
                                                                      dLogits: UnsafeMutablePointer<T>?,
                                                                      gradScale: T = 1) -> (lossSum: Double, maskSum: Double) {
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
            let ce = T.refLog(sum) + mx - xt
            losses[i] = ce
            lossSum += Double(ce) * Double(w)
            if let d = dLogits {
                let g = w * gradScale
                for v in 0..<V { d[i * V + v] = T.refExp(x[v] - mx) / sum * g }
                d[i * V + t] -= g
            }
        }
        return (lossSum, maskSum)
    }
}
