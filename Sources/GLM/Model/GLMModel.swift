import Foundation
import GLMNN
import GLMTensor

/// One pre-LN transformer block of GLM (docs/official-glm.md §1.1–1.2).
struct GLMLayer: Sendable {
    let inputLayerNorm: LayerNorm
    let queryKeyValue: Linear
    let dense: Linear
    let postAttentionLayerNorm: LayerNorm
    let denseHTo4H: Linear
    let dense4HToH: Linear

    init(_ store: ParameterStore, _ i: Int) throws {
        let p = "transformer.layers.\(i)."
        func ln(_ n: String) throws -> LayerNorm {
            LayerNorm(weight: try store.require(p + n + ".weight"), bias: try store.require(p + n + ".bias"))
        }
        func lin(_ n: String) throws -> Linear {
            Linear(weight: try store.require(p + n + ".weight"), bias: try store.require(p + n + ".bias"))
        }
        inputLayerNorm = try ln("input_layernorm")
        queryKeyValue = try lin("attention.query_key_value")
        dense = try lin("attention.dense")
        postAttentionLayerNorm = try ln("post_attention_layernorm")
        denseHTo4H = try lin("mlp.dense_h_to_4h")
        dense4HToH = try lin("mlp.dense_4h_to_h")
    }
}

/// Where a forward pass reads and appends keys and values: a ``KVCache`` and, for each sequence
/// of the batch, the cache row that holds it.
public struct CacheSlots: Sendable {
    public let cache: KVCache
    /// `rows[i]` holds sequence i of the batch.
    public let rows: [Int]
    /// Real (unpadded) new tokens per sequence; the cache advances by these. nil: all `s`.
    public let newTokens: [Int]?

    public init(_ cache: KVCache, rows: [Int], newTokens: [Int]? = nil) {
        self.cache = cache; self.rows = rows; self.newTokens = newTokens
    }
}

/// GLM exactly as the official THUDM code (docs/official-glm.md §1): word + position +
/// block-position embeddings, pre-LN blocks with fused QKV and the separator mask, a final
/// layer norm, and logits tied to the word embeddings.
///
/// One forward pass serves training, evaluation, cloze scoring and decoding: every call runs
/// ``block(_:_:mask:cache:)`` per layer, and decoding passes a ``CacheSlots`` whose attention
/// reads the cached keys and values and appends the new ones (as mlx-swift-lm threads `cache`
/// through its models). Parameters live in one ``ParameterStore`` under the official
/// state-dict keys, laid out by ``GLMParameters/table(_:)``.
public final class GLMModel: @unchecked Sendable {
    public let config: GLMConfig
    public let store: ParameterStore
    /// The parameter table the store follows (weight decay, splits, initialisation).
    public let parameterTable: [GLMParameter]
    let wordEmbeddings: Embedding
    let positionEmbeddings: Embedding
    let blockPositionEmbeddings: Embedding
    let layers: [GLMLayer]
    let finalLayerNorm: LayerNorm
    let initSeed: UInt64
    /// Dropout on (training) or off (evaluation). Cached (decoding) passes never drop out.
    public var training = false
    /// Run linear layers' matmuls in bf16 (f32 accumulation) from the store's bf16 weight copy,
    /// which ``AdamW/update(lr:)`` and ``loadWeights(_:source:)`` keep current.
    public var bf16 = false {
        didSet { if bf16 { store.refreshBF16() } else { store.dropBF16() } }
    }
    /// The dropout stream; part of the training state for exact resume.
    public let rng: RandomState

    /// A model initialised per docs/official-glm.md §1.7 from `seed`: N(0, 0.02) for embeddings,
    /// QKV and h→4h; N(0, 0.02/√(2L)) for the two output projections; biases 0; LayerNorm 1/0.
    public convenience init(config: GLMConfig, seed: UInt64 = 1234) throws {
        try self.init(config: config, seed: seed, initialise: true)
    }

