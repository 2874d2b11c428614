import Foundation
import GLMSystem
import GLMTensor

/// A GLM architecture, with the field names of the Hugging Face GLM `config.json`.
///
/// `vocabSize` is the padded vocabulary V (a multiple of 128, docs/official-glm.md §3) and
/// `maxSequenceLength` is P: the position tables have P+1 rows when block positions are on.
public struct GLMConfig: Codable, Sendable, Equatable {
    public var numLayers: Int
    public var hiddenSize: Int
    public var numAttentionHeads: Int
    public var vocabSize: Int
    public var maxSequenceLength: Int
    public var blockPositionEncoding: Bool = true
    public var outputPredict: Bool = true
    public var embeddingDropoutProb: Float = 0.1
    public var attentionDropoutProb: Float = 0.1
    public var outputDropoutProb: Float = 0.1
    public var attentionScale: Float = 1.0
    public var initializerRange: Float = 0.02
    /// Not in HF configs: the official code uses tanh-GELU (the default here); the HF port erf.
    public var gelu: GELUApproximation = .tanh

    enum CodingKeys: String, CodingKey {
        case numLayers = "num_layers", hiddenSize = "hidden_size", numAttentionHeads = "num_attention_heads"
        case vocabSize = "vocab_size", maxSequenceLength = "max_sequence_length"
        case blockPositionEncoding = "block_position_encoding", outputPredict = "output_predict"
        case embeddingDropoutProb = "embedding_dropout_prob", attentionDropoutProb = "attention_dropout_prob"
        case outputDropoutProb = "output_dropout_prob", attentionScale = "attention_scale"
        case initializerRange = "initializer_range", gelu
    }

    public init(numLayers: Int, hiddenSize: Int, numAttentionHeads: Int, vocabSize: Int, maxSequenceLength: Int,
                dropout: Float = 0.1, gelu: GELUApproximation = .tanh) {
        self.numLayers = numLayers; self.hiddenSize = hiddenSize; self.numAttentionHeads = numAttentionHeads
        self.vocabSize = vocabSize; self.maxSequenceLength = maxSequenceLength
        embeddingDropoutProb = dropout; attentionDropoutProb = dropout; outputDropoutProb = dropout
        self.gelu = gelu
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        numLayers = try c.decode(Int.self, forKey: .numLayers)
        hiddenSize = try c.decode(Int.self, forKey: .hiddenSize)
        numAttentionHeads = try c.decode(Int.self, forKey: .numAttentionHeads)
        vocabSize = try c.decode(Int.self, forKey: .vocabSize)
        maxSequenceLength = try c.decode(Int.self, forKey: .maxSequenceLength)
        blockPositionEncoding = try c.decodeIfPresent(Bool.self, forKey: .blockPositionEncoding) ?? true
        outputPredict = try c.decodeIfPresent(Bool.self, forKey: .outputPredict) ?? true
        embeddingDropoutProb = try c.decodeIfPresent(Float.self, forKey: .embeddingDropoutProb) ?? 0.1
        attentionDropoutProb = try c.decodeIfPresent(Float.self, forKey: .attentionDropoutProb) ?? 0.1
        outputDropoutProb = try c.decodeIfPresent(Float.self, forKey: .outputDropoutProb) ?? 0.1
        attentionScale = try c.decodeIfPresent(Float.self, forKey: .attentionScale) ?? 1.0
        initializerRange = try c.decodeIfPresent(Float.self, forKey: .initializerRange) ?? 0.02
        gelu = try c.decodeIfPresent(GELUApproximation.self, forKey: .gelu) ?? .tanh
    }

    /// Per-head width d = h / n.
    public var headDim: Int { hiddenSize / numAttentionHeads }

    /// Throws a ``GLMError/invalidConfig(_:)`` naming the field that makes no sense.
    public func validate() throws {
        func bad(_ s: String) -> GLMError { .invalidConfig(s) }
        for (name, value, limit) in [("num_layers", numLayers, Limits.numLayers), ("hidden_size", hiddenSize, Limits.hiddenSize),
                                     ("num_attention_heads", numAttentionHeads, Limits.numAttentionHeads),
                                     ("vocab_size", vocabSize, Limits.vocabSize), ("max_sequence_length", maxSequenceLength, Limits.maxSequenceLength)]
            where value > limit {
            throw bad("\(name) is \(value), above the supported \(limit)")
        }
        guard numLayers > 0 else { throw bad("num_layers must be positive, got \(numLayers)") }
        guard hiddenSize > 0, numAttentionHeads > 0 else { throw bad("hidden_size and num_attention_heads must be positive") }
        guard hiddenSize % numAttentionHeads == 0 else {
            throw bad("hidden_size \(hiddenSize) is not divisible by num_attention_heads \(numAttentionHeads)")
        }
        guard vocabSize > 0 else { throw bad("vocab_size must be positive, got \(vocabSize)") }
        guard maxSequenceLength > 0 else { throw bad("max_sequence_length must be positive, got \(maxSequenceLength)") }
        guard parameterCount != nil else { throw bad("the model's parameter count overflows") }
        guard blockPositionEncoding else { throw bad("block_position_encoding=false (the --no-block-position ablation) is not supported") }
        for (n, p) in [("embedding_dropout_prob", embeddingDropoutProb), ("attention_dropout_prob", attentionDropoutProb),
                       ("output_dropout_prob", outputDropoutProb)] where !(p >= 0 && p < 1) {
            throw bad("\(n) must be in [0, 1), got \(p)")
        }
        guard attentionScale.isFinite, attentionScale > 0 else { throw bad("attention_scale must be a positive number, got \(attentionScale)") }
        guard initializerRange.isFinite, initializerRange >= 0 else { throw bad("initializer_range must be a non-negative number, got \(initializerRange)") }
    }

