extension Ops {
    /// Rows `indices` of `x [n, c]` → `[k, c]`. Backward adds each row's gradient back into
    /// its source row (indices may repeat).
    ///
    /// The pretraining loss uses it to run the vocabulary projection only on Part B rows (the
    /// rows with loss), which is where almost all of a GLM step's output-layer FLOPs would go.
    public static func gatherRows(_ x: Tensor, indices: [Int]) throws -> Tensor {
        guard x.rank == 2 else { throw TensorError.invalidArgument(op: "gatherRows", message: "x shape \(x.shape) is not [n, c]") }
        try checkF32("gatherRows", x)
        let n = x.shape[0], c = x.shape[1]
        if let bad = indices.first(where: { $0 < 0 || $0 >= n }) {
            throw TensorError.invalidArgument(op: "gatherRows", message: "row \(bad) outside [0, \(n))")
        }
        let xc = x.contiguous()
        let y = Tensor(uninitialized: [indices.count, c])
        for (i, r) in indices.enumerated() { (y.floats + i * c).update(from: xc.floats + r * c, count: c) }
        return Autograd.record("gatherRows", output: y, inputs: [x]) { node in
            let g = node.outputGrad
            node.withInputGrad(0) { d, overwrite in
                if overwrite { d.floats.update(repeating: 0, count: n * c) }
                for (i, r) in indices.enumerated() { Backend.current.addInPlace(d.floats + r * c, g.floats + i * c, count: c) }
            }
        }
    }
}
