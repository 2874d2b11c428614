extension Ops {
    /// Token-mean cross-entropy: `Σ_i CE(logits_i, target_i)·mask_i / Σ_i mask_i` → scalar `[1]`
    /// (0 when the mask is all zero). `logits [n, V]`, `targets` i32 `[n]`, `lossMask` f32 `[n]`.
    ///
    /// The gradient `(softmax − onehot)·mask/Σmask` is computed in the same pass as the loss, so
    /// the `[n, V]` logits are read once; with `overwriteLogits` it is written over the logits
    /// themselves (training: saves an `[n, V]` buffer; the caller must not read them afterwards).
    /// Targets on masked-out rows are ignored; on counted rows they must lie in [0, V).
    ///
    /// With `labelSmoothing` ε > 0 each row's loss is `(1 − ε)·CE + ε·mean_v(−log p_v)`, the
    /// official seq2seq fine-tuning loss (docs/official-glm.md §6.2), gradient
    /// `(softmax − (1 − ε)·onehot − ε/V)·mask/Σmask`.
    ///
    /// `normalizer`, when given, replaces `Σ_i mask_i` as the denominator: a data-parallel process
    /// holding part of a batch divides by the mask sum of the WHOLE batch, so the processes'
    /// losses and gradients add up to those of the whole batch.
    public static func crossEntropy(_ logits: Tensor, targets: Tensor, lossMask: Tensor,
                                    overwriteLogits: Bool = false, labelSmoothing: Float = 0,
                                    normalizer: Double? = nil) throws -> Tensor {
        guard logits.rank == 2 else { throw TensorError.invalidArgument(op: "crossEntropy", message: "logits shape \(logits.shape) is not [n, V]") }
        let n = logits.shape[0], v = logits.shape[1]
        guard targets.count == n, targets.dtype == .i32 else {
            throw TensorError.shapeMismatch(op: "crossEntropy targets", lhs: [n], rhs: targets.shape)
        }
        guard lossMask.count == n, lossMask.dtype == .f32 else {
            throw TensorError.shapeMismatch(op: "crossEntropy loss mask", lhs: [n], rhs: lossMask.shape)
        }
        try checkF32("crossEntropy", logits)
        guard labelSmoothing >= 0, labelSmoothing < 1 else {
            throw TensorError.invalidArgument(op: "crossEntropy", message: "label smoothing \(labelSmoothing) outside [0, 1)")
        }
        if let normalizer, !(normalizer > 0 && normalizer.isFinite) {
            throw TensorError.invalidArgument(op: "crossEntropy", message: "normalizer \(normalizer) is not a positive number")
        }
        let lc = logits.contiguous(), tc = targets.contiguous(), mc = lossMask.contiguous()
        var maskSum = 0.0
        for i in 0..<n where mc.floats[i] != 0 {
            maskSum += Double(mc.floats[i])
            let t = tc.int32s[i]
            if t < 0 || Int(t) >= v {
                throw TensorError.invalidArgument(op: "crossEntropy", message: "target \(t) at row \(i) outside [0, \(v))")
            }
        }
        let wantGrad = Autograd.isRecording && logits.requiresGrad
        let losses = Tensor(uninitialized: [n])
        var dl: Tensor? = nil
        if wantGrad { dl = overwriteLogits ? lc : Tensor(uninitialized: [n, v]) }
        let denominator = normalizer ?? maskSum
        let gradScale: Float = denominator > 0 ? Float(1 / denominator) : 0
        let (lossSum, _) = Backend.current.crossEntropyForwardBackward(
            logits: lc.floats, ldLogits: v, targets: tc.int32s, lossMask: mc.floats, n: n, V: v,
            losses: losses.floats, dLogits: dl?.floats, ldDLogits: nil, gradScale: gradScale, labelSmoothing: labelSmoothing)
        let loss = try Tensor([denominator > 0 ? Float(lossSum / denominator) : 0], shape: [1])
        guard let dl else { return loss }
        return Autograd.record("crossEntropy", output: loss, inputs: [logits]) { node in
            let up = node.outputGrad.floats[0]
            if up != 1 { Backend.current.scale(dl.floats, count: dl.count, factor: up) }
            node.passInputGrad(0, dl)
        }
    }
}
