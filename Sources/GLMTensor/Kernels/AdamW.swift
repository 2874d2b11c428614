import Foundation

// AdamW with decoupled weight decay, in the exact operation order of torch.optim.AdamW
// (single-tensor path), which apex FusedAdam(adam_w_mode=True) matches.

/// The per-step scalars of AdamW, formed in Double as torch does in Python and rounded once.
struct AdamWScalars {
    let decay: Float        // 1 − lr·wd
    let oneMinusB1: Float   // lerp weight of the first moment
    let b2: Float, oneMinusB2: Float
    let stepSize: Float     // lr / (1 − β1^t)
    let bc2Sqrt: Float      // √(1 − β2^t)
    let eps: Float

    init(lr: Double, beta1: Double, beta2: Double, eps: Double, weightDecay: Double, step: Int) {
        let t = Double(max(1, step))
        decay = Float(1 - lr * weightDecay)
        oneMinusB1 = Float(1 - beta1)
        b2 = Float(beta2)
        oneMinusB2 = Float(1 - beta2)
        stepSize = Float(lr / (1 - Foundation.pow(beta1, t)))
        bc2Sqrt = Float((1 - Foundation.pow(beta2, t)).squareRoot())
        self.eps = Float(eps)
    }
}

extension CPUKernels {
    /// One AdamW step over a flat range, as torch.optim.AdamW:
    ///
    ///     g = grads·gradScale
    ///     p *= 1 − lr·wd                        (decoupled decay first)
    ///     m += (1 − β1)·(g − m)                 (torch's lerp)
    ///     v  = β2·v + (1 − β2)·g²
    ///     p −= lr/(1 − β1^t) · m / (√v / √(1 − β2^t) + eps)
    ///
    /// `params`, `grads`, `m`, `v`: [count]; `step` t is 1-based (after incrementing).
    /// `gradScale` folds in loss-scale or clipping factors without another pass over the grads.
    /// Ranges without weight decay (biases, layer norms) are separate calls with `weightDecay: 0`.
    /// The hyperparameters are Double, like the Python floats torch forms 1 − β, lr/(1 − β1^t)
    /// and √(1 − β2^t) from; each derived scalar is rounded to Float once (so 1 − β2 for
    /// β2 = 0.999 is Float(0.001), not 1 − Float(0.999), which is 1.3e-5 off).
    public static func adamW(params: UnsafeMutablePointer<Float>, grads: UnsafePointer<Float>,
                             m: UnsafeMutablePointer<Float>, v: UnsafeMutablePointer<Float>, count: Int,
                             lr: Double, beta1: Double = 0.9, beta2: Double = 0.999, eps: Double = 1e-8,
                             weightDecay: Double, step: Int, gradScale: Float = 1) {
        let s = AdamWScalars(lr: lr, beta1: beta1, beta2: beta2, eps: eps, weightDecay: weightDecay, step: step)
        @inline(__always) func update(_ p: F16x, _ g0: F16x, _ m0: F16x, _ v0: F16x) -> (F16x, F16x, F16x) {
            let g = g0 * gradScale
            let pd = p * s.decay
            let m1 = m0 + s.oneMinusB1 * (g - m0)
            let v1 = v0 * s.b2 + s.oneMinusB2 * (g * g)
            let denom = v1.squareRoot() / s.bc2Sqrt + s.eps
            return (pd - s.stepSize * (m1 / denom), m1, v1)
        }
        parallelSIMD(count, minChunk: 1 << 14) { lo, hi in
            var i = lo
            while i + 16 <= hi {
                let (p1, m1, v1) = update(load16(params + i), load16(grads + i), load16(m + i), load16(v + i))
                store16(p1, params + i); store16(m1, m + i); store16(v1, v + i)
                i += 16
            }
            if i < hi {
                let n = hi - i
                let (p1, m1, v1) = update(loadPartial(params + i, n), loadPartial(grads + i, n),
                                          loadPartial(m + i, n), loadPartial(v + i, n))
                storePartial(p1, params + i, n); storePartial(m1, m + i, n); storePartial(v1, v + i, n)
            }
        }
    }
}

extension ReferenceKernels {
    /// As ``CPUKernels/adamW(params:grads:m:v:count:lr:beta1:beta2:eps:weightDecay:step:gradScale:)``,
    /// with every scalar formed in T.
    public static func adamW<T: ReferenceFloat>(params: UnsafeMutablePointer<T>, grads: UnsafePointer<T>,
                                                m: UnsafeMutablePointer<T>, v: UnsafeMutablePointer<T>, count: Int,
                                                lr: T, beta1: T = T(0.9), beta2: T = T(0.999), eps: T = T(1e-8),
                                                weightDecay: T, step: Int, gradScale: T = 1) {
        var b1t: T = 1, b2t: T = 1
        for _ in 0..<max(1, step) { b1t *= beta1; b2t *= beta2 }
        let stepSize = lr / (1 - b1t)
        let bc2Sqrt = T.refSqrt(1 - b2t)
        for i in 0..<count {
            let g = grads[i] * gradScale
            params[i] *= 1 - lr * weightDecay
            m[i] += (1 - beta1) * (g - m[i])
            v[i] = v[i] * beta2 + (1 - beta2) * g * g
            params[i] -= stepSize * m[i] / (T.refSqrt(v[i]) / bc2Sqrt + eps)
        }
    }
}
