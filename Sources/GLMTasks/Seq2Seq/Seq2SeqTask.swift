/// The official seq2seq tasks (`--task` of `tasks/seq2seq/finetune.py`) this port encodes, each with
/// its source layout and the settings of its official script (docs/official-glm.md §6.2, §6.3).
public enum Seq2SeqTask: String, CaseIterable, Sendable, Codable {
    /// CNN/DailyMail, BERT-tokenizer models (`config_tasks/seq_cnndm.sh`).
    case cnnDM = "cnn_dm"
    /// CNN/DailyMail, the original-text setting of GLM-10B (`seq_cnndm_org.sh`).
    case cnnDMOriginal = "cnn_dm_original"
    /// XSum (`seq_xsum.sh`).
    case xsum
    /// Gigaword (`seq_gigaword.sh`).
    case gigaword
    /// SQuAD question generation (`seq_squad_generation.sh`): source = context, target = question,
    /// plus the answer.
    case squadGeneration = "squad_generation"
    /// Free-form source/target pairs (`seq_customization.sh`, `CustomizationDataset`).
    case customization
    /// Blank infilling on Yahoo Answers (`seq_blank.sh`, `BlankLMDataset`); see ``BlankInfilling``.
    case blank

    /// How the task builds Part A.
    public enum Layout: Sendable, Equatable {
        /// `[CLS] [MASK] " Content:" " "+source` (the summary slot before the content).
        case summary
        /// `[CLS] context " Question:" [MASK] " Answer: "+answer`, context windowed around the answer.
        case questionGeneration
        /// `[CLS] source[-(src−3):] [MASK] [eos]` (left-truncated).
        case customization
        /// `" "+text` with words replaced by [MASK] (``BlankInfilling``).
        case blank
    }

    public var layout: Layout {
        switch self {
        case .cnnDM, .cnnDMOriginal, .xsum, .gigaword: return .summary
        case .squadGeneration: return .questionGeneration
        case .customization: return .customization
        case .blank: return .blank
        }
    }