    /// `initialise: false` leaves every value zero, for a caller about to load all of them.
    init(config: GLMConfig, seed: UInt64, initialise: Bool) throws {
        try config.validate()
        self.config = config
        let table = GLMParameters.table(config)
        parameterTable = table
        let store = try ParameterStore(table.map { (name: $0.name, shape: $0.shape) })
        self.store = store
        initSeed = seed
        rng = RandomState(seed: seed &+ 0x9E37_79B9)
        wordEmbeddings = Embedding(weight: try store.require("word_embeddings.weight"))
        positionEmbeddings = Embedding(weight: try store.require("transformer.position_embeddings.weight"))
        blockPositionEmbeddings = Embedding(weight: try store.require("transformer.block_position_embeddings.weight"))
        layers = try (0..<config.numLayers).map { try GLMLayer(store, $0) }
        finalLayerNorm = LayerNorm(weight: try store.require("transformer.final_layernorm.weight"),
                                   bias: try store.require("transformer.final_layernorm.bias"))
        if initialise { for i in table.indices { initialiseRows(i, from: 0) } }
    }

    /// The weight-decay flag of every stored parameter, in store order (for ``AdamW``).
    public var weightDecayFlags: [Bool] { parameterTable.map(\.weightDecay) }

    /// Where parameter `i`'s draws start in the initialisation stream: each normal-initialised
    /// parameter takes the next `count` draws, in table order.
    private lazy var streamOffsets: [UInt64] = {
        var offset: UInt64 = 0
        return parameterTable.map { p in
            defer {
                if p.initialisation == .normal || p.initialisation == .scaledNormal { offset &+= UInt64(p.shape.reduce(1, *)) }
            }
            return offset
        }
    }()

    /// Sets rows `fromRow…` of parameter `i` to their initial values (all of it from row 0).
    func initialiseRows(_ i: Int, from fromRow: Int) {
        let spec = parameterTable[i], p = store.parameters[i]
        let rowSize = spec.shape.dropFirst().reduce(1, *)
        let start = fromRow * rowSize
        guard start < p.count else { return }
        let rest = try! p.value.reshaped([p.count]).slice(0, start..<p.count)
        let std = config.initializerRange
        switch spec.initialisation {
        case .zeros: rest.fill(0)
        case .ones: rest.fill(1)
        case .normal, .scaledNormal:
            let s = spec.initialisation == .normal ? std : std / Float(2 * config.numLayers).squareRoot()
            rest.fillNormal(std: s, seed: initSeed, offset: streamOffsets[i] &+ UInt64(start))
        }
    }

    /// Validates a batch against the model: ids < V, positions ≤ P, shapes.
    func validate(inputIds: Tensor, positionIds: Tensor) throws -> (b: Int, s: Int) {
        guard inputIds.rank == 2, inputIds.dtype == .i32 else {
            throw GLMError.invalidInput("input_ids must be i32 [b, s], got \(inputIds.dtype) \(inputIds.shape)")
        }
        let b = inputIds.shape[0], s = inputIds.shape[1]
        guard positionIds.shape == [b, 2, s], positionIds.dtype == .i32 else {
            throw GLMError.invalidInput("position_ids must be i32 [\(b), 2, \(s)], got \(positionIds.dtype) \(positionIds.shape)")
        }
        let ids = inputIds.toInt32Array()
        if let i = ids.firstIndex(where: { $0 < 0 || Int($0) >= config.vocabSize }) {
            throw GLMError.invalidInput("input_ids[\(i / s)][\(i % s)] = \(ids[i]) is outside the vocabulary [0, \(config.vocabSize))")
        }
        if let bad = positionIds.toInt32Array().first(where: { $0 < 0 || Int($0) > config.maxSequenceLength }) {
            throw GLMError.invalidInput("position_ids value \(bad) is outside [0, \(config.maxSequenceLength)] (max_sequence_length)")
        }
        return (b, s)
    }

    /// The embedding sum `E[ids] + Pos[pos] + Block[blk]` `[b, s, h]` (before dropout).
    func embed(_ inputIds: Tensor, _ positionIds: Tensor, b: Int, s: Int) throws -> Tensor {
        let pos = try positionIds.contiguous().slice(1, 0..<1).contiguous().reshaped([b, s])
        let blk = try positionIds.contiguous().slice(1, 1..<2).contiguous().reshaped([b, s])
        let words = try wordEmbeddings(inputIds.contiguous())
        return try Ops.add(Ops.add(words, positionEmbeddings(pos)), blockPositionEmbeddings(blk))
    }

    private func dropout(_ x: Tensor, _ p: Float, cached: Bool) throws -> Tensor {
        training && !cached && p > 0 ? try Ops.dropout(x, p: p, rng: rng) : x
    }

