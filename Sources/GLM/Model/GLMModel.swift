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

/// GLM exactly as the official THUDM code (docs/official-glm.md §1): word + position + block-position
/// embeddings, pre-LN blocks with fused QKV and the separator mask, a final layer norm, and
/// logits tied to the word embeddings.
///
/// Parameters live in one `ParameterStore` (GLMTensor) under the official state-dict keys.
public final class GLMModel: @unchecked Sendable {
    public let config: GLMConfig
    public let store: ParameterStore
    let wordEmbeddings: Embedding
    let positionEmbeddings: Embedding
    let blockPositionEmbeddings: Embedding
    let layers: [GLMLayer]
    let finalLayerNorm: LayerNorm
    /// Dropout on (training) or off (evaluation).
    public var training = false
    /// Run linear layers' matmuls in bf16 (f32 accumulation); call `ParameterStore.refreshBF16()`
    /// after every weight update.
    public var bf16 = false {
        didSet { if bf16 { store.refreshBF16() } else { store.dropBF16() } }
    }
    /// The dropout stream; part of the training state for exact resume.
    public let rng: RandomState

    /// The official state-dict keys and shapes of `config` (docs/official-glm.md §1.1), in a fixed order.
    public static func parameterSpecs(_ c: GLMConfig) -> [(name: String, shape: [Int])] {
        let h = c.hiddenSize, p1 = c.maxSequenceLength + 1
        var specs: [(String, [Int])] = [
            ("word_embeddings.weight", [c.vocabSize, h]),
            ("transformer.position_embeddings.weight", [p1, h]),
            ("transformer.block_position_embeddings.weight", [p1, h]),
        ]
        for i in 0..<c.numLayers {
            let p = "transformer.layers.\(i)."
            specs += [
                (p + "input_layernorm.weight", [h]), (p + "input_layernorm.bias", [h]),
                (p + "attention.query_key_value.weight", [3 * h, h]), (p + "attention.query_key_value.bias", [3 * h]),
                (p + "attention.dense.weight", [h, h]), (p + "attention.dense.bias", [h]),
                (p + "post_attention_layernorm.weight", [h]), (p + "post_attention_layernorm.bias", [h]),
                (p + "mlp.dense_h_to_4h.weight", [4 * h, h]), (p + "mlp.dense_h_to_4h.bias", [4 * h]),
                (p + "mlp.dense_4h_to_h.weight", [h, 4 * h]), (p + "mlp.dense_4h_to_h.bias", [h]),
            ]
        }
        specs += [("transformer.final_layernorm.weight", [h]), ("transformer.final_layernorm.bias", [h])]
        return specs.map { (name: $0.0, shape: $0.1) }
    }

    /// A model initialised per docs/official-glm.md §1.7 from `seed`: N(0, 0.02) for embeddings, QKV and
    /// h→4h; N(0, 0.02/√(2L)) for the two output projections; biases 0; LayerNorm 1/0.
    public init(config: GLMConfig, seed: UInt64 = 1234) throws {
        try config.validate()
        self.config = config
        let store = try ParameterStore(Self.parameterSpecs(config))
        self.store = store
        rng = RandomState(seed: seed &+ 0x9E37_79B9)
        wordEmbeddings = Embedding(weight: try store.require("word_embeddings.weight"))
        positionEmbeddings = Embedding(weight: try store.require("transformer.position_embeddings.weight"))
        blockPositionEmbeddings = Embedding(weight: try store.require("transformer.block_position_embeddings.weight"))
        layers = try (0..<config.numLayers).map { try GLMLayer(store, $0) }
        finalLayerNorm = LayerNorm(weight: try store.require("transformer.final_layernorm.weight"),
                                   bias: try store.require("transformer.final_layernorm.bias"))
        initialize(seed: seed)
    }