    /// The task for a name as the official `--task` spells it (case-insensitive).
    public static func named(_ name: String) throws -> Seq2SeqTask {
        guard let t = Seq2SeqTask(rawValue: name.lowercased()) else {
            throw TaskError.unknownTask("unknown seq2seq task \"\(name)\"; known: \(allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return t
    }

    /// The settings of the task's official script (``Seq2SeqSettings``).
    public var settings: Seq2SeqSettings {
        switch self {
        case .cnnDM:
            return Seq2SeqSettings(sourceLength: 608, targetLength: 160, epochs: 15, learningRate: 3e-5, evalBatchSize: 4,
                                   numBeams: 5, lengthPenalty: 0.7, noRepeatNgramSize: 3, minTargetLength: 55)
        case .cnnDMOriginal:
            return Seq2SeqSettings(sourceLength: 608, targetLength: 160, epochs: 10, learningRate: 1e-5, evalBatchSize: 1,
                                   numBeams: 5, lengthPenalty: 0.7, noRepeatNgramSize: 3, minTargetLength: 55)
        case .xsum:
            return Seq2SeqSettings(sourceLength: 608, targetLength: 60, epochs: 6, learningRate: 1e-5, evalBatchSize: 1,
                                   numBeams: 6, lengthPenalty: 1.0, noRepeatNgramSize: 3, minTargetLength: 10)
        case .gigaword:
            return Seq2SeqSettings(sourceLength: 192, targetLength: 32, epochs: 10, learningRate: 3e-5, evalBatchSize: 4,
                                   numBeams: 5, lengthPenalty: 0.6, noRepeatNgramSize: 3, minTargetLength: 0)
        case .squadGeneration:
            return Seq2SeqSettings(sourceLength: 464, targetLength: 48, epochs: 10, learningRate: 2e-5, evalBatchSize: 4,
                                   numBeams: 5, lengthPenalty: 0.7, noRepeatNgramSize: 0, minTargetLength: 0)
        case .customization:
            // The script sets no --weight-decay, so arguments.py's 0.01 applies.
            return Seq2SeqSettings(sourceLength: 512, targetLength: 128, epochs: 10, learningRate: 1e-5, evalBatchSize: 1,
                                   numBeams: 5, lengthPenalty: 0.7, noRepeatNgramSize: 3, minTargetLength: 55, weightDecay: 0.01)
        case .blank:
            // Decoding is greedy (BlankLMEvaluater); no --num-beams, --select-topk in the script.
            return Seq2SeqSettings(sourceLength: 256, targetLength: 200, epochs: 5, learningRate: 1e-5, evalBatchSize: 8,
                                   numBeams: 1, lengthPenalty: 1, noRepeatNgramSize: 3, minTargetLength: 0,
                                   batchSize: 16, selectTopK: false, blankMaskRatio: 0.1)
        }
    }
}

/// Fine-tuning and decoding settings of one seq2seq task, defaulting to the official scripts'
/// values (`config_tasks/seq_*.sh`; flags the scripts leave out take `arguments.py`'s defaults).
public struct Seq2SeqSettings: Sendable, Equatable, Codable {
    /// `--src-seq-length`: Part A length (the source is padded or truncated to it).
    public var sourceLength: Int
    /// `--tgt-seq-length`: Part B length in training (target + eop, truncated/padded) and the
    /// decoding step limit.
    public var targetLength: Int
    public var epochs: Int
    public var learningRate: Double
    /// `--batch-size`. The summarisation scripts do not set it (docs/official-glm.md §6.2 marks it
    /// unverified); `arguments.py`'s default, 4, stands in.
    public var batchSize: Int
    public var evalBatchSize: Int
    /// `--warmup`: fraction of the steps with linear warmup, then `--lr-decay-style linear`.
    public var warmup: Double
    public var weightDecay: Double
    /// `--label-smoothing` ε of the loss (``Seq2SeqLoss``).
    public var labelSmoothing: Double
    /// Beam search (`DecoderEvaluater`): beams, `length_penalty` (score = Σ log p / len^lp),
    /// `no_repeat_ngram_size`, `min_tgt_length` (eop banned before it).
    public var numBeams: Int
    public var lengthPenalty: Double
    public var noRepeatNgramSize: Int
    public var minTargetLength: Int
    /// `--select-topk`: the top 2·beams candidates each step (else sampled).
    public var selectTopK: Bool
    /// `--out-seq-length`: `BeamSearchScorer`'s `max_length` (arguments.py default 256).
    public var outSeqLength: Int
    /// `--blank-maskratio` (blank infilling only).
    public var blankMaskRatio: Double

    public init(sourceLength: Int, targetLength: Int, epochs: Int, learningRate: Double, evalBatchSize: Int,
                numBeams: Int, lengthPenalty: Double, noRepeatNgramSize: Int, minTargetLength: Int,
                batchSize: Int = 4, warmup: Double = 0.06, weightDecay: Double = 0.1, labelSmoothing: Double = 0.1,
                selectTopK: Bool = true, outSeqLength: Int = 256, blankMaskRatio: Double = 0.1) {
        self.sourceLength = sourceLength; self.targetLength = targetLength; self.epochs = epochs
        self.learningRate = learningRate; self.batchSize = batchSize; self.evalBatchSize = evalBatchSize
        self.warmup = warmup; self.weightDecay = weightDecay; self.labelSmoothing = labelSmoothing
        self.numBeams = numBeams; self.lengthPenalty = lengthPenalty; self.noRepeatNgramSize = noRepeatNgramSize
        self.minTargetLength = minTargetLength; self.selectTopK = selectTopK; self.outSeqLength = outSeqLength
        self.blankMaskRatio = blankMaskRatio
    }
}

import GLM

extension Seq2SeqTask {
    /// How the official evaluator decodes this task with `settings` (docs/official-glm.md §6.2,
    /// §6.3), as a setting of the one decoder (``FillEngine``):
    /// - `DecoderEvaluater` (every task but blank): beam search with `numBeams` beams (a beam
    ///   search even with one), `lengthPenalty`, `noRepeatNgramSize` and `minTargetLength` on the
    ///   generated tokens, at most `targetLength` tokens, eop the only end token (`--select-topk`,
    ///   which every official script sets: the top 2·beams candidates each step);
    /// - `BlankLMEvaluater` (blank): greedy, every blank of a context one stream of at most
    ///   `targetLength` tokens (earlier fills and the sops between them count), the n-gram ban and the
    ///   minimum length on that stream, eop the only end token.
    public func generationConfig(_ settings: Seq2SeqSettings) -> GenerationConfig {
        var c = GenerationConfig()
        c.stopAtEos = false
        c.maxNewTokens = settings.targetLength
        c.minNewTokens = settings.minTargetLength
        c.noRepeatNgram = settings.noRepeatNgramSize
        c.lengthPenalty = Float(settings.lengthPenalty)
        if layout == .blank {
            c.greedy = true
            c.blanksAsOneStream = true
        } else {
            c.numBeams = settings.numBeams
            c.beamSearch = true
        }
        return c
    }
}

/// Settings a command or a run changes from a task's official ones (nil keeps the task's).
public struct Seq2SeqOverrides: Sendable, Equatable, Codable {
    public var sourceLength: Int?
    public var targetLength: Int?
    public var numBeams: Int?
    public var lengthPenalty: Double?
    public var noRepeatNgram: Int?
    public var minTargetLength: Int?
    public var labelSmoothing: Double?
    public var maskRatio: Double?

    public init(sourceLength: Int? = nil, targetLength: Int? = nil, numBeams: Int? = nil, lengthPenalty: Double? = nil,
                noRepeatNgram: Int? = nil, minTargetLength: Int? = nil, labelSmoothing: Double? = nil, maskRatio: Double? = nil) {
        self.sourceLength = sourceLength; self.targetLength = targetLength; self.numBeams = numBeams
        self.lengthPenalty = lengthPenalty; self.noRepeatNgram = noRepeatNgram; self.minTargetLength = minTargetLength
        self.labelSmoothing = labelSmoothing; self.maskRatio = maskRatio
    }
}

extension Seq2SeqTask {
    /// The official settings with `overrides` applied, checked; errors name the flag
    /// (`--source-length`, …). With `positions` (the model's max_sequence_length), lengths not
    /// given are capped at it (the official code would grow the position table instead, which a
    /// trained model does not have) and lengths given beyond it are refused; the task's minimum
    /// target length follows a shorter target length, an explicit one must fit it.
    public func settings(_ o: Seq2SeqOverrides, positions: Int? = nil) throws -> Seq2SeqSettings {
        func bad(_ m: String) -> TaskError { .setting(m) }
        var s = settings
        if let v = o.sourceLength { s.sourceLength = v } else if let p = positions { s.sourceLength = min(s.sourceLength, p) }
        if let v = o.targetLength { s.targetLength = v } else if let p = positions { s.targetLength = min(s.targetLength, p) }
        if let v = o.numBeams {
            guard self != .blank else { throw bad("--num-beams: blank infilling decodes greedily (the official BlankLMEvaluater)") }
            s.numBeams = v
        }
        if let v = o.lengthPenalty { s.lengthPenalty = v }
        if let v = o.noRepeatNgram { s.noRepeatNgramSize = v }
        if let v = o.minTargetLength { s.minTargetLength = v } else { s.minTargetLength = min(s.minTargetLength, s.targetLength) }
        if let v = o.labelSmoothing { s.labelSmoothing = v }
        if let v = o.maskRatio { s.blankMaskRatio = v }
        guard s.sourceLength > 0 else { throw bad("--source-length must be positive, got \(s.sourceLength)") }
        guard s.targetLength > 0 else { throw bad("--target-length must be positive, got \(s.targetLength)") }
        guard s.numBeams >= 1 else { throw bad("--num-beams must be at least 1, got \(s.numBeams)") }
        guard s.lengthPenalty.isFinite else { throw bad("--length-penalty must be a finite number") }
        guard s.noRepeatNgramSize >= 0 else { throw bad("--no-repeat-ngram must be ≥ 0, got \(s.noRepeatNgramSize)") }
        guard s.minTargetLength >= 0, s.minTargetLength <= s.targetLength else {
            throw bad("--min-target-length must be in [0, target length \(s.targetLength)], got \(s.minTargetLength)")
        }
        guard s.labelSmoothing >= 0, s.labelSmoothing < 1 else { throw bad("--label-smoothing must be in [0, 1), got \(s.labelSmoothing)") }
        if self == .blank || o.maskRatio != nil {
            guard s.blankMaskRatio > 0, s.blankMaskRatio < 1 else { throw bad("--mask-ratio must be in (0, 1), got \(s.blankMaskRatio)") }
        }
        if let p = positions {
            if let v = o.sourceLength, v > p { throw bad("--source-length \(v) is longer than the model's max_sequence_length \(p)") }
            if let v = o.targetLength, v > p {
                throw bad("--target-length \(v) is longer than the model's max_sequence_length \(p) (block positions 1…n)")
            }
        }
        return s
    }
}
