import GLMNN
import GLMTensor

/// Everything swift-glm knows about one GLM parameter, in one row: its official state-dict key and
/// shape, how it is initialised, whether AdamW decays it, how model parallelism splits it, and
/// whether a checkpoint may hold fewer rows of it.
///
/// The ``ParameterStore`` layout, the initialiser, the optimizer's weight-decay groups, the
/// checkpoint loader's key check and the model-parallel merge all read this table
/// (``GLMParameters/table(_:)``), so a rule is stated once.
public struct GLMParameter: Sendable, Equatable {
    /// How a parameter starts when training from scratch (docs/official-glm.md §1.7).
    public enum Initialisation: Sendable, Equatable {
        /// N(0, σ) with σ = `initializer_range` (0.02).
        case normal
        /// N(0, σ/√(2L)): the two projections that write into the residual stream
        /// (official `mpu/transformer.py:scaled_init_method`).
        case scaledNormal
        case zeros
        case ones
    }

    /// The official state-dict key, e.g. `transformer.layers.0.attention.query_key_value.weight`.
    public let name: String
    public let shape: [Int]
    public let initialisation: Initialisation
    /// AdamW weight decay applies (official `model/modeling_glm.py:glm_get_params_for_weight_decay_optimization`:
    /// not on biases, not on any LayerNorm parameter).
    public let weightDecay: Bool
    /// How official model-parallel checkpoints split it across ranks (docs/official-glm.md §8.1).
    public let split: ShardSplit
    /// A checkpoint may hold fewer rows; the rest keep their initial values (the position tables:
    /// official `train_utils.py:load_pretrained`, docs/official-glm.md §2).
    public let extendableRows: Bool
}

/// The parameter table of GLM (docs/official-glm.md §1.1).
public enum GLMParameters {
    /// Every parameter of a model of shape `c`, in the order the store lays them out.
    public static func table(_ c: GLMConfig) -> [GLMParameter] {
        let h = c.hiddenSize, p1 = c.maxSequenceLength + 1
        func p(_ name: String, _ shape: [Int], _ initialisation: GLMParameter.Initialisation, decay: Bool,
               split: ShardSplit = .replicated, extendable: Bool = false) -> GLMParameter {
            GLMParameter(name: name, shape: shape, initialisation: initialisation, weightDecay: decay, split: split,
                         extendableRows: extendable)
        }
        func layerNorm(_ name: String) -> [GLMParameter] {
            [p(name + ".weight", [h], .ones, decay: false), p(name + ".bias", [h], .zeros, decay: false)]
        }
        var table = [
            p("word_embeddings.weight", [c.vocabSize, h], .normal, decay: true, split: .rows),
            p("transformer.position_embeddings.weight", [p1, h], .normal, decay: true, extendable: true),
            p("transformer.block_position_embeddings.weight", [p1, h], .normal, decay: true, extendable: true),
        ]
        for i in 0..<c.numLayers {
            let l = "transformer.layers.\(i)."
            table += layerNorm(l + "input_layernorm")
            table += [
                p(l + "attention.query_key_value.weight", [3 * h, h], .normal, decay: true, split: .interleavedRows(3)),
                p(l + "attention.query_key_value.bias", [3 * h], .zeros, decay: false, split: .interleavedRows(3)),
                p(l + "attention.dense.weight", [h, h], .scaledNormal, decay: true, split: .columns),
                p(l + "attention.dense.bias", [h], .zeros, decay: false),
            ]
            table += layerNorm(l + "post_attention_layernorm")
            table += [
                p(l + "mlp.dense_h_to_4h.weight", [4 * h, h], .normal, decay: true, split: .rows),
                p(l + "mlp.dense_h_to_4h.bias", [4 * h], .zeros, decay: false, split: .rows),
                p(l + "mlp.dense_4h_to_h.weight", [h, 4 * h], .scaledNormal, decay: true, split: .columns),
                p(l + "mlp.dense_4h_to_h.bias", [h], .zeros, decay: false),
            ]
        }
        table += layerNorm("transformer.final_layernorm")
        return table
    }

    /// The split rule of the table for any key (replicated when the key is unknown), for
    /// ``CheckpointLoader/load(_:split:)``. Keys of every layer share their layer-0 rule.
    public static func split(for key: String) -> ShardSplit {
        splitRules[layerless(key)] ?? .replicated
    }

    private static let splitRules: [String: ShardSplit] = {
        let one = GLMConfig(numLayers: 1, hiddenSize: 16, numAttentionHeads: 1, vocabSize: 16, maxSequenceLength: 1)
        return Dictionary(table(one).map { (layerless($0.name), $0.split) }, uniquingKeysWith: { a, _ in a })
    }()

    /// `transformer.layers.7.mlp.x` → `transformer.layers.*.mlp.x`.
    private static func layerless(_ key: String) -> String {
        let prefix = "transformer.layers."
        guard key.hasPrefix(prefix) else { return key }
        let rest = key.dropFirst(prefix.count)
        guard let dot = rest.firstIndex(of: "."), rest[..<dot].allSatisfy(\.isNumber) else { return key }
        return prefix + "*" + rest[dot...]
    }
}
