import GLM
import GLMSystem
import GLMTokenizers

/// One text to fill: the source with `[MASK]` blanks and the original it was masked from.
public struct BlankInfillingExample: Sendable, Equatable {
    /// The official guid (`test-3`).
    public var id: String
    public var source: String
    public var reference: String
    /// `file:line` of the example, for error messages.
    public var location: String

    public init(id: String, source: String, reference: String, location: String) {
        self.id = id; self.source = source; self.reference = reference; self.location = location
    }
}

/// One filled text: the masked source, the model's text and the original.
public struct BlankInfillingPrediction: Sendable, Equatable {
    public var id: String
    /// The source with `[MASK]` blanks.
    public var source: String
    /// ``BlankInfilling/prediction(evaluationTokens:generated:)``.
    public var prediction: String
    /// The original text.
    public var reference: String

    /// `{"id", "source", "prediction", "reference"}` as one JSON line.
    public var jsonLine: String {
        "{\"id\": \(JSONValue.quote(id)), \"source\": \(JSONValue.quote(source)), \"prediction\": \(JSONValue.quote(prediction)), \"reference\": \(JSONValue.quote(reference))}"
    }
}

/// Filled texts and their corpus BLEU against the originals.
public struct BlankInfillingEvaluation: Sendable {
    public var predictions: [BlankInfillingPrediction]
    /// sacrebleu's corpus BLEU (the official code computes BLEU outside the repository).
    public var bleu: BLEUScore
}

/// Blank-infilling evaluation as the official `BlankLMEvaluater` (docs/official-glm.md §6.3;
/// official `tasks/seq2seq/evaluate.py`): every source's evaluation input is built first (Part A,
/// ``BlankInfilling/evaluation(source:id:)``), the blanks are filled greedily left to right as one
/// stream per text on the one decoder (``Seq2SeqTask/generationConfig(_:)`` for `.blank`), the fills
/// are put back into the text (``BlankInfilling/prediction(evaluationTokens:generated:)``), and
/// BLEU is taken against the originals.
public enum BlankInfillingEvaluator {
    /// The id-level decoding: every `[MASK]` (`tokens.masks`) of each context filled, `batchSize`
    /// contexts at a time. Returns each context's generated stream as the official evaluator keeps
    /// it: the fills in order, each followed by the sop that starts the next blank.
    public static func decode(model: GLMModel, contexts: [[Int]], tokens: BlankFillingTokens, config: GenerationConfig,
                              batchSize: Int, onFinished: ((Int) -> Void)? = nil) throws -> [[Int]] {
        guard batchSize > 0 else { throw TaskError.setting("--batch-size must be positive, got \(batchSize)") }
        let filled = try BlankFiller(model: model).fill(contexts: contexts, tokens: tokens, config: config, maxBatch: batchSize,
                                                        onFinished: onFinished)
        return filled.map { f in
            f.fills.enumerated().flatMap { i, fill in i + 1 < f.fills.count ? fill.tokens + [tokens.sop] : fill.tokens }
        }
    }

    /// Fills the `[MASK]` blanks of `examples` and scores them against their originals.
    /// `progress(done, total)` is called as texts finish.
    public static func evaluate(model: GLMModel, task: BlankInfilling, examples: [BlankInfillingExample],
                                config: GenerationConfig, batchSize: Int,
                                progress: ((Int, Int) -> Void)? = nil) throws -> BlankInfillingEvaluation {
        guard !examples.isEmpty else { throw TaskError.setting("no texts to evaluate") }
        let tok = task.tokenizer, c = tok.commands
        try Seq2SeqEvaluator.checkFits(model: model, tokenizer: tok, sourceLength: task.sourceLength, config: config)
        let samples = try examples.map { ex in
            do { return try task.evaluation(source: ex.source, id: ex.id) } catch let TaskError.data(_, _, message) {
                throw TaskError.data(file: ex.location, line: nil, message: message)
            }
        }
        var done = 0
        let streams = try decode(model: model, contexts: samples.map { Array($0.tokens.dropLast()) },
                                 tokens: BlankFillingTokens(sop: c.sop, eop: c.eop, eos: c.eos, masks: [c.mask]),
                                 config: config, batchSize: batchSize, onFinished: { _ in done += 1; progress?(done, examples.count) })
        let predictions = examples.indices.map { i in
            BlankInfillingPrediction(id: examples[i].id, source: examples[i].source,
                                     prediction: task.prediction(evaluationTokens: samples[i].tokens, generated: streams[i]),
                                     reference: examples[i].reference)
        }
        let bleu = try SacreBLEU.corpusBLEU(hypotheses: predictions.map(\.prediction), references: predictions.map(\.reference))
        return BlankInfillingEvaluation(predictions: predictions, bleu: bleu)
    }
}
