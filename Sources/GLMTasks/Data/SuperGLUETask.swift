/// The eight SuperGLUE tasks of the GLM paper, with the official label lists, pattern ids and
/// fine-tuning defaults (docs/official-glm.md §6.1; official `tasks/superglue/dataset.py`,
/// `tasks/superglue/pvp.py`, `config_tasks/task_*.sh`, `scripts/finetune_superglue.sh`).
public enum SuperGLUETask: String, Sendable, CaseIterable {
    case boolq, cb, copa, multirc, record, rte, wic, wsc

    /// The official `get_labels()`: a label's index in this list is what the model is trained on.
    public var labels: [String] {
        switch self {
        case .rte: return ["entailment", "not_entailment"]
        case .cb: return ["entailment", "contradiction", "neutral"]
        case .boolq, .wic: return ["false", "true"]
        case .wsc: return ["False", "True"]
        case .copa, .multirc: return ["0", "1"]
        case .record: return ["0", "1"]
        }
    }

    /// Single-token tasks read one verbaliser logit per label at the mask; multi-token tasks score
    /// one sequence per choice (`PVP.is_multi_token`).
    public var kind: ClozeKind {
        switch self {
        case .copa, .wsc, .record: return .multi
        default: return .single
        }
    }

    /// The pattern ids the official `get_parts` implements for the task. COPA 2 is the official
    /// `CopaPVP.encode` variant that scores " because" / " so" after each alternative.
    public var patternIds: [Int] {
        switch self {
        case .rte, .cb, .multirc: return [0, 1, 2, 3, 4]
        case .boolq: return [0, 1, 2, 3, 4, 5]
        case .wic, .wsc, .copa: return [0, 1, 2]
        case .record: return [0]
        }
    }

    /// The official fine-tuning recipe (`config_tasks/task_*.sh` with `scripts/finetune_superglue.sh`,
    /// GLM-Base/Large): pattern, sequence length, epochs, batch size, learning rate, loss.
    public var defaults: FinetuneDefaults {
        var d = FinetuneDefaults()
        switch self {
        case .boolq: d.patternId = 4; d.epochs = 20
        case .cb: d.patternId = 3; d.epochs = 50
        case .copa: d.patternId = 0; d.epochs = 50
        case .multirc: d.patternId = 0; d.epochs = 15; d.seqLength = 512; d.batchSize = 64
        case .record: d.patternId = 0; d.epochs = 5; d.seqLength = 512; d.batchSize = 64
        case .rte: d.patternId = 0; d.epochs = 50
        case .wic: d.patternId = 1; d.epochs = 30
        case .wsc:
            d.patternId = 2; d.epochs = 50; d.seqLength = 128
            d.loss = .mix; d.lengthPenalty = 1
        }
        return d
    }

    /// The official `DEFAULT_METRICS` (`tasks/superglue/finetune.py`); the first is the one the
    /// best checkpoint is chosen by.
    public var metrics: [ClozeMetric] {
        switch self {
        case .record: return [.recordExactMatch, .recordF1]
        case .cb: return [.accuracy, .f1Macro]
        case .multirc: return [.f1a, .multircExactMatch, .multircAccuracy]
        default: return [.accuracy]
        }
    }
}

/// Single-token or multi-token cloze (docs/official-glm.md §6.1).
public enum ClozeKind: String, Sendable, Codable {
    /// `GLMForSingleTokenCloze`: the logits of each label's verbaliser token at the sop position.
    case single
    /// `GLMForMultiTokenCloze`: one sequence per choice, scored by Σ log p of its tokens and eop.
    case multi
}

/// The training loss over choice scores (official `finetune_forward_step`, `--loss-func`).
public enum ClozeLoss: String, Sendable, Codable {
    /// Cross-entropy over the labels / choices.
    case crossEntropy = "cross_entropy"
    /// WSC: −score of the correct choice plus the cross-entropy over the candidates.
    case mix
}

/// Fine-tuning defaults of a task (official recipe for GLM-Base/Large).
public struct FinetuneDefaults: Sendable, Equatable {
    public var patternId = 0
    public var seqLength = 256
    public var epochs = 10
    /// Total batch size (the official scripts divide it over GPUs).
    public var batchSize = 16
    public var learningRate = 1e-5
    /// Fraction of all iterations spent in linear warmup, then linear decay to 0.
    public var warmup = 0.1
    public var weightDecay = 0.1
    /// AdamW (`--adam-beta1/2`, `--adam-eps` defaults).
    public var adamBeta1 = 0.9
    public var adamBeta2 = 0.999
    public var adamEps = 1e-8
    public var clipGradNorm = 1.0
    /// Dropout of embeddings, attention and outputs (`--hidden-dropout` etc.).
    public var dropout = 0.1
    public var loss = ClozeLoss.crossEntropy
    /// Multi-token scores are divided by (number of answer tokens)^p when p > 0 (WSC: 1, a mean).
    public var lengthPenalty = 0.0
    /// Dev and test batches (`--eval-batch-size 16`).
    public var evalBatchSize = 16

    public init() {}
}
