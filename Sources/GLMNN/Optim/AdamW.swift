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
    /// Parameters that receive weight decay, parallel to the store's parameters.
    public let decays: [Bool]
    private let store: ParameterStore

    /// `decays[i]` says whether `store.parameters[i]` gets weight decay (the model's rule, e.g.
    /// GLM's table: not on biases or LayerNorm parameters); nil decays every parameter.
    public init(store: ParameterStore, beta1: Double = 0.9, beta2: Double = 0.999, eps: Double = 1e-8,
                weightDecay: Double = 0.01, decays: [Bool]? = nil) {
        precondition(decays == nil || decays!.count == store.parameters.count, "one decay flag per parameter")
        self.store = store
        self.beta1 = beta1; self.beta2 = beta2; self.eps = eps; self.weightDecay = weightDecay
        m = Tensor.zeros([store.totalCount])
        v = Tensor.zeros([store.totalCount])
        self.decays = decays ?? store.parameters.map { _ in true }
    }

    /// One update with learning rate `lr` from the gradients in the store; the store's bf16
    /// weight copy, when it keeps one, is refreshed from the new values.
    public func update(lr: Double) {
        step += 1
        for (i, p) in store.parameters.enumerated() {
            // Views of store-sized buffers always fit their parameter, so this cannot throw.
            try! Ops.adamW(param: store.view(of: store.values, p), grad: store.view(of: store.grads, p),
                           m: store.view(of: m, p), v: store.view(of: v, p), lr: lr, beta1: beta1, beta2: beta2,
                           eps: eps, weightDecay: decays[i] ? weightDecay : 0, step: step)
        }
        if store.bf16Values != nil { store.refreshBF16() }
    }

    /// Restores the step count (with ``m`` and ``v`` filled by the caller) when resuming.
    public func restore(step: Int) { self.step = step }
}

/// Global gradient-norm clipping over the store's gradient buffer, as
/// `torch.nn.utils.clip_grad_norm_`; returns the norm before clipping.
@discardableResult
public func clipGradNorm(_ store: ParameterStore, maxNorm: Float) -> Float {
    Ops.clipGradNorm(store.grads, maxNorm: maxNorm)
}
