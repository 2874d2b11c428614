import ArgumentParser
import Foundation
import GLM
import GLMTasks
import GLMTokenizers

/// `glm cloze`: a task's examples as the model sees them (the official cloze encoding), as JSON lines.
struct ClozeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cloze",
        abstract: "Print a task's examples encoded as cloze inputs (the official GLM encoding), one JSON object per example.",
        discussion: """
        Each line: guid, label (index into the task's labels), kind (single or multi), and per choice \
        input_ids, position_ids ([positions, blocks]), sep, target_ids, loss_mask, padded to the sequence \
        length; single-token tasks add candidate_ids (the verbaliser ids, in label order). The encoding \
        is the evaluation one (every ReCoRD entity, no COPA mirrors); --train gives the training one.

        Tasks: \(ClozeTask.names.joined(separator: " ")) (BIG-bench: --data is the task.json), or the \
        path of a task file (a JSON object with "pattern" and "verbalizer", see docs/finetune.md).

        The generation and zero-shot LM kinds of `glm evaluate` print their inputs the same way, one \
        JSON object per sample with the same field names, padded as the official datasets pad them: \
        --task seq2seq (the evaluation input, source + sop; --train the training sequence, with id, \
        source, target, reference), blank-infill --mask-ratio R (the evaluation input, with source and \
        reference), lambada (text, target, the sample padded to --seq-length), perplexity (a summary \
        line with tokens, words, windows, then every window with document and window). They take \
        the same flags as `glm evaluate` (--seq2seq-task, --source-length, --unidirectional, \
        --overlap, --text-format, --task-mask, …).

        Examples:
          glm cloze --task rte --data RTE/val.jsonl --tokenizer Resources/tokenizers/bert-base-uncased --show
          glm cloze --task seq2seq --seq2seq-task xsum --data xsum/test.jsonl --tokenizer Resources/tokenizers/bert-base-uncased
          glm cloze --task lambada --data lambada.jsonl --tokenizer Resources/tokenizers/gpt2 --unidirectional
          glm cloze --task perplexity --data book.txt --tokenizer Resources/tokenizers/bert-base-uncased --seq-length 512
          glm cloze --task copa --data COPA/train.jsonl --tokenizer Resources/tokenizers/gpt2 --train > copa.jsonl
          glm cloze --task my-task.json --data reviews.csv --tokenizer Resources/tokenizers/bert-base-uncased
        """)

    enum InputHelp: TaskInputHelp {
        static let task = "Task name or task file."
        static let data = "Data file (the SuperGLUE release's train/val/test.jsonl, JSON lines or CSV, or a BIG-bench task.json)."
        static let seqLength = "Sequence length (default: the task's official one)."
    }

    @OptionGroup var input: TaskInputOptions<InputHelp>
    @Option(name: .long, help: "Tokenizer folder (vocab.txt, vocab.json + merges.txt, …) or a model folder with one.")
    var tokenizer: String
    @Flag(name: .long, help: "Print each example for a person instead of JSON.")
    var show = false
    @Flag(name: .long, help: "The training encoding (COPA mirrors, WSC positives, ReCoRD sampled negatives; seq2seq: the training sequence).")
    var train = false
    @OptionGroup(title: "seq2seq, blank infilling, LAMBADA and perplexity")
    var generation: GenerationTaskOptions

    func run() throws {
        do {
            let task: ClozeTask
            switch try input.kind() {
            case let .generation(kind):
                let tok = try GLMTokenizer(folder: URL(fileURLWithPath: tokenizer))
                for r in try records(kind, tokenizer: tok) { print(try jsonLine(r)) }
                return
            case let .cloze(t): task = t
            }
            let tok = try GLMTokenizer(folder: URL(fileURLWithPath: tokenizer))
            let url = input.dataURL
            let split: DataSplit = train ? .train : .evaluation(forFile: url.lastPathComponent)
            let encoder = try ClozeEncoder(task: task, tokenizer: tok, seqLength: input.seqLength ?? task.defaults.seqLength,
                                           patternId: input.patternId)
            let examples = try task.read(url, split: split)
            for ex in examples {
                let s = try encoder.encode(ex, training: train)
                print(show ? s.describe(tokenizer: tok, labels: task.labelNames(of: ex)) : s.jsonLine())
            }
        } catch let e as TaskError {
            throw CLIError("\(e)")
        } catch let e as TokenizerError {
            throw CLIError("cannot load the tokenizer in \(tokenizer): \(e)")
        } catch let e as GLMError {
            throw CLIError("\(e)")
        }
    }

    /// The inputs of a generation or zero-shot LM kind (``InputRecords``), as `glm evaluate` builds them.
    private func records(_ kind: GenerationTaskKind, tokenizer tok: GLMTokenizer) throws -> [[String: Any]] {
        let url = input.dataURL
        if train && kind != .seq2seq { throw CLIError("--train: only seq2seq prints a training encoding") }
        switch kind {
        case .seq2seq:
            let t = try generation.seq2seq()
            let encoder = try generation.encoder(t, try generation.settings(t, positions: nil), tokenizer: tok)
            return try InputRecords.seq2seq(encoder, examples: Seq2SeqReader.read(url, task: t), training: train)
        case .blankInfill:
            let task = try generation.blankInfilling(try generation.settings(.blank, positions: nil), tokenizer: tok)
            return try InputRecords.blankInfilling(task, examples: BlankInfilling.examples(url, maskRatio: task.maskRatio, seed: generation.seed).examples)
        case .lambada:
            return try InputRecords.lambada(generation.lambada(tokenizer: tok, seqLength: input.seqLength, positions: nil), texts: Lambada.texts(url))
        case .perplexity:
            let task = try generation.perplexity(tokenizer: tok, seqLength: input.seqLength, positions: nil)
            return try InputRecords.perplexity(task, corpus: task.corpus(url, mode: generation.textMode()))
        }
    }
}

/// A message for the user; the command exits non-zero.
struct CLIError: Error, CustomStringConvertible {
    let description: String
    init(_ message: String) { description = message }
}
