import GLM
import GLMTensor

/// The seq2seq fine-tuning loss of the official code (docs/official-glm.md §6.2; official
/// `tasks/seq2seq/finetune.py:seq2seq_forward_step`):
///
///     losses = (1 − ε)·CE(logits, labels) + ε·mean_v(−log_softmax(logits))     (ε > 0)
///     loss   = Σ losses·loss_mask / Σ loss_mask
///
/// a token mean over the Part B positions of the target and its eop (`loss_mask`), label smoothing
/// ε = 0.1 in every official script. Blank infilling (`BlankLMDataset`) trains with the same loss.
public enum Seq2SeqLoss {
    /// The loss of `batch` as a scalar `[1]` tensor; `backward()` on it fills the model's gradients.
    /// Only rows with loss reach the vocabulary projection (the others add nothing to the loss or
    /// its gradient).
    public static func loss(model: GLMModel, batch: EncodedBatch, labelSmoothing: Float = 0.1) throws -> Tensor {
        let rows = batch.lossRows
        guard !rows.isEmpty else { throw TaskError.setting("the batch has no target tokens to train on") }
        let h = try model.hiddenStates(inputIds: batch.inputIds, positionIds: batch.positionIds, mask: batch.mask)
        let logits = try model.logits(hiddenStates: h, rows: rows)
        let t = try Tensor(int32: rows.map { batch.targets[$0] }, shape: [rows.count])
        let m = try Tensor(rows.map { batch.lossMask[$0] }, shape: [rows.count])
        return try Ops.crossEntropy(logits, targets: t, lossMask: m, overwriteLogits: true, labelSmoothing: labelSmoothing)
    }
}