    /// The final hidden states `[b, s, h]` after the final layer norm.
    ///
    /// With `cache`, the new tokens run after everything the cache holds for their sequences and
    /// their keys and values are appended (inference: no gradient, no dropout); `mask` must then
    /// be `.separators` (`sep = s`: a bidirectional context pass, `sep = 0`: causal decoding).
    public func hiddenStates(inputIds: Tensor, positionIds: Tensor, mask: AttentionMask,
                             cache: CacheSlots? = nil) throws -> Tensor {
        let (b, s) = try validate(inputIds: inputIds, positionIds: positionIds)
        guard let cache else {
            var x = try dropout(embed(inputIds, positionIds, b: b, s: s), config.embeddingDropoutProb, cached: false)
            for i in layers.indices { x = try block(i, x, mask: mask) }
            return try finalLayerNorm(x)
        }
        guard case .separators = mask else {
            throw GLMError.invalidInput("a cached forward pass takes separators, not an explicit mask")
        }
        guard cache.rows.count == b, cache.cache.layers == layers.count, cache.cache.hidden == config.hiddenSize else {
            throw GLMError.invalidInput("the cache (\(cache.cache.layers) layers × \(cache.cache.hidden)) and its \(cache.rows.count) rows do not fit this model and a batch of \(b)")
        }
        let advance = cache.newTokens ?? [Int](repeating: s, count: b)
        guard advance.count == b, advance.allSatisfy({ $0 >= 0 && $0 <= s }) else {
            throw GLMError.invalidInput("newTokens must hold \(b) counts in [0, \(s)], got \(advance)")
        }
        return try Autograd.withNoGrad {
            var x = try embed(inputIds, positionIds, b: b, s: s)
            for i in layers.indices { x = try block(i, x, mask: mask, cache: cache) }
            cache.cache.advance(rows: cache.rows, by: advance)
            return try finalLayerNorm(x)
        }
    }

    /// Transformer block `i` on the residual stream `x [b, s, h]` (docs/official-glm.md §1.2
    /// step 5). With `cache`, attention also sees the cached tokens and appends the new keys and
    /// values; one token per sequence (a decoding step) computes every row on its own, so a
    /// sequence decoded in a batch gets the numbers it gets alone.
    public func block(_ i: Int, _ x: Tensor, mask: AttentionMask, cache: CacheSlots? = nil) throws -> Tensor {
        let c = config, layer = layers[i]
        let decoding = cache != nil && x.shape[1] == 1
        let qkv = try layer.queryKeyValue(layer.inputLayerNorm(x), bf16: bf16, rowwise: decoding)
        let ctx: Tensor
        if let cache, case let .separators(seps) = mask {
            ctx = try Ops.attention(qkv, heads: c.numAttentionHeads, separators: seps, cache: cache.cache, layer: i, rows: cache.rows)
        } else {
            ctx = try Ops.attention(qkv, heads: c.numAttentionHeads, mask: mask,
                                    dropout: training ? c.attentionDropoutProb : 0, rng: rng)
        }
        let cached = cache != nil
        let x1 = try Ops.add(x, dropout(layer.dense(ctx, bf16: bf16, rowwise: decoding), c.outputDropoutProb, cached: cached))
        let u = try Ops.gelu(layer.denseHTo4H(layer.postAttentionLayerNorm(x1), bf16: bf16, rowwise: decoding), approximation: c.gelu)
        return try Ops.add(x1, dropout(layer.dense4HToH(u, bf16: bf16, rowwise: decoding), c.outputDropoutProb, cached: cached))
    }

    /// Logits `[b·s, V]` (`h_out · Eᵀ`, tied to the word embeddings, no bias); with `cache`, as
    /// ``hiddenStates(inputIds:positionIds:mask:cache:)``, and `lastOnly` keeps each sequence's
    /// last position (`[b, V]`, what a decoding step needs).
    public func callAsFunction(inputIds: Tensor, positionIds: Tensor, mask: AttentionMask,
                               cache: CacheSlots? = nil, lastOnly: Bool = false) throws -> Tensor {
        let hOut = try hiddenStates(inputIds: inputIds, positionIds: positionIds, mask: mask, cache: cache)
        let b = hOut.shape[0], s = hOut.shape[1]
        let rows = lastOnly ? (0..<b).map { $0 * s + s - 1 } : nil
        if cache != nil { return try Autograd.withNoGrad { try logits(hiddenStates: hOut, rows: rows, rowwise: s == 1) } }
        return try logits(hiddenStates: hOut, rows: rows)
    }

