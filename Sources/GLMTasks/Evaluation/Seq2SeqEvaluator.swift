import GLM
import GLMSystem
import GLMTokenizers

/// One decoded example: what the model wrote and what it is scored against.
public struct Seq2SeqPrediction: Sendable, Equatable {
    /// The official guid (`dev-3`, …).
    public var id: String
    /// The decoded text (eop and pad dropped, as the official evaluator does).
    public var prediction: String
    /// The reference the official evaluation scores against (``Seq2SeqEncoder/reference(_:)``).
    public var reference: String
    /// The generated ids, without the final eop.
    public var tokens: [Int]
    /// The beam score, Σ log p / len^lengthPenalty (nil for greedy decoding).
    public var score: Double?

    /// `{"id", "prediction", "reference"}` as one JSON line.
    public var jsonLine: String {
        "{\"id\": \(JSONValue.quote(id)), \"prediction\": \(JSONValue.quote(prediction)), \"reference\": \(JSONValue.quote(reference))}"
    }
}

/// ROUGE F-measures and BLEU of a decoded set, each × 100.
public struct Seq2SeqScores: Sendable, Equatable, Codable {
    /// The official post-processed ROUGE (``SummaryRouge``): `rouge1`, `rouge2` and `rougeLsum`
    /// are the official `rouge-1`, `rouge-2`, `rouge-l`; `rougeL` is the whole-text LCS on the same texts.
    public var rouge1: Double
    public var rouge2: Double
    public var rougeL: Double
    public var rougeLsum: Double
    /// sacrebleu's corpus BLEU of the raw predictions against the raw references (the lines of the
    /// predictions file), which the official code does not compute.
    public var bleu: Double
}

/// A decoded set: the predictions in example order and their scores.
public struct Seq2SeqEvaluation: Sendable {
    public var predictions: [Seq2SeqPrediction]
    public var scores: Seq2SeqScores
}

/// Decoding-based evaluation of a seq2seq task, as the official `DecoderEvaluater` and
/// `rouge_metric` do it (docs/official-glm.md §6.2; official `tasks/seq2seq/evaluate.py`,
/// `finetune.py:metrics_func_provider`):
///
/// 1. every example's evaluation input is built first (``Seq2SeqEncoder/evaluation(_:)``: the
///    source padded inside Part A, so a bad example costs no decoding);
/// 2. the sources are decoded together on the one decoder (``BlankFiller`` / ``FillEngine``), each
///    at its layout's first mask, with the task's settings (``Seq2SeqTask/generationConfig(_:)``:
///    beam search, length penalty, n-gram ban, minimum and maximum target length, eop the only end);
///    a source's result does not depend on the others decoded with it;
/// 3. a prediction is the generated ids without eop and pad, decoded (`DecodeIds`);
/// 4. scores: the official post-processed ROUGE against ``Seq2SeqEncoder/reference(_:)``
///    (``SummaryRouge``, its mode chosen as the official code chooses it) and corpus BLEU.
public enum Seq2SeqEvaluator {
    /// The id-level decoding: each context (a padded source, without the sop the official input
    /// ends with) filled at `maskPositions[i]`, `batchSize` contexts at a time (each with its
    /// beams). `onFinished(i)` is called as context i finishes.
    public static func decode(model: GLMModel, contexts: [[Int]], maskPositions: [Int], tokens: BlankFillingTokens,
                              config: GenerationConfig, batchSize: Int,
                              onFinished: ((Int) -> Void)? = nil) throws -> [BlankFill] {
        guard batchSize > 0 else { throw TaskError.setting("--batch-size must be positive, got \(batchSize)") }
        guard contexts.count == maskPositions.count else {
            throw TaskError.setting("\(contexts.count) contexts but \(maskPositions.count) mask positions")
        }
        // BlankFiller sizes its engine in cache rows: a context and each of its beams hold one.
        let rowsPerContext = config.usesBeamSearch ? 1 + max(config.numBeams, 1) : 1
        let (rows, overflow) = batchSize.multipliedReportingOverflow(by: rowsPerContext)
        guard !overflow else { throw TaskError.setting("--batch-size \(batchSize) is too large") }
        let filled = try BlankFiller(model: model).fill(contexts: contexts, tokens: tokens, config: config, maxBatch: rows,
                                                        blanks: maskPositions.map { [$0] }, onFinished: onFinished)
        return filled.map { $0.fills[0] }
    }

