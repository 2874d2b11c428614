extension Ops {
    /// One decoupled AdamW update (as `torch.optim.AdamW`) of `param` in place, from `grad`, with
    /// first and second moments `m` and `v` updated in place; all four have `param.count`
    /// contiguous f32 elements. `step` is the 1-based step for bias correction.
    public static func adamW(param: Tensor, grad: Tensor, m: Tensor, v: Tensor, lr: Double, beta1: Double,
                             beta2: Double, eps: Double, weightDecay: Double, step: Int) throws {
        for t in [grad, m, v] where t.count != param.count {
            throw TensorError.shapeMismatch(op: "adamW", lhs: param.shape, rhs: t.shape)
        }
        for t in [param, grad, m, v] where !t.isContiguous || t.dtype != .f32 {
            throw TensorError.invalidArgument(op: "adamW", message: "every buffer must be contiguous f32")
        }
        Backend.current.adamW(params: param.floats, grads: grad.floats, m: m.floats, v: v.floats, count: param.count,
                              lr: lr, beta1: beta1, beta2: beta2, eps: eps, weightDecay: weightDecay, step: step, gradScale: 1)
    }

    /// Global-norm clipping of a gradient buffer in place, as `torch.nn.utils.clip_grad_norm_`:
    /// scaled by `maxNorm / norm` when the norm exceeds `maxNorm`. Returns the norm before clipping.
    public static func clipGradNorm(_ grads: Tensor, maxNorm: Float) -> Float {
        precondition(grads.isContiguous && grads.dtype == .f32, "clipGradNorm needs a contiguous f32 buffer")
        return Backend.current.clipGradNorm(grads.floats, count: grads.count, maxNorm: maxNorm)
    }

    /// The Euclidean norm of every element (summed in Double).
    public static func norm(_ x: Tensor) -> Double { sumOfSquares(x).squareRoot() }

    /// The sum of the squares of every element, in Double (the norm of a sharded buffer is the
    /// root of the shards' sums).
    public static func sumOfSquares(_ x: Tensor) -> Double {
        let c = x.contiguous().converted(to: .f32)
        return Backend.current.sumOfSquares(c.floats, count: c.count)
    }

    /// Multiplies every element in place (a contiguous f32 tensor).
    public static func scale(_ x: Tensor, by factor: Float) {
        precondition(x.isContiguous && x.dtype == .f32, "scale needs a contiguous f32 tensor")
        Backend.current.scale(x.floats, count: x.count, factor: factor)
    }
}

extension Tensor {
    /// Overwrites the elements (a contiguous f32 tensor) with `values`, row-major.
    public func assign(_ values: [Float]) throws {
        guard values.count == count, dtype == .f32, isContiguous else {
            throw TensorError.invalidArgument(op: "assign", message: "\(values.count) values into a \(dtype) tensor \(shape)\(isContiguous ? "" : " (not contiguous)")")
        }
        values.withUnsafeBufferPointer { if let b = $0.baseAddress { floats.update(from: b, count: values.count) } }
    }

    /// Sets every element (a contiguous f32 tensor) to `value`.
    public func fill(_ value: Float) {
        precondition(dtype == .f32 && isContiguous, "fill needs a contiguous f32 tensor")
        floats.update(repeating: value, count: count)
    }

    /// Fills a contiguous f32 tensor with N(mean, std) draws from the counter stream
    /// (`seed`, `offset`): element i is draw `offset + i`, so the values do not depend on threads.
    public func fillNormal(mean: Float = 0, std: Float, seed: UInt64, offset: UInt64) {
        precondition(dtype == .f32 && isContiguous, "fillNormal needs a contiguous f32 tensor")
        CounterRNG.fillNormal(floats, count: count, mean: mean, std: std, seed: seed, offset: offset)
    }
}

extension Tensor {
    /// Elements `range` of a contiguous tensor as a flat view `[range.count]` sharing its storage
    /// (a shard of a flat buffer: gradients, values, optimizer moments).
    public func elements(_ range: Range<Int>) -> Tensor {
        precondition(isContiguous && range.lowerBound >= 0 && range.upperBound <= count, "elements \(range) of a tensor of \(count)")
        return Tensor(storage: storage, shape: [range.count], offset: offset + range.lowerBound, dtype: dtype)
    }
}

extension Ops {
    /// The clipping factor of ``clipGradNorm(_:maxNorm:)`` for a gradient of norm `norm`
    /// (nil: no clipping), for callers that compute the norm of a sharded gradient themselves.
    public static func clipCoefficient(norm: Float, maxNorm: Float) -> Float? {
        CPUKernels.clipCoefficient(norm: norm, maxNorm: maxNorm)
    }
}

extension ParameterStore {
    /// The part of a store-sized buffer (values, gradients, an optimizer moment: `[totalCount]`)
    /// that belongs to `p`, shaped like it.
    public func view(of buffer: Tensor, _ p: Parameter) -> Tensor {
        precondition(buffer.count == totalCount, "the buffer is not store-sized")
        return Tensor(storage: buffer.storage, shape: p.shape, offset: buffer.offset + p.offset, dtype: buffer.dtype)
    }
}
