import GLMNN
import GLMTensor

/// Per-layer keys and values of every token run so far (the official "mems", cached after the
/// layer norm and projection — equivalent, since past rows never change; docs/official-glm.md §1.5).
///
/// Layout per layer: `[b, capacity, h]` for K and for V, heads contiguous inside h, so a new
/// token appends one row and attention reads heads with a leading dimension of h.
public final class KVCache: @unchecked Sendable {
    public let batch: Int
    public let capacity: Int
    let hidden: Int
    let keys: [Tensor]
    let values: [Tensor]
    /// Tokens cached so far.
    public private(set) var length = 0

    init(batch: Int, capacity: Int, layers: Int, hidden: Int) {
        self.batch = batch
        self.capacity = capacity
        self.hidden = hidden
        keys = (0..<layers).map { _ in Tensor(uninitialized: [batch, capacity, hidden]) }
        values = (0..<layers).map { _ in Tensor(uninitialized: [batch, capacity, hidden]) }
    }

    func advance(_ n: Int) { length += n }

    /// Forgets tokens past `length` (e.g. to rerun a beam from a shared prefix).
    public func truncate(to n: Int) { length = min(length, max(0, n)) }
}

extension GLMModel {
    /// An empty cache for `batch` sequences of up to `capacity` tokens.
    public func makeCache(batch: Int, capacity: Int) -> KVCache {
        KVCache(batch: batch, capacity: capacity, layers: config.numLayers, hidden: config.hiddenSize)
    }

    /// Runs `inputIds [b, s]` after everything already in `cache` and appends their keys and
    /// values. New tokens see all cached tokens, and each other per `sep` (`sep = s`: the
    /// bidirectional context pass; `sep = 0`: causal decoding). Returns logits `[b·s, V]`, or
    /// `[b, V]` for the last position only with `lastOnly`. Inference only (no autograd).
    public func forward(inputIds: Tensor, positionIds: Tensor, sep: [Int32], cache: KVCache,
                        lastOnly: Bool = false) throws -> Tensor {
        let (b, s) = try validate(inputIds: inputIds, positionIds: positionIds)
        guard cache.batch == b else { throw GLMError.invalidInput("cache holds \(cache.batch) sequences, input has \(b)") }
        guard cache.length + s <= cache.capacity else {
            throw GLMError.invalidInput("cache capacity \(cache.capacity) exceeded: \(cache.length) cached + \(s) new tokens")
        }
        guard sep.count == b, sep.allSatisfy({ $0 >= 0 && Int($0) <= s }) else {
            throw GLMError.invalidInput("sep must hold \(b) values in [0, \(s)], got \(sep)")
        }
        return try Autograd.withNoGrad {
            let c = config, h = c.hiddenSize, heads = c.numAttentionHeads, d = c.headDim
            let m = cache.length, total = m + s
            let scale = 1 / Float(d).squareRoot()
            var x = try embed(inputIds, positionIds, b: b, s: s)
            let scores = Tensor(uninitialized: [b, heads, s, total])
            let ctx = Tensor(uninitialized: [b, s, h])
            for (li, layer) in layers.enumerated() {
                let qkv = try layer.queryKeyValue(layer.inputLayerNorm(x), bf16: bf16)
                let kc = cache.keys[li], vc = cache.values[li]
                let q = qkv.floats
                for bi in 0..<b {
                    for t in 0..<s {
                        let src = q + (bi * s + t) * 3 * h
                        let row = (bi * cache.capacity + m + t) * h
                        (kc.floats + row).update(from: src + h, count: h)
                        (vc.floats + row).update(from: src + 2 * h, count: h)
                    }
                }
                for bi in 0..<b {
                    for j in 0..<heads {
                        Backend.current.sgemm(transA: false, transB: true, m: s, n: total, k: d, alpha: scale,
                                   a: q + bi * s * 3 * h + j * d, lda: 3 * h,
                                   b: kc.floats + bi * cache.capacity * h + j * d, ldb: h,
                                   beta: 0, c: scores.floats + (bi * heads + j) * s * total, ldc: total)
                    }
                }
                sep.withUnsafeBufferPointer {
                    Backend.current.softmaxSepForward(scores.floats, batch: b, heads: heads, sq: s, sk: total, sep: $0.baseAddress!, scale: 1)
                }
                for bi in 0..<b {
                    for j in 0..<heads {
                        Backend.current.sgemm(transA: false, transB: false, m: s, n: d, k: total,
                                   alpha: 1, a: scores.floats + (bi * heads + j) * s * total, lda: total,
                                   b: vc.floats + bi * cache.capacity * h + j * d, ldb: h,
                                   beta: 0, c: ctx.floats + bi * s * h + j * d, ldc: h)
                    }
                }
                x = try Ops.add(x, layer.dense(ctx, bf16: bf16))
                let u = try Ops.gelu(layer.denseHTo4H(layer.postAttentionLayerNorm(x), bf16: bf16), approximation: c.gelu)
                x = try Ops.add(x, layer.dense4HToH(u, bf16: bf16))
            }
            cache.advance(s)
            var hOut = try finalLayerNorm(x)
            if lastOnly { hOut = try hOut.slice(1, (s - 1)..<s).contiguous() }
            return try Ops.linear(hOut.reshaped([-1, h]), weight: wordEmbeddings.weight.value,
                                  weightBF16: bf16 ? wordEmbeddings.weight.bf16 : nil)
        }
    }
}

extension KVCache {
    /// Rearranges the cached sequences: row `i` becomes a copy of old row `sources[i]`
    /// (beam search keeping and duplicating beams). `sources.count` must equal ``batch``.
    public func reorder(_ sources: [Int]) {
        precondition(sources.count == batch && sources.allSatisfy { $0 >= 0 && $0 < batch }, "bad beam sources \(sources)")
        if sources == Array(0..<batch) { return }
        let rowSize = length * hidden, stride = capacity * hidden
        for t in keys + values {
            let copy = Tensor(uninitialized: [batch, rowSize])
            for b in 0..<batch { (copy.floats + b * rowSize).update(from: t.floats + b * stride, count: rowSize) }
            for (i, s) in sources.enumerated() { (t.floats + i * stride).update(from: copy.floats + s * rowSize, count: rowSize) }
        }
    }

    /// A cache of `batch` copies of sequence `row` of `source` (one context, many beams).
    public convenience init(broadcasting source: KVCache, row: Int = 0, to batch: Int, capacity: Int) {
        self.init(batch: batch, capacity: capacity, layers: source.keys.count, hidden: source.hidden)
        let n = source.length * hidden
        for (dst, src) in zip(keys + values, source.keys + source.values) {
            for b in 0..<batch {
                (dst.floats + b * capacity * hidden).update(from: src.floats + row * source.capacity * hidden, count: n)
            }
        }
        advance(source.length)
    }
}