    /// Reads and validates a Hugging Face `config.json`.
    public static func load(_ url: URL) throws -> GLMConfig {
        let data: Data
        do { data = try MappedFile.read(url) } catch let e as SystemError { throw GLMError.io(url.path, "cannot read: \(e.reason)") }
        let c: GLMConfig
        do { c = try decodeJSON(GLMConfig.self, from: data) } catch {
            throw GLMError.invalidConfig("\(url.path): \(describe(error))")
        }
        try c.validate()
        return c
    }

    /// Writes `config.json` with HF names (plus `architectures` and `model_type` as HF does).
    public func jsonData() throws -> Data {
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys]
        var obj = try JSONSerialization.jsonObject(with: enc.encode(self)) as! [String: Any]
        obj["architectures"] = ["GLMModel"]
        obj["model_type"] = "glm"
        return try JSONSerialization.data(withJSONObject: obj, options: [.prettyPrinted, .sortedKeys])
    }
}

extension GLMConfig {
    /// The released models (docs/official-glm.md §2) and small ones for tests and the embedded default.
    public static let presets: [String: GLMConfig] = [
        "glm-base": GLMConfig(numLayers: 12, hiddenSize: 768, numAttentionHeads: 12, vocabSize: 30592, maxSequenceLength: 512),
        "glm-large": GLMConfig(numLayers: 24, hiddenSize: 1024, numAttentionHeads: 16, vocabSize: 30592, maxSequenceLength: 512),
        "glm-roberta-large": GLMConfig(numLayers: 24, hiddenSize: 1024, numAttentionHeads: 16, vocabSize: 50304, maxSequenceLength: 512),
        "glm-515m": GLMConfig(numLayers: 30, hiddenSize: 1152, numAttentionHeads: 18, vocabSize: 30592, maxSequenceLength: 512),
        "glm-2b": GLMConfig(numLayers: 36, hiddenSize: 2048, numAttentionHeads: 32, vocabSize: 50304, maxSequenceLength: 1024),
        "glm-10b": GLMConfig(numLayers: 48, hiddenSize: 4096, numAttentionHeads: 64, vocabSize: 50304, maxSequenceLength: 1024),
        "glm-large-chinese": GLMConfig(numLayers: 24, hiddenSize: 1024, numAttentionHeads: 16, vocabSize: 50048, maxSequenceLength: 1024),
        "glm-10b-chinese": GLMConfig(numLayers: 48, hiddenSize: 4096, numAttentionHeads: 64, vocabSize: 50048, maxSequenceLength: 1024),
        "glm-small": GLMConfig(numLayers: 4, hiddenSize: 256, numAttentionHeads: 4, vocabSize: 30592, maxSequenceLength: 256),
        "glm-tiny": GLMConfig(numLayers: 2, hiddenSize: 64, numAttentionHeads: 4, vocabSize: 30592, maxSequenceLength: 128),
    ]
}

/// Errors of the GLM layer, each naming the file, field or value at fault.
public enum GLMError: Error, CustomStringConvertible {
    case invalidConfig(String)
    case io(String, String)
    case invalidInput(String)
    case checkpoint(String)
    /// A request that would need more memory than the machine has (see ``GLMConfig/checkMemory(batch:sequence:workload:bf16:for:)``).
    case insufficientMemory(String)

    public var description: String {
        switch self {
        case let .invalidConfig(m): return "invalid model config: \(m)"
        case let .io(path, m): return "\(path): \(m)"
        case let .invalidInput(m): return "invalid input: \(m)"
        case let .checkpoint(m): return "checkpoint: \(m)"
        case let .insufficientMemory(m): return "not enough memory: \(m)"
        }
    }
}

func describe(_ error: Error) -> String { describeDecodingError(error) }
