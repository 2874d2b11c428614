extension Ops {
    /// `y[n, out] = x[n, in] · W[out, in]ᵀ + b[out]` (PyTorch's `F.linear`), over the last
    /// dimension of `x` (leading dimensions are flattened into `n`).
    ///
    /// With `weightBF16` (the bf16 copy of `weight`, from ``ParameterStore/refreshBF16()``) the
    /// matmuls run in bf16 with f32 accumulation and output; `weight` stays the f32 master that
    /// receives the gradient.
    ///
    /// With `rowwise` (decoding, no gradient recorded) every row is computed on its own by the
    /// weight-streaming GEMV kernels (``CPUKernels/gemv(x:w:y:m:n:k:)``), so a row's output does
    /// not depend on which other rows share the call: a sequence decoded in a batch gets exactly
    /// the numbers it gets alone. A bf16 product of one row always takes that kernel.
    ///
    /// Backward: `dx = dy · W` (`[n,out]·[out,in]`), `dW += dyᵀ · x`, `db += Σ_rows dy`.
    public static func linear(_ x: Tensor, weight: Tensor, bias: Tensor? = nil, weightBF16: Tensor? = nil,
                              rowwise: Bool = false) throws -> Tensor {
        guard weight.rank == 2, x.rank >= 1, x.shape.last == weight.shape[1] else {
            throw TensorError.shapeMismatch(op: "linear", lhs: x.shape, rhs: weight.shape)
        }
        try checkF32("linear", x, weight)
        let outF = weight.shape[0], inF = weight.shape[1]
        if let bias, bias.shape != [outF] {
            throw TensorError.shapeMismatch(op: "linear bias", lhs: [outF], rhs: bias.shape)
        }
        if let w16 = weightBF16, w16.shape != weight.shape || w16.dtype != .bf16 {
            throw TensorError.shapeMismatch(op: "linear bf16 weight", lhs: weight.shape, rhs: w16.shape)
        }
        let xc = x.contiguous(), w = weight.contiguous()
        let n = xc.count / inF
        let outShape = Array(x.shape.dropLast()) + [outF]
        let y = Tensor(uninitialized: outShape)
        var xBF16: Tensor? = nil
        let recording = Autograd.isRecording && (x.requiresGrad || weight.requiresGrad || bias?.requiresGrad == true)
        if let w16 = weightBF16, n == 1 || rowwise, !recording {
            // Decoding: a bandwidth-bound GEMV straight from the bf16 weights.
            Backend.current.gemvBF16(x: xc.floats, w: w16.halfBits, y: y.floats, m: n, n: outF, k: inF)
        } else if rowwise, !recording {
            Backend.current.gemv(x: xc.floats, w: w.floats, y: y.floats, m: n, n: outF, k: inF)
        } else if let w16 = weightBF16 {
            let xb = Tensor(uninitialized: xc.shape, dtype: .bf16)
            Backend.current.f32ToBF16(xc.floats, xb.halfBits, count: xc.count)
            Backend.current.matmulBF16(transA: false, transB: true, m: n, n: outF, k: inF,
                              a: xb.halfBits, lda: inF, b: w16.halfBits, ldb: inF, c: y.floats, ldc: outF, accumulate: false)
            xBF16 = xb
        } else {
            Backend.current.sgemm(transA: false, transB: true, m: n, n: outF, k: inF,
                       alpha: 1, a: xc.floats, lda: inF, b: w.floats, ldb: inF, beta: 0, c: y.floats, ldc: outF)
        }
        if let bias { Backend.current.addBias(y.floats, bias: bias.floats, n: n, c: outF) }

        let inputs = bias.map { [x, weight, $0] } ?? [x, weight]
        return Autograd.record("linear", output: y, inputs: inputs) { node in
            let dy = node.outputGrad
            if let w16 = weightBF16, let xb = xBF16 {
                let dyb = Tensor(uninitialized: dy.shape, dtype: .bf16)
                Backend.current.f32ToBF16(dy.floats, dyb.halfBits, count: dy.count)
                node.withInputGrad(0) { dx, overwrite in
                    Backend.current.matmulBF16(transA: false, transB: false, m: n, n: inF, k: outF,
                                      a: dyb.halfBits, lda: outF, b: w16.halfBits, ldb: inF,
                                      c: dx.floats, ldc: inF, accumulate: !overwrite)
                }
                node.withInputGrad(1) { dw, overwrite in
                    Backend.current.matmulBF16(transA: true, transB: false, m: outF, n: inF, k: n,
                                      a: dyb.halfBits, lda: outF, b: xb.halfBits, ldb: inF,
                                      c: dw.floats, ldc: inF, accumulate: !overwrite)
                }
            } else {
                node.withInputGrad(0) { dx, overwrite in
                    Backend.current.sgemm(transA: false, transB: false, m: n, n: inF, k: outF,
                               alpha: 1, a: dy.floats, lda: outF, b: w.floats, ldb: inF,
                               beta: overwrite ? 0 : 1, c: dx.floats, ldc: inF)
                }
                node.withInputGrad(1) { dw, overwrite in
                    Backend.current.sgemm(transA: true, transB: false, m: outF, n: inF, k: n,
                               alpha: 1, a: dy.floats, lda: outF, b: xc.floats, ldb: inF,
                               beta: overwrite ? 0 : 1, c: dw.floats, ldc: inF)
                }
            }
            if bias != nil {
                node.withInputGrad(2) { db, overwrite in
                    if overwrite { db.floats.update(repeating: 0, count: outF) }
                    Backend.current.biasBackward(dY: dy.floats, dBias: db.floats, n: n, c: outF)
                }
            }
        }
    }

    static func checkF32(_ op: String, _ ts: Tensor...) throws {
        for t in ts where t.dtype != .f32 { throw TensorError.dtypeMismatch(op: op, expected: .f32, got: t.dtype) }
    }
}

/// Differentiable operations on tensors. Each validates caller-supplied shapes and dtypes (thrown
/// ``TensorError``s naming both shapes), runs its kernel, and records a backward closure when a
/// tensor input requires grad.
public enum Ops {}
