import Foundation

/// Which keys each query may see in ``Ops/attention(_:heads:mask:dropout:rng:)``.
public enum AttentionMask: Sendable {
    /// GLM's separator per sample (`[b]`): query i sees key j iff j < sep or j ≤ i.
    /// sep = 0 is causal, sep = s bidirectional.
    case separators([Int32])
    /// An explicit 0/1 mask `[b, 1, s, s]` (1 = visible), broadcast over heads.
    case explicit(Tensor)
}

extension Ops {
    /// GLM self-attention core on the fused projection `qkv [b, s, 3h]` (per token Q | K | V,
    /// heads contiguous inside each block) → context `[b, s, h]`.
    ///
    /// scores = Q·Kᵀ/√d, masked to exactly −65504 where invisible (as the official code does),
    /// softmax, dropout on the probabilities, then probs·V. Heads are read straight out of `qkv`
    /// with a leading dimension of 3h, so no transposed copies are made.
    ///
    /// Saves the probabilities before and after dropout (`[b, n, s, s]` each) for backward.
    public static func attention(_ qkv: Tensor, heads: Int, mask: AttentionMask, dropout p: Float = 0,
                                 rng: RandomState? = nil) throws -> Tensor {
        guard qkv.rank == 3, heads > 0, qkv.shape[2] % (3 * heads) == 0 else {
            throw TensorError.invalidArgument(op: "attention", message: "qkv shape \(qkv.shape) is not [b, s, 3·h] with h divisible by \(heads) heads")
        }
        try checkF32("attention", qkv)
        let b = qkv.shape[0], s = qkv.shape[1], h = qkv.shape[2] / 3, d = h / heads
        let x = qkv.contiguous()
        let scale = 1 / Float(d).squareRoot()
        switch mask {
        case let .separators(seps):
            guard seps.count == b else {
                throw TensorError.shapeMismatch(op: "attention separators", lhs: [b], rhs: [seps.count])
            }
            if let bad = seps.first(where: { $0 < 0 || Int($0) > s }) {
                throw TensorError.invalidArgument(op: "attention", message: "separator \(bad) outside [0, \(s)]")
            }
        case let .explicit(m):
            guard m.shape == [b, 1, s, s] else { throw TensorError.shapeMismatch(op: "attention mask", lhs: [b, 1, s, s], rhs: m.shape) }
            try checkF32("attention mask", m)
        }
        guard p == 0 || rng != nil else {
            throw TensorError.invalidArgument(op: "attention", message: "dropout \(p) needs a RandomState")
        }

        let probs = Tensor(uninitialized: [b, heads, s, s])
        let q = x.floats, ld = 3 * h, ss = s * s
        for bi in 0..<b {
            for j in 0..<heads {
                let base = q + bi * s * ld + j * d
                Backend.current.sgemm(transA: false, transB: true, m: s, n: s, k: d, alpha: scale,
                           a: base, lda: ld, b: base + h, ldb: ld, beta: 0, c: probs.floats + (bi * heads + j) * ss, ldc: s)
            }
        }
        switch mask {
        case let .separators(seps):
            seps.withUnsafeBufferPointer {
                Backend.current.softmaxSepForward(probs.floats, batch: b, heads: heads, sq: s, sk: s, sep: $0.baseAddress!, scale: 1)
            }
        case let .explicit(m):
            let mc = m.contiguous()
            Backend.current.softmaxMaskedForward(probs.floats, mask: mc.floats, batch: b, heads: heads, sq: s, sk: s, scale: 1, maskBatchStride: nil)
        }
        var dropped = probs
        var dropSeed: UInt64 = 0, dropOffset: UInt64 = 0
        if p > 0, let rng {
            dropped = Tensor(uninitialized: probs.shape)
            dropSeed = rng.seed
            dropOffset = rng.advance(probs.count, leadingRows: b)
            Backend.current.dropoutForward(probs.floats, dropped.floats, mask: nil, count: probs.count, p: p, seed: dropSeed, offset: dropOffset)
        }
        let ctx = Tensor(uninitialized: [b, s, h])
        for bi in 0..<b {
            for j in 0..<heads {
                Backend.current.sgemm(transA: false, transB: false, m: s, n: d, k: s,
                           alpha: 1, a: dropped.floats + (bi * heads + j) * ss, lda: s, b: q + bi * s * ld + 2 * h + j * d, ldb: ld,
                           beta: 0, c: ctx.floats + bi * s * h + j * d, ldc: h)
            }
        }

        return Autograd.record("attention", output: ctx, inputs: [qkv]) { node in
            let g = node.outputGrad
            // Read q/k/v through the captured tensor: it keeps the projection's storage alive.
            let q = x.floats
            node.withInputGrad(0) { dqkv, overwrite in
                let beta: Float = overwrite ? 0 : 1
                let dp = Tensor(uninitialized: probs.shape)
                let dq = dqkv.floats
                for bi in 0..<b {
                    for j in 0..<heads {
                        let gbj = g.floats + bi * s * h + j * d
                        let vbj = q + bi * s * ld + 2 * h + j * d
                        let pbj = (bi * heads + j) * ss
                        // dP' = dCtx · Vᵀ ; dV = P'ᵀ · dCtx
                        Backend.current.sgemm(transA: false, transB: true, m: s, n: s, k: d,
                                   alpha: 1, a: gbj, lda: h, b: vbj, ldb: ld, beta: 0, c: dp.floats + pbj, ldc: s)
                        Backend.current.sgemm(transA: true, transB: false, m: s, n: d, k: s,
                                   alpha: 1, a: dropped.floats + pbj, lda: s, b: gbj, ldb: h,
                                   beta: beta, c: dq + bi * s * ld + 2 * h + j * d, ldc: ld)
                    }
                }
                if p > 0 {
                    Backend.current.dropoutBackward(dY: dp.floats, dX: dp.floats, mask: nil, count: dp.count, p: p,
                                               seed: dropSeed, offset: dropOffset)
                }
                Backend.current.softmaxBackward(probs: probs.floats, dProbs: dp.floats, dScores: dp.floats, rows: b * heads * s, cols: s, scale: 1)
                for bi in 0..<b {
                    for j in 0..<heads {
                        let base = q + bi * s * ld + j * d
                        let dbase = dq + bi * s * ld + j * d
                        let dsbj = dp.floats + (bi * heads + j) * ss
                        // dQ = dS · K / √d ; dK = dSᵀ · Q / √d
                        Backend.current.sgemm(transA: false, transB: false, m: s, n: d, k: s, alpha: scale,
                                   a: dsbj, lda: s, b: base + h, ldb: ld, beta: beta, c: dbase, ldc: ld)
                        Backend.current.sgemm(transA: true, transB: false, m: s, n: d, k: s, alpha: scale,
                                   a: dsbj, lda: s, b: base, ldb: ld, beta: beta, c: dbase + h, ldc: ld)
                    }
                }
            }
        }
    }
}

