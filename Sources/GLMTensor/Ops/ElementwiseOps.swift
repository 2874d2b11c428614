extension Ops {
    /// `a + b`, same shapes. Backward passes the gradient to both.
    public static func add(_ a: Tensor, _ b: Tensor) throws -> Tensor {
        guard a.shape == b.shape else { throw TensorError.shapeMismatch(op: "add", lhs: a.shape, rhs: b.shape) }
        try checkF32("add", a, b)
        let ac = a.contiguous(), bc = b.contiguous()
        let y = Tensor(uninitialized: a.shape)
        Backend.current.add(ac.floats, bc.floats, y.floats, count: y.count)
        return Autograd.record("add", output: y, inputs: [a, b]) { node in
            let g = node.outputGrad
            for i in 0..<2 {
                node.withInputGrad(i) { d, overwrite in
                    if overwrite { d.floats.update(from: g.floats, count: g.count) }
                    else { Backend.current.addInPlace(d.floats, g.floats, count: g.count) }
                }
            }
        }
    }

    /// GELU over every element.
    public static func gelu(_ x: Tensor, approximation: GELUApproximation = .tanh) throws -> Tensor {
        try checkF32("gelu", x)
        let xc = x.contiguous()
        let y = Tensor(uninitialized: x.shape)
        Backend.current.geluForward(xc.floats, y.floats, count: y.count, approximation: approximation)
        return Autograd.record("gelu", output: y, inputs: [x]) { node in
            let g = node.outputGrad
            node.withInputGrad(0) { d, overwrite in
                if overwrite {
                    Backend.current.geluBackward(xc.floats, dY: g.floats, dX: d.floats, count: g.count, approximation: approximation)
                } else {
                    let tmp = Tensor(uninitialized: g.shape)
                    Backend.current.geluBackward(xc.floats, dY: g.floats, dX: tmp.floats, count: g.count, approximation: approximation)
                    Backend.current.addInPlace(d.floats, tmp.floats, count: g.count)
                }
            }
        }
    }

    /// Layer norm over the last dimension: `(x − mean)/√(var + eps) · weight + bias`.
    public static func layerNorm(_ x: Tensor, weight: Tensor, bias: Tensor, eps: Float = 1e-5) throws -> Tensor {
        guard let cols = x.shape.last, weight.shape == [cols], bias.shape == [cols] else {
            throw TensorError.shapeMismatch(op: "layerNorm", lhs: x.shape, rhs: weight.shape)
        }
        try checkF32("layerNorm", x, weight, bias)
        let xc = x.contiguous()
        let rows = xc.count / max(cols, 1)
        let y = Tensor(uninitialized: x.shape)
        let mean = Tensor(uninitialized: [rows]), rstd = Tensor(uninitialized: [rows])
        Backend.current.layerNormForward(xc.floats, weight: weight.floats, bias: bias.floats, y.floats, mean: mean.floats,
                                    rstd: rstd.floats, rows: rows, cols: cols, eps: eps)
        return Autograd.record("layerNorm", output: y, inputs: [x, weight, bias]) { node in
            let g = node.outputGrad
            // The kernel accumulates into all three; a fresh buffer is zeroed first, and a gradient
            // nobody wants goes to scratch.
            func target(_ i: Int, _ shape: [Int]) -> Tensor {
                var t: Tensor? = nil
                node.withInputGrad(i) { d, fresh in
                    if fresh { d.floats.update(repeating: 0, count: d.count) }
                    t = d
                }
                return t ?? Tensor.zeros(shape)
            }
            let dx = target(0, x.shape), dw = target(1, [cols]), db = target(2, [cols])
            Backend.current.layerNormBackward(dY: g.floats, xc.floats, weight: weight.floats, mean: mean.floats, rstd: rstd.floats,
                                         dX: dx.floats, dWeight: dw.floats, dBias: db.floats, rows: rows, cols: cols)
        }
    }

    /// Inverted dropout: zeroes each element with probability `p` and scales the rest by
    /// 1/(1−p). The mask comes from `rng`'s counter stream, so backward regenerates it instead of
    /// storing it. The leading dimension of `x` is the batch: with ``RandomState/rows`` set, row r
    /// draws what row `first + r` of the whole batch would.
    public static func dropout(_ x: Tensor, p: Float, rng: RandomState) throws -> Tensor {
        guard p >= 0, p < 1 else { throw TensorError.invalidArgument(op: "dropout", message: "p = \(p) not in [0, 1)") }
        if p == 0 { return x }
        try checkF32("dropout", x)
        let xc = x.contiguous()
        let y = Tensor(uninitialized: x.shape)
        let offset = rng.advance(x.count, leadingRows: x.shape.first ?? 1)
        let seed = rng.seed
        Backend.current.dropoutForward(xc.floats, y.floats, mask: nil, count: y.count, p: p, seed: seed, offset: offset)
        return Autograd.record("dropout", output: y, inputs: [x]) { node in
            let g = node.outputGrad
            node.withInputGrad(0) { d, overwrite in
                if overwrite {
                    Backend.current.dropoutBackward(dY: g.floats, dX: d.floats, mask: nil, count: g.count, p: p, seed: seed, offset: offset)
                } else {
                    let tmp = Tensor(uninitialized: g.shape)
                    Backend.current.dropoutBackward(dY: g.floats, dX: tmp.floats, mask: nil, count: g.count, p: p, seed: seed, offset: offset)
                    Backend.current.addInPlace(d.floats, tmp.floats, count: g.count)
                }
            }
        }
    }

    /// Rows of `weight [V, h]` picked by `ids` (i32, any shape) → `[ids.shape…, h]`.
    /// Backward scatter-adds into the rows of `weight`'s gradient.
    public static func embedding(_ ids: Tensor, weight: Tensor) throws -> Tensor {
        guard ids.dtype == .i32 else { throw TensorError.dtypeMismatch(op: "embedding ids", expected: .i32, got: ids.dtype) }
        guard weight.rank == 2 else { throw TensorError.shapeMismatch(op: "embedding", lhs: ids.shape, rhs: weight.shape) }
        try checkF32("embedding", weight)
        let idc = ids.contiguous()
        let v = weight.shape[0], h = weight.shape[1]
        let n = idc.count
        for i in 0..<n where idc.int32s[i] < 0 || Int(idc.int32s[i]) >= v {
            throw TensorError.invalidArgument(op: "embedding", message: "id \(idc.int32s[i]) at index \(i) outside [0, \(v))")
        }
        let y = Tensor(uninitialized: ids.shape + [h])
        Backend.current.embeddingForward(ids: idc.int32s, count: n, weight: weight.floats, out: y.floats, h: h)
        return Autograd.record("embedding", output: y, inputs: [weight]) { node in
            let g = node.outputGrad
            node.withInputGrad(0) { d, overwrite in
                if overwrite { d.floats.update(repeating: 0, count: d.count) }
                Backend.current.embeddingBackward(ids: idc.int32s, count: n, dOut: g.floats, dWeight: d.floats, h: h)
            }
        }
    }
}
