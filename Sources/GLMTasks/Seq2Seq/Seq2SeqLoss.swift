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
    /// It is ``GLMModel/loss(inputIds:positionIds:mask:targets:lossMask:labelSmoothing:)`` on the
    /// batch, so only rows with loss reach the vocabulary projection.
    /// `normalizer` replaces the batch's loss-mask sum as the denominator (a data-parallel part of
    /// a batch divides by the whole batch's).
    public static func loss(model: GLMModel, batch: EncodedBatch, labelSmoothing: Float = 0.1, normalizer: Double? = nil) throws -> Tensor {
        guard !batch.lossRows.isEmpty else { throw TaskError.setting("the batch has no target tokens to train on") }
        let shape = [batch.batchSize, batch.length]
        return try model.loss(inputIds: batch.inputIds, positionIds: batch.positionIds, mask: batch.mask,
                              targets: Tensor(int32: batch.targets, shape: shape), lossMask: Tensor(batch.lossMask, shape: shape),
                              labelSmoothing: labelSmoothing, normalizer: normalizer)
    }
}
