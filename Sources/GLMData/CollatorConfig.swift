/// The objective mix of the blank-infilling collator (docs/official-glm.md §4.2–4.3, `ConstructBlockStrategy`).
///
/// One objective is drawn per *batch*: token level (`bert`) with probability ``bertProb``, sentence
/// level with ``gapSentenceProb``, document level (`gpt`) with the rest. Presets reproduce the released
/// models' settings from the official `config/ds_block_*.sh` scripts.
public struct CollatorConfig: Sendable, Codable, Equatable {
    /// Probability of a token-level (Poisson span) batch.
    public var bertProb: Double = 1.0
    /// Probability of a sentence-level batch.
    public var gapSentenceProb: Double = 0.0
    /// Document level: probability that a single-document sample uses the *suffix* form
    /// (`gpt_infill_prob` in the official code, whose name says the opposite of what it does).
    public var gptInfillProb: Double = 0.5
    /// Document level: the shared span length is drawn from `[gptMinRatio·min_len, max_len − 2]`.
    public var gptMinRatio: Double = 0.5
    /// Token level: mask at least this fraction of each sample.
    public var bertRatio: Double = 0.15
    /// Sentence level: mask whole sentences until at least this fraction is covered.
    public var gapSentenceRatio: Double = 0.15
    /// λ of the Poisson span-length distribution.
    public var averageBlockLength: Double = 3
    /// Span lengths run over 1..<maxBlockLength (official `max_block_length` = 40 → 1…39).
    public var maxBlockLength: Int = 40
    /// Token level: each Part B input token (not sop) becomes [dBLOCK] with this probability.
    public var blockMaskProb: Double = 0
    /// Probability of cutting each sample into shorter sentence-aligned crops first (`split_samples`).
    public var shortSeqProb: Double = 0
    /// Probability of a token-level batch with exactly one span per sample.
    public var singleSpanProb: Double = 0
    /// Shuffle the spans of Part B (on in every released model; off = `--no-shuffle-block`).
    public var shuffleBlocks: Bool = true
    /// Use [sMASK] / [gMASK] for sentence and document spans when the tokenizer has them
    /// (`--task-mask`). With a vocabulary that lacks them (BERT), [MASK] is used, as the official code
    /// does without `--task-mask`.
    public var taskMask: Bool = true

    public init() {}

    /// Probability of a document-level batch: what is left after token and sentence level.
    public var gptProb: Double { max(0, 1 - bertProb - gapSentenceProb) }

    /// Checks ranges; the error names the field.
    public func validate() throws {
        func unit(_ v: Double, _ name: String) throws {
            guard v >= 0 && v <= 1 && v.isFinite else {
                throw GLMDataError.invalidConfig(field: name, reason: "must be within 0...1, found \(v)")
            }
        }
        try unit(bertProb, "bertProb"); try unit(gapSentenceProb, "gapSentenceProb")
        try unit(gptInfillProb, "gptInfillProb"); try unit(gptMinRatio, "gptMinRatio")
        try unit(bertRatio, "bertRatio"); try unit(gapSentenceRatio, "gapSentenceRatio")
        try unit(blockMaskProb, "blockMaskProb"); try unit(shortSeqProb, "shortSeqProb")
        try unit(singleSpanProb, "singleSpanProb")
        if bertProb + gapSentenceProb > 1 + 1e-9 {
            throw GLMDataError.invalidConfig(field: "bertProb+gapSentenceProb", reason: "must not exceed 1")
        }
        guard averageBlockLength > 0 else {
            throw GLMDataError.invalidConfig(field: "averageBlockLength", reason: "must be positive")
        }
        guard maxBlockLength >= 2 else {
            throw GLMDataError.invalidConfig(field: "maxBlockLength", reason: "must be at least 2 (spans of length 1)")
        }
    }

    // MARK: Presets (docs/official-glm.md §4.3)

