import Foundation

extension Ops {
    /// `log_softmax(logits)[i, targets[i]]` for every row: logits `[n, V]` → `[n]` (the
    /// per-token log-probabilities multi-token cloze scoring and zero-shot LM evaluation sum).
    ///
    /// Runs in the fused cross-entropy kernel, which returns `−log p` and, when a gradient is
    /// wanted, `softmax − onehot` per row in the same pass; backward scales row i by `−∂L/∂out[i]`.
    public static func tokenLogProbs(_ logits: Tensor, targets: [Int32]) throws -> Tensor {
        guard logits.rank == 2 else {
            throw TensorError.invalidArgument(op: "tokenLogProbs", message: "logits must be [n, V], got \(logits.shape)")
        }
        try checkF32("tokenLogProbs", logits)
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
                    losses: losses.floats, dLogits: dl?.floats, ldDLogits: nil, gradScale: 1, labelSmoothing: 0)
            }
        }
        Backend.current.scale(losses.floats, count: n, factor: -1)
        guard let dl else { return losses }
        return Autograd.record("tokenLogProbs", output: losses, inputs: [logits]) { node in
            let up = node.outputGrad.contiguous()
            for i in 0..<n { Backend.current.scale(dl.floats + i * v, count: v, factor: -up.floats[i]) }
            node.passInputGrad(0, dl)
        }
    }

    /// `x[b, columns[b][k]]`: `[B, V]` → `[B, K]` (e.g. the verbaliser logits of each sample).
    /// Backward adds each output's gradient into its source element.
    public static func gatherColumns(_ x: Tensor, columns: [[Int]]) throws -> Tensor {
        guard x.rank == 2, columns.count == x.shape[0] else {
            throw TensorError.invalidArgument(op: "gatherColumns", message: "x \(x.shape) must be [B, V] with B = \(columns.count)")
        }
        try checkF32("gatherColumns", x)
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

    /// Weighted sums of groups of elements: `x [n]` → `[groups.count]` with
    /// `out[g] = weights[g] · Σ_{r ∈ groups[g]} x[r]` (summed in Double), and `fill` (no gradient)
    /// where `groups[g]` is nil. Cloze choice scores (Σ log p over a choice's tokens, divided by
    /// its length^p, −10000 for choices a sample lacks) and label means are such sums.
    public static func groupSums(_ x: Tensor, groups: [[Int]?], weights: [Float], fill: Float = 0) throws -> Tensor {
        guard x.rank == 1 else { throw TensorError.invalidArgument(op: "groupSums", message: "x must be [n], got \(x.shape)") }
        try checkF32("groupSums", x)
        let n = x.count
        guard weights.count == groups.count else {
            throw TensorError.shapeMismatch(op: "groupSums weights", lhs: [groups.count], rhs: [weights.count])
        }
        guard groups.allSatisfy({ ($0 ?? []).allSatisfy { $0 >= 0 && $0 < n } }) else {
            throw TensorError.invalidArgument(op: "groupSums", message: "groups must index [0, \(n))")
        }
        let xc = x.contiguous()
        let y = Tensor(uninitialized: [groups.count])
        for (g, rows) in groups.enumerated() {
            guard let rows else { y.floats[g] = fill; continue }
            var s = 0.0
            for r in rows { s += Double(xc.floats[r]) }
            y.floats[g] = Float(s * Double(weights[g]))
        }
        return Autograd.record("groupSums", output: y, inputs: [x]) { node in
            let up = node.outputGrad.contiguous()
            node.withInputGrad(0) { d, overwrite in
                if overwrite { d.floats.update(repeating: 0, count: n) }
                for (g, rows) in groups.enumerated() {
                    guard let rows else { continue }
                    let f = weights[g] * up.floats[g]
                    for r in rows { d.floats[r] += f }
                }
            }
        }
    }

    /// The index of each row's largest element (the first on ties, as `torch.argmax`): `[n, V]` → n ints.
    public static func rowArgmax(_ x: Tensor) throws -> [Int] {
        guard x.rank == 2 else { throw TensorError.invalidArgument(op: "rowArgmax", message: "x must be [n, V], got \(x.shape)") }
        try checkF32("rowArgmax", x)
        let xc = x.contiguous(), n = x.shape[0], v = x.shape[1]
        return (0..<n).map { i in
            let row = xc.floats + i * v
            var best = 0
            for j in 1..<max(v, 1) where row[j] > row[best] { best = j }
            return best
        }
    }
}