    /// Decodes and scores `examples` (see the type's documentation). `progress(done, total)` is
    /// called as examples finish.
    public static func evaluate(model: GLMModel, encoder: Seq2SeqEncoder, examples: [Seq2SeqExample], config: GenerationConfig,
                                batchSize: Int, progress: ((Int, Int) -> Void)? = nil) throws -> Seq2SeqEvaluation {
        guard !examples.isEmpty else { throw TaskError.setting("no examples to evaluate") }
        let tok = encoder.tokenizer, c = tok.commands
        try checkFits(model: model, tokenizer: tok, sourceLength: encoder.layout.sourceLength, config: config)
        let samples = try examples.map { try encoder.evaluation($0) }
        var done = 0
        let fills = try decode(model: model, contexts: samples.map { Array($0.tokens.dropLast()) },
                               maskPositions: samples.map { $0.positions.last! },
                               tokens: BlankFillingTokens(sop: c.sop, eop: c.eop, eos: c.eos, masks: [encoder.layout.maskId]),
                               config: config, batchSize: batchSize, onFinished: { _ in done += 1; progress?(done, examples.count) })
        let predictions = zip(examples, fills).map { ex, f in
            Seq2SeqPrediction(id: ex.id, prediction: tok.decode(f.tokens.filter { $0 != c.eop && $0 != c.pad }),
                              reference: encoder.reference(ex), tokens: f.tokens, score: f.score)
        }
        let mode = SummaryRouge.Mode.official(bertTokenizer: tok.family == .bertWordPiece, task: encoder.task.rawValue)
        return Seq2SeqEvaluation(predictions: predictions,
                                 scores: try scores(predictions: predictions.map(\.prediction), references: predictions.map(\.reference), mode: mode))
    }

    /// The lead baseline of summarisation: each prediction is the first `lines` lines of the source
    /// (BIG-bench XSum keeps one sentence per line) after a tokenizer round trip, as a model's
    /// prediction is decoded text, scored exactly as ``evaluate(model:encoder:examples:config:batchSize:progress:)``
    /// scores a model. No model is involved.
    public static func leadBaseline(encoder: Seq2SeqEncoder, examples: [Seq2SeqExample], lines: Int) throws -> Seq2SeqEvaluation {
        guard !examples.isEmpty else { throw TaskError.setting("no examples to evaluate") }
        guard lines > 0 else { throw TaskError.setting("--lead-baseline must be at least 1 line, got \(lines)") }
        let tok = encoder.tokenizer
        let predictions = examples.map { ex in
            let lead = ex.source.split(separator: "\n", omittingEmptySubsequences: true).prefix(lines).joined(separator: " ")
            return Seq2SeqPrediction(id: ex.id, prediction: tok.decode(tok.encode(lead)), reference: encoder.reference(ex), tokens: [],
                                     score: nil)
        }
        let mode = SummaryRouge.Mode.official(bertTokenizer: tok.family == .bertWordPiece, task: encoder.task.rawValue)
        return Seq2SeqEvaluation(predictions: predictions,
                                 scores: try scores(predictions: predictions.map(\.prediction), references: predictions.map(\.reference), mode: mode))
    }

    /// ROUGE (official post-processing in `mode`) and BLEU, × 100.
    public static func scores(predictions: [String], references: [String], mode: SummaryRouge.Mode) throws -> Seq2SeqScores {
        let r = try SummaryRouge(mode: mode).score(predictions: predictions, references: references)
        let bleu = try SacreBLEU.corpusBLEU(hypotheses: predictions, references: references)
        return Seq2SeqScores(rouge1: 100 * r[.rouge1]!, rouge2: 100 * r[.rouge2]!, rougeL: 100 * r[.rougeL]!,
                             rougeLsum: 100 * r[.rougeLsum]!, bleu: bleu.score)
    }

    /// Refuses, before any decoding, a tokenizer larger than the model's vocabulary and a Part A
    /// longer than the model's positions (the official code would extend the position table,
    /// `finetune.py:main`, which a trained model does not have).
    static func checkFits(model: GLMModel, tokenizer: GLMTokenizer, sourceLength: Int, config: GenerationConfig) throws {
        guard tokenizer.numTokens <= model.config.vocabSize else {
            throw TaskError.setting("the tokenizer has \(tokenizer.numTokens) ids but the model's vocabulary has \(model.config.vocabSize) rows; they do not belong together")
        }
        let p = model.config.maxSequenceLength
        guard sourceLength <= p else {
            throw TaskError.setting("source length \(sourceLength) is longer than the model's max_sequence_length \(p); pass --source-length \(p) or less")
        }
        guard config.maxNewTokens <= p else {
            throw TaskError.setting("target length \(config.maxNewTokens) is longer than the model's max_sequence_length \(p) (block positions 1…n); pass --target-length \(p) or less")
        }
    }
}