    /// The vocabulary projection `h · Eᵀ` (tied to the word embeddings, no bias) of final hidden
    /// states `[b, s, h]` (from ``hiddenStates(inputIds:positionIds:mask:cache:)``): logits
    /// `[b·s, V]`, or `[rows.count, V]` for the flattened rows `rows` (row `i·s + t` is sample i,
    /// position t) in that order. Heads that read a few positions (cloze scoring, the loss) pass
    /// `rows`, so the V-wide projection runs only where it is needed. `rowwise` computes every
    /// row on its own (decoding; see ``Ops/linear(_:weight:bias:weightBF16:rowwise:)``).
    public func logits(hiddenStates hOut: Tensor, rows: [Int]? = nil, rowwise: Bool = false) throws -> Tensor {
        var flat = try hOut.reshaped([-1, config.hiddenSize])
        if let rows {
            let n = flat.shape[0]
            if let bad = rows.first(where: { $0 < 0 || $0 >= n }) {
                throw GLMError.invalidInput("row \(bad) is outside the \(n) rows of the hidden states")
            }
            if rows != Array(0..<n) { flat = try Ops.gatherRows(flat, indices: rows) }
        }
        return try Ops.linear(flat, weight: wordEmbeddings.weight.value,
                              weightBF16: bf16 ? wordEmbeddings.weight.bf16 : nil, rowwise: rowwise)
    }

    /// The token-mean loss `Σ losses·loss_mask / Σ loss_mask` as a scalar `[1]`: the pretraining
    /// loss (docs/official-glm.md §4.2) with `labelSmoothing` ε = 0, and the seq2seq fine-tuning
    /// loss with ε > 0, `losses = (1 − ε)·CE + ε·mean_v(−log_softmax)` (§6.2, official
    /// `tasks/seq2seq/finetune.py:seq2seq_forward_step`). `targets` i32 and `lossMask` f32, both `[b, s]`.
    ///
    /// Only rows with a non-zero loss mask reach the vocabulary projection: the others contribute
    /// nothing to the loss or its gradient, and in a blank-infilling batch they are most rows.
    ///
    /// `normalizer` replaces `Σ loss_mask` as the denominator: a data-parallel process passes the
    /// mask sum of the whole batch, so the processes' losses and gradients add up to the whole
    /// batch's (see ``Ops/crossEntropy(_:targets:lossMask:overwriteLogits:labelSmoothing:normalizer:)``).
    public func loss(inputIds: Tensor, positionIds: Tensor, mask: AttentionMask, targets: Tensor,
                     lossMask: Tensor, labelSmoothing: Float = 0, normalizer: Double? = nil) throws -> Tensor {
        guard targets.shape == inputIds.shape, lossMask.shape == inputIds.shape,
              targets.dtype == .i32, lossMask.dtype == .f32 else {
            throw GLMError.invalidInput("targets (i32) \(targets.shape) and loss_mask (f32) \(lossMask.shape) must match input_ids \(inputIds.shape)")
        }
        guard labelSmoothing >= 0, labelSmoothing < 1 else {
            throw GLMError.invalidInput("label smoothing must be in [0, 1), got \(labelSmoothing)")
        }
        let lm = lossMask.toArray(), tg = targets.toInt32Array()
        // A part of a batch may hold no loss token; one masked-out row keeps the graph (loss 0, gradient 0).
        let counted = lm.indices.filter { lm[$0] != 0 }
        let rows = counted.isEmpty ? [0] : counted
        let hOut = try hiddenStates(inputIds: inputIds, positionIds: positionIds, mask: mask)
        let logits = try self.logits(hiddenStates: hOut, rows: rows)
        let t = try Tensor(int32: rows.map { tg[$0] }, shape: [rows.count])
        let m = try Tensor(rows.map { lm[$0] }, shape: [rows.count])
        return try Ops.crossEntropy(logits, targets: t, lossMask: m, overwriteLogits: true, labelSmoothing: labelSmoothing,
                                    normalizer: normalizer)
    }

    /// An empty cache for `rows` sequences of up to `capacity` tokens each.
    public func makeCache(rows: Int, capacity: Int) -> KVCache {
        KVCache(rows: rows, capacity: capacity, layers: config.numLayers, hidden: config.hiddenSize)
    }
}
