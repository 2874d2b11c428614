import Foundation
import GLMTensor

/// The differentiable pieces of the cloze heads (official `model/downstream.py`,
/// `finetune_glm.py:finetune_forward_step`). Each records one autograd node; shapes are in the
/// comments. The vocabulary-wide work (log-softmax) runs in the backend's fused cross-entropy kernel.
public enum ClozeOps {
    /// `log_softmax(logits)[i, targets[i]]` for each row: logits `[n, V]` → `[n]`.
    ///
    /// The fused kernel returns `−log p` and, when a gradient is wanted, `softmax − onehot` per row in
    /// the same pass; backward scales row i by `−∂L/∂out[i]`.
    public static func tokenLogProbs(_ logits: Tensor, targets: [Int32]) throws -> Tensor {
        guard logits.rank == 2, logits.dtype == .f32 else {
            throw TensorError.invalidArgument(op: "tokenLogProbs", message: "logits must be f32 [n, V], got \(logits.dtype) \(logits.shape)")
        }
        let n = logits.shape[0], v = logits.shape[1]
        guard targets.count == n else { throw TensorError.shapeMismatch(op: "tokenLogProbs targets", lhs: [n], rhs: [targets.count]) }
        if let bad = targets.first(where: { $0 < 0 || Int($0) >= v }) {
            throw TensorError.invalidArgument(op: "tokenLogProbs", message: "target \(bad) outside [0, \(v))")
        }
        let lc = logits.contiguous()
        let wantGrad = Autograd.isRecording && logits.requiresGrad
        let losses = Tensor(uninitialized: [n])
        let dl: Tensor? = wantGrad ? Tensor(uninitialized: [n, v]) : nil
        let ones = [Float](repeating: 1, count: n)
        targets.withUnsafeBufferPointer { t in
            ones.withUnsafeBufferPointer { m in
                _ = Backend.current.crossEntropyForwardBackward(
                    logits: lc.floats, ldLogits: v, targets: t.baseAddress!, lossMask: m.baseAddress!, n: n, V: v,
                    losses: losses.floats, dLogits: dl?.floats, ldDLogits: nil, gradScale: 1)
            }
        }
        for i in 0..<n { losses.floats[i] = -losses.floats[i] }
        guard let dl else { return losses }
        return Autograd.record("tokenLogProbs", output: losses, inputs: [logits]) { node in
            let up = node.outputGrad.contiguous()
            for i in 0..<n { Backend.current.scale(dl.floats + i * v, count: v, factor: -up.floats[i]) }
            node.passInputGrad(0, dl)
        }
    }

    /// `x[b, columns[b][k]]`: `[B, V]` → `[B, K]` (the verbaliser logits of each sample).
    public static func gatherColumns(_ x: Tensor, columns: [[Int]]) throws -> Tensor {
        guard x.rank == 2, x.dtype == .f32, columns.count == x.shape[0] else {
            throw TensorError.invalidArgument(op: "gatherColumns", message: "x \(x.shape) must be f32 [B, V] with B = \(columns.count)")
        }
        let b = x.shape[0], v = x.shape[1], k = columns.first?.count ?? 0
        guard columns.allSatisfy({ $0.count == k && $0.allSatisfy { $0 >= 0 && $0 < v } }) else {
            throw TensorError.invalidArgument(op: "gatherColumns", message: "every row needs \(k) columns in [0, \(v))")
        }
        let xc = x.contiguous()
        let y = Tensor(uninitialized: [b, k])
        for i in 0..<b { for j in 0..<k { y.floats[i * k + j] = xc.floats[i * v + columns[i][j]] } }
        return Autograd.record("gatherColumns", output: y, inputs: [x]) { node in
            let g = node.outputGrad.contiguous()
            node.withInputGrad(0) { d, overwrite in
                if overwrite { d.floats.update(repeating: 0, count: b * v) }
                for i in 0..<b { for j in 0..<k { d.floats[i * v + columns[i][j]] += g.floats[i * k + j] } }
            }
        }
    }