    /// Token level only: GLM-Base and GLM-Large (`ds_block_base.sh`, `ds_block_large.sh`).
    public static var glmBase: CollatorConfig { CollatorConfig() }
    /// Same mix as ``glmBase``.
    public static var glmLarge: CollatorConfig { CollatorConfig() }
    /// GLM-RoBERTa: token level only.
    public static var glmRoberta: CollatorConfig { CollatorConfig() }
    /// GLM-Doc (and 410M/515M): half token level, half document level with 50–100% spans.
    public static var glmDoc: CollatorConfig {
        var c = CollatorConfig(); c.bertProb = 0.5; c.gapSentenceProb = 0; c.gptMinRatio = 0.5; c.gptInfillProb = 0.5
        return c
    }
    /// GLM-Sent (paper ablation): half token level, half sentence level.
    public static var glmSent: CollatorConfig {
        var c = CollatorConfig(); c.bertProb = 0.5; c.gapSentenceProb = 0.5
        return c
    }
    /// GLM-Large-Chinese (`ds_block_large_chinese.sh`).
    public static var glmLargeChinese: CollatorConfig {
        var c = CollatorConfig(); c.bertProb = 0.4; c.gapSentenceProb = 0.3; c.gptMinRatio = 0.25
        c.gptInfillProb = 0.5; c.blockMaskProb = 0.1; c.shortSeqProb = 0.02
        return c
    }
    /// GLM-10B, 512-token stage (`ds_block_10B.sh`).
    public static var glm10B: CollatorConfig {
        var c = CollatorConfig(); c.bertProb = 0.5; c.gapSentenceProb = 0.3; c.gptMinRatio = 0.25
        c.gptInfillProb = 0.5; c.blockMaskProb = 0.1; c.shortSeqProb = 0.02
        return c
    }
    /// GLM-10B, 1024-token "longer" stage.
    public static var glm10BLonger: CollatorConfig {
        var c = CollatorConfig(); c.bertProb = 0.4; c.gapSentenceProb = 0.3; c.gptMinRatio = 0.25
        c.gptInfillProb = 0.5; c.singleSpanProb = 0.05; c.shortSeqProb = 0.5
        return c
    }
    /// GLM-10B-Chinese, 512-token stage.
    public static var glm10BChinese: CollatorConfig {
        var c = CollatorConfig(); c.bertProb = 0.5; c.gapSentenceProb = 0.3; c.gptMinRatio = 0.25
        c.gptInfillProb = 0.5; c.shortSeqProb = 0.02
        return c
    }
    /// Token level only (forces `bert` batches).
    public static var tokenOnly: CollatorConfig { CollatorConfig() }
    /// Sentence level only.
    public static var sentenceOnly: CollatorConfig {
        var c = CollatorConfig(); c.bertProb = 0; c.gapSentenceProb = 1
        return c
    }
    /// Document level only, default 50–100% spans.
    public static var documentOnly: CollatorConfig {
        var c = CollatorConfig(); c.bertProb = 0; c.gapSentenceProb = 0
        return c
    }

    /// Names accepted by ``named(_:)`` (and `glm batches --objective`).
    public static let presetNames = ["token", "sentence", "document", "glm-base", "glm-large", "glm-roberta",
                                     "glm-doc", "glm-sent", "glm-large-chinese", "glm-10b", "glm-10b-longer",
                                     "glm-10b-chinese"]

    /// A preset or single objective by name (see ``presetNames``), or nil.
    public static func named(_ name: String) -> CollatorConfig? {
        switch name.lowercased() {
        case "token", "bert": return .tokenOnly
        case "sentence", "gap-sentence": return .sentenceOnly
        case "document", "gpt": return .documentOnly
        case "glm-base": return .glmBase
        case "glm-large": return .glmLarge
        case "glm-roberta", "glm-roberta-large": return .glmRoberta
        case "glm-doc", "glm-410m", "glm-515m": return .glmDoc
        case "glm-sent": return .glmSent
        case "glm-large-chinese": return .glmLargeChinese
        case "glm-10b", "glm-2b": return .glm10B
        case "glm-10b-longer": return .glm10BLonger
        case "glm-10b-chinese": return .glm10BChinese
        default: return nil
        }
    }
}
