import GLMTensor

/// Decoupled AdamW over a whole ``ParameterStore`` (as torch.optim.AdamW / apex FusedAdam):
/// `p ← p·(1 − lr·wd)`, then `p ← p − lr·m̂/(√v̂ + ε)`.
///
/// Moments live in two buffers parallel to the store, so saving and restoring the optimizer is a
/// copy of two arrays and a step count. Under ZeRO-1 an optimizer owns one ``shard`` of the
/// store's flat range: its moments cover only that range and ``update(lr:refreshBF16:)`` writes
/// only those values (AdamW is elementwise, so a shard's update equals its part of the whole one).
public final class AdamW: @unchecked Sendable {
    public var beta1: Double
    public var beta2: Double
    public var eps: Double
    public var weightDecay: Double
    /// Steps taken (bias correction uses step+1 for the next update).
    public private(set) var step: Int = 0
    /// First and second moments, `[shard.count]` each (`[store.totalCount]` without sharding);
    /// element i belongs to store element `shard.lowerBound + i`.
    public let m: Tensor
    public let v: Tensor
    /// The part of the store's flat range this optimizer updates (all of it by default).
    public let shard: Range<Int>
    /// Parameters that receive weight decay, parallel to the store's parameters.
    public let decays: [Bool]
    private let store: ParameterStore

    /// `decays[i]` says whether `store.parameters[i]` gets weight decay (the model's rule, e.g.
    /// GLM's table: not on biases or LayerNorm parameters); nil decays every parameter.
    /// `shard` (a range of the store's flat buffer) limits moments and updates to that range.
    public init(store: ParameterStore, beta1: Double = 0.9, beta2: Double = 0.999, eps: Double = 1e-8,
                weightDecay: Double = 0.01, decays: [Bool]? = nil, shard: Range<Int>? = nil) {
        precondition(decays == nil || decays!.count == store.parameters.count, "one decay flag per parameter")
        let shard = shard ?? 0..<store.totalCount
        precondition(shard.lowerBound >= 0 && shard.upperBound <= store.totalCount, "shard \(shard) outside the store")
        self.store = store
        self.shard = shard
        self.beta1 = beta1; self.beta2 = beta2; self.eps = eps; self.weightDecay = weightDecay
        m = Tensor.zeros([shard.count])
        v = Tensor.zeros([shard.count])
        self.decays = decays ?? store.parameters.map { _ in true }
    }

    /// Whether the moments cover the whole store.
    public var isSharded: Bool { shard != 0..<store.totalCount }

    /// Bytes of optimizer state this process holds (the two moments).
    public var stateBytes: Int { 2 * shard.count * MemoryLayout<Float>.size }

    /// One update with learning rate `lr` from the gradients in the store, of the values in
    /// ``shard``. With `refreshBF16` the store's bf16 weight copy, when it keeps one, is refreshed
    /// from the new values (a sharded caller refreshes after gathering the other shards instead).
    public func update(lr: Double, refreshBF16: Bool = true) {
        step += 1
        for (i, p) in store.parameters.enumerated() {
            let lo = Swift.max(p.offset, shard.lowerBound), hi = Swift.min(p.offset + p.count, shard.upperBound)
            guard lo < hi else { continue }
            // Flat views of store-sized (and shard-sized) buffers inside their bounds: cannot throw.
            try! Ops.adamW(param: store.values.elements(lo..<hi), grad: store.grads.elements(lo..<hi),
                           m: m.elements((lo - shard.lowerBound)..<(hi - shard.lowerBound)),
                           v: v.elements((lo - shard.lowerBound)..<(hi - shard.lowerBound)),
                           lr: lr, beta1: beta1, beta2: beta2, eps: eps,
                           weightDecay: decays[i] ? weightDecay : 0, step: step)
        }
        if refreshBF16, store.bf16Values != nil { store.refreshBF16() }
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
