import Foundation
import GLMSystem
import GLMTokenizers

extension GLMConfig {
    /// The largest values `config.json` may hold, far above every released GLM (GLM-130B: 70 layers,
    /// hidden 12288, 96 heads, vocab 150 k, 2048 positions) and low enough that a hostile or mistyped
    /// file fails with a message instead of looping for minutes or asking the allocator for exabytes.
    public enum Limits {
        public static let numLayers = 1024
        public static let hiddenSize = 1 << 16
        public static let numAttentionHeads = 1024
        /// The tokenizers' own limit on ids.
        public static let vocabSize = GLMTokenizer.maxVocabularySize
        public static let maxSequenceLength = 1 << 20
    }

    /// What a model is used for, which decides which buffers an estimate counts.
    public enum Workload: Sendable, Equatable {
        /// One forward pass without gradients (`glm logits`, evaluation).
        case inference
        /// Forward and backward with AdamW state (`glm pretrain`, fine-tuning, `glm logits --grads`).
        case training
        /// Incremental decoding with a per-layer key/value cache (`glm generate`; batch = prompts × beams).
        case decoding
    }

    /// Parameters of the model (word embeddings, two position tables of P+1 rows, 12h² + 13h per
    /// layer, the final layer norm); nil when the count overflows.
    public var parameterCount: Int? {
        let h = hiddenSize, p1 = maxSequenceLength + 1
        guard let perLayer = CheckedSize.sum([CheckedSize.product([12, h, h]) ?? -1, CheckedSize.product([13, h]) ?? -1]),
              let layers = CheckedSize.product([numLayers, perLayer]),
              let embeddings = CheckedSize.product([vocabSize, h]),
              let positions = CheckedSize.product([2, p1, h]) else { return nil }
        return CheckedSize.sum([embeddings, positions, layers, 2 * h])
    }

    /// A rough upper estimate (within about ±50 %) of the bytes `workload` needs for `batch`
    /// sequences of `sequence` tokens: f32 weights (plus a bf16 copy), gradients and two AdamW
    /// moments when training, and the activations that dominate at length — attention scores
    /// `[b, heads, s, s]`, the per-token hidden buffers of each layer (all layers kept for backward
    /// when training), the logits `[b, s, V]`; when decoding, the key/value cache of every row plus
    /// one context pass and one token per row at a time. Nil when
    /// the arithmetic overflows (which is itself far more than any machine has).
    ///
    /// Used to refuse impossible requests with a clear error before anything is allocated
    /// (``checkMemory(batch:sequence:workload:bf16:for:)``), not to plan memory precisely.
    public func estimatedBytes(batch: Int, sequence: Int, workload: Workload, bf16: Bool = false) -> Int? {
        guard batch >= 0, sequence >= 0, let params = parameterCount else { return nil }
        let h = hiddenSize, n = numAttentionHeads, v = vocabSize, f = 4
        let perParam = (workload == .training ? 16 : 4) + (bf16 ? 2 : 0)
        guard let weights = CheckedSize.product([params, perParam]),
              let tokens = CheckedSize.product([batch, sequence]),
              let scores = CheckedSize.product([batch, n, sequence, sequence, 2 * f]),  // scores and probabilities
              let hidden = CheckedSize.product([tokens, 18, h, f]),                     // ~18·h floats per token per layer
              let logits = CheckedSize.product([tokens, v, f, workload == .training ? 2 : 1]) else { return nil }
        switch workload {
        case .inference:
            return CheckedSize.sum([weights, scores, hidden, logits])
        case .training:
            guard let layers = CheckedSize.product([numLayers, CheckedSize.sum([scores, hidden]) ?? -1]) else { return nil }
            return CheckedSize.sum([weights, layers, logits])
        case .decoding:
            // K and V per layer for every row; the context pass runs once ([1, heads, s, s] scores),
            // then one token per row and step.
            guard let cache = CheckedSize.product([2, numLayers, tokens, h, f]),
                  let context = CheckedSize.sum([CheckedSize.product([n, sequence, sequence, 2 * f]) ?? -1,
                                                 CheckedSize.product([sequence, 18, h, f]) ?? -1]),
                  let step = CheckedSize.product([batch, CheckedSize.sum([v, n * sequence, 18 * h]) ?? -1, f]) else { return nil }
            return CheckedSize.sum([weights, cache, context, step])
        }
    }

    /// Throws ``GLMError/insufficientMemory(_:)`` when ``estimatedBytes(batch:sequence:workload:bf16:)``
    /// is more than the memory available now (``GLMSystem/SystemMemory/available()``).
    ///
    /// - Parameter what: what is being attempted, for the message (`glm logits on 1×100000 tokens`).
    public func checkMemory(batch: Int, sequence: Int, workload: Workload, bf16: Bool = false, for what: String) throws {
        let available = SystemMemory.available()
        let shape = "\(numLayers) layers, hidden \(hiddenSize), vocab \(vocabSize)"
        guard let need = estimatedBytes(batch: batch, sequence: sequence, workload: workload, bf16: bf16) else {
            throw GLMError.insufficientMemory("\(what) (model: \(shape); batch \(batch) × \(sequence) tokens) would need more memory than can be counted; \(formatBytes(available)) is available")
        }
        guard need <= available else {
            throw GLMError.insufficientMemory("\(what) (model: \(shape); batch \(batch) × \(sequence) tokens) needs about \(formatBytes(need)) of memory, but \(formatBytes(available)) is available")
        }
    }
}