    private func initialize(seed: UInt64) {
        let std = config.initializerRange
        let scaled = std / Float(2 * config.numLayers).squareRoot()
        var counter: UInt64 = 0
        for p in store.parameters {
            let n = p.name
            if n.hasSuffix(".bias") { continue }   // store starts at zero
            if n.contains("layernorm") { p.value.floats.update(repeating: 1, count: p.count); continue }
            let s = (n.hasSuffix("attention.dense.weight") || n.hasSuffix("dense_4h_to_h.weight")) ? scaled : std
            CounterRNG.fillNormal(p.value.floats, count: p.count, mean: 0, std: s, seed: seed, offset: counter)
            counter &+= UInt64(p.count)
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
        let ids = inputIds.contiguous()
        for i in 0..<ids.count where ids.int32s[i] < 0 || Int(ids.int32s[i]) >= config.vocabSize {
            throw GLMError.invalidInput("input_ids[\(i / s)][\(i % s)] = \(ids.int32s[i]) is outside the vocabulary [0, \(config.vocabSize))")
        }
        let pos = positionIds.contiguous()
        for i in 0..<pos.count where pos.int32s[i] < 0 || Int(pos.int32s[i]) > config.maxSequenceLength {
            throw GLMError.invalidInput("position_ids value \(pos.int32s[i]) is outside [0, \(config.maxSequenceLength)] (max_sequence_length)")
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

    private func dropout(_ x: Tensor, _ p: Float) throws -> Tensor {
        training && p > 0 ? try Ops.dropout(x, p: p, rng: rng) : x
    }

    /// The final hidden states `[b, s, h]` after the final layer norm.
    public func hiddenStates(inputIds: Tensor, positionIds: Tensor, mask: AttentionMask) throws -> Tensor {
        let (b, s) = try validate(inputIds: inputIds, positionIds: positionIds)
        let c = config
        var x = try dropout(embed(inputIds, positionIds, b: b, s: s), c.embeddingDropoutProb)
        for i in layers.indices { x = try block(i, x, mask: mask) }
        return try finalLayerNorm(x)
    }

    /// Transformer block `i` on the residual stream `x [b, s, h]` (docs/official-glm.md §1.2 step 5).
    public func block(_ i: Int, _ x: Tensor, mask: AttentionMask) throws -> Tensor {
        let c = config, layer = layers[i]
        let a = try layer.inputLayerNorm(x)
        let qkv = try layer.queryKeyValue(a, bf16: bf16)
        let ctx = try Ops.attention(qkv, heads: c.numAttentionHeads, mask: mask,
                                    dropout: training ? c.attentionDropoutProb : 0, rng: rng)
        let x1 = try Ops.add(x, dropout(layer.dense(ctx, bf16: bf16), c.outputDropoutProb))
        let m = try layer.postAttentionLayerNorm(x1)
        let u = try Ops.gelu(layer.denseHTo4H(m, bf16: bf16), approximation: c.gelu)
        return try Ops.add(x1, dropout(layer.dense4HToH(u, bf16: bf16), c.outputDropoutProb))
    }

    /// Logits `[b·s, V]` (`h_out · Eᵀ`, tied to the word embeddings, no bias).
    public func callAsFunction(inputIds: Tensor, positionIds: Tensor, mask: AttentionMask) throws -> Tensor {
        try logits(hiddenStates: hiddenStates(inputIds: inputIds, positionIds: positionIds, mask: mask))
    }

    /// The vocabulary projection `h · Eᵀ` (tied to the word embeddings, no bias) of final hidden
    /// states `[b, s, h]` (from ``hiddenStates(inputIds:positionIds:mask:)``): logits `[b·s, V]`,
    /// or `[rows.count, V]` for the flattened rows `rows` (row `i·s + t` is sample i, position t)
    /// in that order. Heads that read a few positions (cloze scoring, the loss) pass `rows`, so
    /// the V-wide projection runs only where it is needed.
    public func logits(hiddenStates hOut: Tensor, rows: [Int]? = nil) throws -> Tensor {
        var flat = try hOut.reshaped([-1, config.hiddenSize])
        if let rows {
            let n = flat.shape[0]
            if let bad = rows.first(where: { $0 < 0 || $0 >= n }) {
                throw GLMError.invalidInput("row \(bad) is outside the \(n) rows of the hidden states")
            }
            flat = try Ops.gatherRows(flat, indices: rows)
        }
        return try Ops.linear(flat, weight: wordEmbeddings.weight.value,
                              weightBF16: bf16 ? wordEmbeddings.weight.bf16 : nil)
    }

    /// The pretraining loss `Σ CE·loss_mask / Σ loss_mask` (docs/official-glm.md §4.2) as a scalar `[1]`.
    /// `targets` i32 and `lossMask` f32, both `[b, s]`.
    ///
    /// Only rows with a non-zero loss mask reach the vocabulary projection: the others contribute
    /// nothing to the loss or its gradient, and in a blank-infilling batch they are most rows.
    public func loss(inputIds: Tensor, positionIds: Tensor, mask: AttentionMask, targets: Tensor,
                     lossMask: Tensor) throws -> Tensor {
        guard targets.shape == inputIds.shape, lossMask.shape == inputIds.shape,
              targets.dtype == .i32, lossMask.dtype == .f32 else {
            throw GLMError.invalidInput("targets (i32) \(targets.shape) and loss_mask (f32) \(lossMask.shape) must match input_ids \(inputIds.shape)")
        }
        let lm = lossMask.contiguous(), tg = targets.contiguous()
        let rows = (0..<lm.count).filter { lm.floats[$0] != 0 }
        let hOut = try hiddenStates(inputIds: inputIds, positionIds: positionIds, mask: mask)
        let logits = try self.logits(hiddenStates: hOut, rows: rows)
        let t = try Tensor(int32: rows.map { tg.int32s[$0] }, shape: [rows.count])
        let m = try Tensor(rows.map { lm.floats[$0] }, shape: [rows.count])
        return try Ops.crossEntropy(logits, targets: t, lossMask: m, overwriteLogits: true)
    }
}
