import GLMTensor

/// Decoupled AdamW over a whole ``ParameterStore`` (as torch.optim.AdamW / apex FusedAdam):
/// `p ← p·(1 − lr·wd)`, then `p ← p − lr·m̂/(√v̂ + ε)`.
///
/// Moments live in two buffers parallel to the store, so saving and restoring the optimizer is a
/// copy of two arrays and a step count.
public final class AdamW: @unchecked Sendable {
    public var beta1: Double
    public var beta2: Double
    public var eps: Double
    public var weightDecay: Double
    /// Steps taken (bias correction uses step+1 for the next update).
    public private(set) var step: Int = 0
    /// First and second moments, `[store.totalCount]` each.
    public let m: Tensor
    public let v: Tensor
    /// Parameters that receive weight decay (GLM: everything but biases and LayerNorm weights).
    public let decays: [Bool]
    private let store: ParameterStore

    public init(store: ParameterStore, beta1: Double = 0.9, beta2: Double = 0.999, eps: Double = 1e-8,
                weightDecay: Double = 0.01, decay: (Parameter) -> Bool = AdamW.glmDecayRule) {
        self.store = store
        self.beta1 = beta1; self.beta2 = beta2; self.eps = eps; self.weightDecay = weightDecay
        m = Tensor.zeros([store.totalCount])
        v = Tensor.zeros([store.totalCount])
        decays = store.parameters.map(decay)
    }

    /// GLM's rule (`glm_get_params_for_weight_decay_optimization`): no decay on biases or on any
    /// LayerNorm parameter.
    public static func glmDecayRule(_ p: Parameter) -> Bool {
        !(p.name.hasSuffix(".bias") || p.name.contains("layernorm"))
    }

    /// One update with learning rate `lr` from the gradients in the store.
    public func update(lr: Double) {
        step += 1
        for (i, p) in store.parameters.enumerated() {
            Backend.current.adamW(params: store.values.floats + p.offset, grads: store.grads.floats + p.offset,
                             m: m.floats + p.offset, v: v.floats + p.offset, count: p.count,
                             lr: lr, beta1: beta1, beta2: beta2, eps: eps,
                             weightDecay: decays[i] ? weightDecay : 0, step: step, gradScale: 1)
        }
    }

    /// Restores the step count (with ``m`` and ``v`` filled by the caller) when resuming.
    public func restore(step: Int) { self.step = step }
}

/// Global gradient-norm clipping over the store's gradient buffer, as
/// `torch.nn.utils.clip_grad_norm_`; returns the norm before clipping.
@discardableResult
public func clipGradNorm(_ store: ParameterStore, maxNorm: Float) -> Float {
    Backend.current.clipGradNorm(store.grads.floats, count: store.totalCount, maxNorm: maxNorm)
}
