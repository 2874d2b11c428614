import GLM
import GLMTensor

/// The official cloze heads and losses as functions of a ``GLMModel`` (docs/official-glm.md §6.1;
/// official `model/downstream.py:GLMForSingleTokenCloze`, `GLMForMultiTokenCloze`,
/// `finetune_glm.py:finetune_forward_step`):
///
/// - single-token: the raw logits at each sample's sop position (index sep), read at the label
///   verbalisers' ids → scores `[B, labels]`;
/// - multi-token: per choice Σ log_softmax(logits)[target] over the answer tokens and eop, divided
///   by count^p when the length penalty p > 0 → scores `[B, choices]`; a sample with fewer choices
///   than the widest gets −10000 for the missing ones;
/// - loss: cross-entropy of the scores against the labels (batch mean); WSC's `mix` adds the mean
///   −score of the label's choice.
///
/// All choices of a batch run through the model in one forward pass; only the rows that are scored
/// reach the vocabulary projection.
public struct ClozeHead: Sendable {
    public var loss: ClozeLoss
    public var lengthPenalty: Double

    public init(loss: ClozeLoss = .crossEntropy, lengthPenalty: Double = 0) {
        self.loss = loss; self.lengthPenalty = lengthPenalty
    }

    /// The head a task's defaults ask for.
    public init(_ defaults: FinetuneDefaults) { self.init(loss: defaults.loss, lengthPenalty: defaults.lengthPenalty) }

    /// The choice scores `[B, C]` (autograd records when it is on and the model's parameters need
    /// gradients).
    public func scores(model: GLMModel, batch: ClozeBatch) throws -> Tensor {
        let hidden = try model.hiddenStates(inputIds: batch.inputIds, positionIds: batch.positionIds, mask: batch.mask)
        let w = batch.width
        switch batch.kind {
        case .single:
            let rows = batch.sequences.map { $0[0] * w + Int(batch.seps[$0[0]]) }
            let logits = try model.logits(hiddenStates: hidden, rows: rows)
            return try ClozeOps.gatherColumns(logits, columns: batch.candidateIds)
        case .multi:
            var rows: [Int] = [], targets: [Int32] = []
            var offsets: [Int] = []
            for (r, t) in zip(batch.scoreRows, batch.scoreTargets) { offsets.append(rows.count); rows += r; targets += t }
            let logits = try model.logits(hiddenStates: hidden, rows: rows)
            let logProbs = try ClozeOps.tokenLogProbs(logits, targets: targets)
            let perChoice = batch.sequences.map { seqs in
                seqs.map { n in Array(offsets[n]..<(offsets[n] + batch.scoreRows[n].count)) }
            }
            return try ClozeOps.choiceScores(logProbs, rows: perChoice, choices: batch.choices, lengthPenalty: lengthPenalty)
        }
    }

    /// The training loss `[1]` of a batch, with the scores it came from. `samples`, when given,
    /// replaces the batch's sample count as the mean's denominator: a data-parallel part of a
    /// batch divides by the whole batch's count, so the parts' losses add up to its loss.
    public func forward(model: GLMModel, batch: ClozeBatch, samples: Int? = nil) throws -> (loss: Tensor, scores: Tensor) {
        let s = try scores(model: model, batch: batch)
        let labels = batch.labels.map { Int32($0) }
        let ce = try Ops.crossEntropy(s, targets: try Tensor(int32: labels, shape: [labels.count]),
                                      lossMask: Tensor.full([labels.count], 1), normalizer: samples.map(Double.init))
        switch loss {
        case .crossEntropy: return (ce, s)
        case .mix: return (try Ops.add(ClozeOps.negativeMeanOfLabels(s, labels: batch.labels, divisor: samples.map(Double.init)), ce), s)
        }
    }

    /// The scores of each sample's own choices (no padding), without recording autograd.
    public func choiceScores(model: GLMModel, batch: ClozeBatch) throws -> [[Float]] {
        let t = try Autograd.withNoGrad { try scores(model: model, batch: batch) }
        let c = t.shape[1], s = t.toArray()
        return batch.sequences.enumerated().map { b, seqs in
            Array(s[(b * c)..<(b * c + (batch.kind == .single ? c : seqs.count))])
        }
    }
}
