import Foundation
import GLMTensor

/// The cloze heads' pieces (official `model/downstream.py`, `finetune_glm.py:finetune_forward_step`),
/// composed of the engine's differentiable ops (`Ops.tokenLogProbs`, `Ops.gatherColumns`,
/// `Ops.groupSums`); shapes are in the comments.
public enum ClozeOps {
    /// `log_softmax(logits)[i, targets[i]]` for each row: logits `[n, V]` → `[n]`.
    public static func tokenLogProbs(_ logits: Tensor, targets: [Int32]) throws -> Tensor {
        try Ops.tokenLogProbs(logits, targets: targets)
    }

    /// `x[b, columns[b][k]]`: `[B, V]` → `[B, K]` (the verbaliser logits of each sample).
    public static func gatherColumns(_ x: Tensor, columns: [[Int]]) throws -> Tensor {
        try Ops.gatherColumns(x, columns: columns)
    }

    /// The choice scores `[B, C]` from per-token log-probabilities `[n]`: entry (b, c) sums the rows
    /// `rows[b][c]` and divides by `count^lengthPenalty` when the penalty is positive
    /// (`GLMForMultiTokenCloze.forward`). Choices a sample does not have (`rows[b].count ≤ c`) are
    /// set to −10000, the value the official `logits * loss_mask − 10000 * (1 − loss_mask)` gives them.
    public static func choiceScores(_ logProbs: Tensor, rows: [[[Int]]], choices c: Int, lengthPenalty: Double) throws -> Tensor {
        guard rows.allSatisfy({ $0.count <= c }) else {
            throw TensorError.invalidArgument(op: "choiceScores", message: "a sample has more than \(c) choices")
        }
        var groups: [[Int]?] = [], weights: [Float] = []
        for sample in rows {
            for j in 0..<c {
                let g = j < sample.count ? sample[j] : nil
                groups.append(g)
                weights.append(Float(1 / (lengthPenalty > 0 ? pow(Double(max(g?.count ?? 1, 1)), lengthPenalty) : 1)))
            }
        }
        return try Ops.groupSums(logProbs, groups: groups, weights: weights, fill: -10000).reshaped([rows.count, c])
    }

    /// `−mean_b x[b, labels[b]]`: `[B, C]` → `[1]` (the generative half of WSC's `--loss-func mix`).
    /// `divisor` replaces B (a data-parallel part divides by the whole batch's sample count).
    public static func negativeMeanOfLabels(_ x: Tensor, labels: [Int], divisor: Double? = nil) throws -> Tensor {
        guard x.rank == 2, labels.count == x.shape[0], !labels.isEmpty, (divisor ?? 1) > 0 else {
            throw TensorError.invalidArgument(op: "negativeMeanOfLabels", message: "x \(x.shape) must be [B, C] with B = \(labels.count) > 0")
        }
        let picked = try Ops.gatherColumns(x, columns: labels.map { [$0] }).reshaped([labels.count])
        return try Ops.groupSums(picked, groups: [Array(labels.indices)], weights: [-1 / Float(divisor ?? Double(labels.count))])
    }
}