    /// The choice scores `[B, C]` from per-token log-probabilities `[n]`: entry (b, c) sums the rows
    /// `rows[b][c]` and divides by `count^lengthPenalty` when the penalty is positive
    /// (`GLMForMultiTokenCloze.forward`). Choices a sample does not have (`rows[b].count ≤ c`) are
    /// set to −10000, the value the official `logits * loss_mask − 10000 * (1 − loss_mask)` gives them.
    public static func choiceScores(_ logProbs: Tensor, rows: [[[Int]]], choices c: Int, lengthPenalty: Double) throws -> Tensor {
        guard logProbs.rank == 1, logProbs.dtype == .f32 else {
            throw TensorError.invalidArgument(op: "choiceScores", message: "log-probs must be f32 [n], got \(logProbs.shape)")
        }
        let n = logProbs.count, b = rows.count
        guard rows.allSatisfy({ $0.count <= c && $0.allSatisfy { $0.allSatisfy { $0 >= 0 && $0 < n } } }) else {
            throw TensorError.invalidArgument(op: "choiceScores", message: "rows must index [0, \(n)) with at most \(c) choices")
        }
        let lp = logProbs.contiguous()
        func divisor(_ count: Int) -> Double { lengthPenalty > 0 ? pow(Double(count), lengthPenalty) : 1 }
        let y = Tensor(uninitialized: [b, c])
        for i in 0..<b {
            for j in 0..<c {
                guard j < rows[i].count else { y.floats[i * c + j] = -10000; continue }
                var s = 0.0
                for r in rows[i][j] { s += Double(lp.floats[r]) }
                y.floats[i * c + j] = Float(s / divisor(rows[i][j].count))
            }
        }
        return Autograd.record("choiceScores", output: y, inputs: [logProbs]) { node in
            let g = node.outputGrad.contiguous()
            node.withInputGrad(0) { d, overwrite in
                if overwrite { d.floats.update(repeating: 0, count: n) }
                for i in 0..<b {
                    for j in 0..<rows[i].count {
                        let f = Float(1 / divisor(rows[i][j].count)) * g.floats[i * c + j]
                        for r in rows[i][j] { d.floats[r] += f }
                    }
                }
            }
        }
    }

    /// `−mean_b x[b, labels[b]]`: `[B, C]` → `[1]` (the generative half of WSC's `--loss-func mix`).
    /// `divisor` replaces B (a data-parallel part divides by the whole batch's sample count).
    public static func negativeMeanOfLabels(_ x: Tensor, labels: [Int], divisor: Double? = nil) throws -> Tensor {
        guard x.rank == 2, x.dtype == .f32, labels.count == x.shape[0], !labels.isEmpty else {
            throw TensorError.invalidArgument(op: "negativeMeanOfLabels", message: "x \(x.shape) must be f32 [B, C] with B = \(labels.count) > 0")
        }
        let b = x.shape[0], c = x.shape[1]
        let n = divisor ?? Double(b)
        guard n > 0, labels.allSatisfy({ $0 >= 0 && $0 < c }) else {
            throw TensorError.invalidArgument(op: "negativeMeanOfLabels", message: "labels must lie in [0, \(c))")
        }
        let xc = x.contiguous()
        var s = 0.0
        for i in 0..<b { s += Double(xc.floats[i * c + labels[i]]) }
        let y = try Tensor([Float(-s / n)], shape: [1])
        return Autograd.record("negativeMeanOfLabels", output: y, inputs: [x]) { node in
            let up = node.outputGrad.floats[0]
            node.withInputGrad(0) { d, overwrite in
                if overwrite { d.floats.update(repeating: 0, count: b * c) }
                for i in 0..<b { d.floats[i * c + labels[i]] -= up / Float(n) }
            }
        }
    }
}