extension Ops {
    /// GLM self-attention of new tokens against a ``KVCache`` (inference: nothing is recorded for
    /// backward). `qkv [b, s, 3h]` holds the projections of `s` new tokens for each of `b`
    /// sequences, sequence i living in cache row `rows[i]`.
    ///
    /// The new keys and values are written after each sequence's cached tokens (the caller
    /// advances the lengths once every layer has run). A new token sees every cached token, and
    /// the new tokens see each other by GLM's separator rule, new key j visible to new query i iff
    /// j < sep or j ≤ i: `sep = s` is the bidirectional context pass, `sep = 0` causal decoding.
    /// Right-padded inputs stay invisible to a sequence's real tokens as long as its sep does
    /// not exceed its real length.
    ///
    /// One token per sequence (a decoding step) runs ``CPUKernels/attentionDecode(q:ldq:keys:values:rowStride:rows:totals:b:heads:d:h:scale:out:)``,
    /// whose result per sequence does not depend on the batch; longer inputs run the same GEMMs
    /// and masked softmax as ``attention(_:heads:mask:dropout:rng:)``, one sequence at a time.
    public static func attention(_ qkv: Tensor, heads: Int, separators: [Int32], cache: KVCache, layer: Int,
                                 rows: [Int]) throws -> Tensor {
        guard qkv.rank == 3, heads > 0, qkv.shape[2] == 3 * cache.hidden, cache.hidden % heads == 0 else {
            throw TensorError.invalidArgument(op: "attention", message: "qkv shape \(qkv.shape) is not [b, s, 3·\(cache.hidden)] for \(heads) heads")
        }
        try checkF32("attention", qkv)
        let b = qkv.shape[0], s = qkv.shape[1], h = cache.hidden, d = h / heads
        guard layer >= 0 && layer < cache.layers else {
            throw TensorError.invalidArgument(op: "attention", message: "layer \(layer) outside the cache's \(cache.layers) layers")
        }
        guard rows.count == b, separators.count == b else {
            throw TensorError.invalidArgument(op: "attention", message: "\(b) sequences need \(b) cache rows and separators, got \(rows.count) and \(separators.count)")
        }
        guard Set(rows).count == b, rows.allSatisfy({ $0 >= 0 && $0 < cache.rows }) else {
            throw TensorError.invalidArgument(op: "attention", message: "cache rows \(rows) must be distinct and in [0, \(cache.rows))")
        }
        if let bad = separators.first(where: { $0 < 0 || Int($0) > s }) {
            throw TensorError.invalidArgument(op: "attention", message: "separator \(bad) outside [0, \(s)]")
        }
        if let r = rows.first(where: { cache.lengths[$0] + s > cache.capacity }) {
            throw TensorError.invalidArgument(op: "attention", message: "cache row \(r) holds \(cache.lengths[r]) of \(cache.capacity) tokens; \(s) more do not fit")
        }
        let x = qkv.contiguous()
        let q = x.floats, ld = 3 * h, stride = cache.capacity * h
        let kc = cache.keys[layer].floats, vc = cache.values[layer].floats
        for (i, r) in rows.enumerated() {
            for t in 0..<s {
                let src = q + (i * s + t) * ld, row = r * stride + (cache.lengths[r] + t) * h
                (kc + row).update(from: src + h, count: h)
                (vc + row).update(from: src + 2 * h, count: h)
            }
        }
        let scale = 1 / Float(d).squareRoot()
        let ctx = Tensor(uninitialized: [b, s, h])
        if s == 1 {
            let totals = rows.map { cache.lengths[$0] + 1 }
            rows.withUnsafeBufferPointer { rp in
                totals.withUnsafeBufferPointer { tp in
                    Backend.current.attentionDecode(q: q, ldq: ld, keys: kc, values: vc, rowStride: stride,
                                                    rows: rp.baseAddress!, totals: tp.baseAddress!, b: b, heads: heads,
                                                    d: d, h: h, scale: scale, out: ctx.floats)
                }
            }
            return ctx
        }
        for (i, r) in rows.enumerated() {
            let total = cache.lengths[r] + s
            let scores = Tensor(uninitialized: [heads, s, total])
            for j in 0..<heads {
                Backend.current.sgemm(transA: false, transB: true, m: s, n: total, k: d, alpha: scale,
                                      a: q + i * s * ld + j * d, lda: ld, b: kc + r * stride + j * d, ldb: h,
                                      beta: 0, c: scores.floats + j * s * total, ldc: total)
            }
            [separators[i]].withUnsafeBufferPointer {
                Backend.current.softmaxSepForward(scores.floats, batch: 1, heads: heads, sq: s, sk: total, sep: $0.baseAddress!, scale: 1)
            }
            for j in 0..<heads {
                Backend.current.sgemm(transA: false, transB: false, m: s, n: d, k: total, alpha: 1,
                                      a: scores.floats + j * s * total, lda: total, b: vc + r * stride + j * d, ldb: h,
                                      beta: 0, c: ctx.floats + i * s * h + j * d, ldc: h)
            }
        }
        return ctx
    }
}
