import ArgumentParser
import Foundation
import GLM
import GLMNN
import GLMSystem
import GLMTasks
import GLMTokenizers

/// `glm evaluate`: score a task's data with any model folder (zero-shot or fine-tuned) and print its
/// metrics as one JSON object.
struct EvaluateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "evaluate",
        abstract: "Score a task's dev or test file with a model and print the task's metrics as JSON.",
        discussion: """
        Cloze tasks (\(ClozeTask.names.joined(separator: " ")), or a task file): every choice is scored \
        with the official heads (single-token: the verbaliser logits at the mask; multi-token: the summed \
        log-probabilities of each choice and eop), the best choice is the prediction, and the official \
        metrics are printed in percent (accuracy; CB also f1-macro; MultiRC f1a, em, acc; ReCoRD EM, F1). \
        --output writes one JSON line per example with every choice's score.

        seq2seq: --data is JSON lines with source and target (and answer for squad_generation), a \
        .source file with its .target beside it, or a folder with test.source/test.target. Each source \
        is laid out as --seq2seq-task's official layout and decoded with its settings (beam search, \
        length penalty, no-repeat n-gram, min/max target length; flags override them); prints rouge1, \
        rouge2, rougeL, rougeLsum (F × 100, the official post-processing) and bleu (sacrebleu); --output \
        writes {"id", "prediction", "reference"} lines.

        blank-infill --mask-ratio R: --data is a folder in the official layout (test.txt and \
        blank/test.maskratioR.blank), JSON lines with text, or a text file with one text per line \
        (masked here as the official dataset masks, --seed); blanks are filled greedily left to right; \
        prints bleu against the originals; --output writes {"id", "source", "prediction", "reference"} lines.

        lambada: --data is JSON lines with text; the last word is the target; prints accuracy (percent: \
        every target token must be the argmax) and examples; --unidirectional for that layout.
        perplexity: --data is a text file; prints ppl, adjusted_ppl (per word), tokens and words, \
        windows of --seq-length with --overlap.

        Examples:
          glm evaluate --model runs/glm-base --task rte --data RTE/val.jsonl
          glm evaluate --model runs/glm-base --task copa --data COPA/val.jsonl --output copa-preds.jsonl
          glm evaluate --model runs/glm-base --task bigbench --data strategyqa/task.json --batch-size 32
          glm evaluate --model runs/xsum --task seq2seq --seq2seq-task xsum --data xsum/test.jsonl --output preds.jsonl
          glm evaluate --model runs/glm-base --task perplexity --data book.txt --seq-length 512 --overlap 256
          glm evaluate --model runs/glm-base --task lambada --data lambada.jsonl --unidirectional
          glm evaluate --model runs/blank --task blank-infill --mask-ratio 0.3 --data yahoo/ --output blanks.jsonl
        """)

    @Option(name: .long, help: "Model folder (config.json, weights, tokenizer files).")
    var model: String
    enum InputHelp: TaskInputHelp {
        static let task = "Task name or task file; or seq2seq, blank-infill, lambada, perplexity."
        static let data = "Data file (e.g. the SuperGLUE release's val.jsonl, a BIG-bench task.json, seq2seq JSON lines, a text file)."
        static let seqLength = "Sequence length (default: the task's official one; LAMBADA and perplexity 512, capped at the model's)."
    }

    @OptionGroup var input: TaskInputOptions<InputHelp>
    @Option(name: .long, help: "Write per-example predictions (JSON lines) here.")
    var output: String?
    @Option(name: .long, help: "Sequences per forward pass; seq2seq and blank infilling: examples decoded together (default: 16; seq2seq the task's eval batch size, blank infilling 8).")
    var batchSize: Int?
    @Option(name: .long, help: "Tokenizer folder (default: the model folder).")
    var tokenizer: String?
    @OptionGroup var precision: PrecisionOptions
    @Option(name: .long, help: "seq2seq: score the first N lines of each source as its summary (the lead baseline; the model's weights are not used).")
    var leadBaseline: Int?
    @OptionGroup(title: "seq2seq, blank infilling, LAMBADA and perplexity")
    var generation: GenerationTaskOptions

    func run() throws {
        do {
            if let b = batchSize, b <= 0 { throw CLIError("--batch-size must be positive, got \(b)") }
            let kind = try input.kind()
            if leadBaseline != nil {
                guard case .generation(.seq2seq) = kind else { throw CLIError("--lead-baseline is for --task seq2seq") }
            }
            switch kind {
            case let .cloze(t): try evaluateCloze(t)
            case .generation(.seq2seq): try evaluateSeq2Seq()
            case .generation(.blankInfill): try evaluateBlankInfilling()
            case .generation(.lambada): try evaluateLambada()
            case .generation(.perplexity): try evaluatePerplexity()
            }
        } catch let e as TaskError {
            throw CLIError("\(e)")
        } catch let e as TokenizerError {
            throw CLIError("\(e)")
        } catch let e as GLMError {
            throw CLIError("\(e)")
        }
    }

    // MARK: - Model, tokenizer, output

    /// The tokenizer (--tokenizer, else the model folder's) and the model's config, read before
    /// any weights so that bad data fails fast.
    private func tokenizerAndConfig() throws -> (GLMTokenizer, GLMConfig?) {
        let folder = try ModelFolder.locate(model).folder
        let tokFolder = tokenizer.map { URL(fileURLWithPath: $0) } ?? folder
        let tok = try GLMTokenizer(folder: tokFolder)
        let configURL = folder.appendingPathComponent("config.json")
        let config = FileManager.default.fileExists(atPath: configURL.path) ? try GLMConfig.load(configURL) : nil
        if let config, tok.numTokens > config.vocabSize {
            throw CLIError("the tokenizer in \(tokFolder.path) has \(tok.numTokens) ids but the model's vocabulary has \(config.vocabSize) rows; they do not belong together")
        }
        return (tok, config)
    }

    private func loadModel() throws -> GLMModel { try precision.load(URL(fileURLWithPath: model)) }

    private static let interactive = isatty(STDERR_FILENO) != 0

    private func progress(_ verb: String) -> (Int, Int) -> Void {
        { done, total in if Self.interactive { FileHandle.standardError.write(Data("\r\(verb) \(done)/\(total)".utf8)) } }
    }

    private func endProgress() { if Self.interactive { FileHandle.standardError.write(Data("\n".utf8)) } }

    /// Writes the predictions file in one atomic replace (nothing is written when evaluation fails).
    private func writeOutput(_ lines: [String]) throws {
        guard let output else { return }
        try AtomicFile.write(Data((lines.joined(separator: "\n") + "\n").utf8), to: URL(fileURLWithPath: output))
    }

    // MARK: - Cloze

    private func evaluateCloze(_ t: ClozeTask) throws {
        let url = input.dataURL
        let (tok, config) = try tokenizerAndConfig()
        // The task's official length, cut to the model's positions when it does not fit (a length
        // asked for with --seq-length is never cut: it is refused below).
        let seq = input.seqLength ?? min(t.defaults.seqLength, config?.maxSequenceLength ?? t.defaults.seqLength)
        // Everything about the data is checked before the model loads.
        let encoder = try ClozeEncoder(task: t, tokenizer: tok, seqLength: seq, patternId: input.patternId)
        let examples = try t.read(url, split: DataSplit.evaluation(forFile: url.lastPathComponent))
        let m = try loadModel()
        guard tok.numTokens <= m.config.vocabSize else {
            throw CLIError("the tokenizer has \(tok.numTokens) ids but the model's vocabulary has \(m.config.vocabSize) rows; they do not belong together")
        }
        guard seq <= m.config.maxSequenceLength else {
            throw CLIError("--seq-length \(seq) is longer than the model's max_sequence_length \(m.config.maxSequenceLength)")
        }
        let result = try ClozeEvaluator.evaluate(model: m, encoder: encoder, examples: examples, head: ClozeHead(t.defaults),
                                                 batchSize: batchSize ?? 16, progress: progress("scored"))
        endProgress()
        try writeOutput(result.predictions.map { $0.jsonLine() })
        print(result.summaryJSON(task: t.name))
    }

    // MARK: - Seq2seq and blank infilling

    private func evaluateSeq2Seq() throws {
        let t = try generation.seq2seq()
        let (tok, config) = try tokenizerAndConfig()
        let settings = try generation.settings(t, positions: config?.maxSequenceLength)
        let encoder = try generation.encoder(t, settings, tokenizer: tok)
        let examples = try Seq2SeqReader.read(input.dataURL, task: t)
        let result: Seq2SeqEvaluation
        if let leadBaseline {
            result = try Seq2SeqEvaluator.leadBaseline(encoder: encoder, examples: examples, lines: leadBaseline)
        } else {
            // Every input is built before the model loads: a bad example costs no decoding.
            for ex in examples { _ = try encoder.evaluation(ex) }
            let m = try loadModel()
            result = try Seq2SeqEvaluator.evaluate(model: m, encoder: encoder, examples: examples, config: t.generationConfig(settings),
                                                   batchSize: batchSize ?? settings.evalBatchSize, progress: progress("decoded"))
            endProgress()
        }
        try writeOutput(result.predictions.map(\.jsonLine))
        let s = result.scores
        print("{\"task\": \"seq2seq\", \"seq2seq_task\": \(JSONValue.quote(t.rawValue)), \"examples\": \(examples.count), "
              + "\"rouge1\": \(jsonNumber(s.rouge1)), \"rouge2\": \(jsonNumber(s.rouge2)), \"rougeL\": \(jsonNumber(s.rougeL)), "
              + "\"rougeLsum\": \(jsonNumber(s.rougeLsum)), \"bleu\": \(jsonNumber(s.bleu))}")
    }

    private func evaluateBlankInfilling() throws {
        let (tok, config) = try tokenizerAndConfig()
        let settings = try generation.settings(.blank, positions: config?.maxSequenceLength)
        let task = try generation.blankInfilling(settings, tokenizer: tok)
        let (examples, skipped) = try BlankInfilling.examples(input.dataURL, maskRatio: task.maskRatio, seed: generation.seed)
        for ex in examples {
            do { _ = try task.evaluation(source: ex.source, id: ex.id) } catch let TaskError.data(_, _, message) {
                throw TaskError.data(file: ex.location, line: nil, message: message)
            }
        }
        let m = try loadModel()
        let result = try BlankInfillingEvaluator.evaluate(model: m, task: task, examples: examples,
                                                          config: Seq2SeqTask.blank.generationConfig(settings),
                                                          batchSize: batchSize ?? settings.evalBatchSize, progress: progress("filled"))
        endProgress()
        try writeOutput(result.predictions.map(\.jsonLine))
        print("{\"task\": \"blank-infill\", \"mask_ratio\": \(task.maskRatio), \"examples\": \(examples.count), \"skipped\": \(skipped), "
              + "\"bleu\": \(jsonNumber(result.bleu.score))}")
    }

    // MARK: - Zero-shot language modelling

    private func evaluateLambada() throws {
        let (tok, config) = try tokenizerAndConfig()
        let task = try generation.lambada(tokenizer: tok, seqLength: input.seqLength, positions: config?.maxSequenceLength)
        let texts = try Lambada.texts(input.dataURL)
        let samples = try texts.enumerated().map { i, t in
            do { return try task.sample(t.text, id: "\(i)") } catch let TaskError.data(_, _, message) {
                throw TaskError.data(file: t.location, line: nil, message: message)
            }
        }
        let m = try loadModel()
        try checkPositions(task.seqLength, m)
        let scores = try LanguageModelScoring.score(model: m, samples: samples, batchSize: batchSize ?? 16, padId: tok.commands.eos)
        let correct = scores.filter(\.allCorrect).count
        try writeOutput(zip(samples, scores).map { sample, score in
            let target = tok.decode(Array(sample.targets.suffix(score.tokens)))
            return "{\"id\": \(JSONValue.quote(sample.id)), \"target\": \(JSONValue.quote(target)), \"correct\": \(score.allCorrect), \"loss\": \(jsonNumber(score.lossSum))}"
        })
        print("{\"task\": \"lambada\", \"unidirectional\": \(generation.unidirectional), \"examples\": \(samples.count), "
              + "\"correct\": \(correct), \"accuracy\": \(jsonNumber(100 * Double(correct) / Double(samples.count)))}")
    }

    private func evaluatePerplexity() throws {
        guard output == nil else { throw CLIError("--output: perplexity has no per-example predictions to write") }
        let (tok, config) = try tokenizerAndConfig()
        let task = try generation.perplexity(tokenizer: tok, seqLength: input.seqLength, positions: config?.maxSequenceLength)
        let corpus = try task.corpus(input.dataURL, mode: generation.textMode())
        guard corpus.tokens > 1, corpus.words > 1 else {
            throw TaskError.data(file: input.data, line: nil, message: "perplexity needs at least two tokens and two words (got \(corpus.tokens) tokens, \(corpus.words) words)")
        }
        let windows = try corpus.documents.enumerated().reduce(0) { $0 + (try task.windows(document: $1.element, id: "doc-\($1.offset)-").count) }
        let m = try loadModel()
        try checkPositions(task.seqLength, m)
        let s = try LanguageModelScoring.perplexity(model: m, task: task, corpus: corpus, batchSize: batchSize ?? 16)
        print("{\"task\": \"perplexity\", \"ppl\": \(jsonNumber(s.ppl)), \"adjusted_ppl\": \(jsonNumber(s.adjustedPpl)), "
              + "\"tokens\": \(s.tokens), \"words\": \(s.words), \"loss\": \(jsonNumber(s.averageLoss)), \"windows\": \(windows), "
              + "\"seq_length\": \(task.seqLength), \"overlap\": \(task.overlap), \"unidirectional\": \(generation.unidirectional)}")
    }

    /// A model folder without config.json (an official checkpoint) is checked once loaded.
    private func checkPositions(_ seq: Int, _ m: GLMModel) throws {
        guard seq <= m.config.maxSequenceLength else {
            throw CLIError("--seq-length \(seq) is longer than the model's max_sequence_length \(m.config.maxSequenceLength)")
        }
    }
}
