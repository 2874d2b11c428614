import ArgumentParser
import Foundation
import GLM
import GLMNN
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

        Examples:
          glm evaluate --model runs/glm-base --task rte --data RTE/val.jsonl
          glm evaluate --model runs/glm-base --task copa --data COPA/val.jsonl --output copa-preds.jsonl
          glm evaluate --model runs/glm-base --task bigbench --data strategyqa/task.json --batch-size 32
        """)

    @Option(name: .long, help: "Model folder (config.json, weights, tokenizer files).")
    var model: String
    @Option(name: .long, help: "Task name or task file.")
    var task: String
    @Option(name: .long, help: "Data file (e.g. the SuperGLUE release's val.jsonl, a BIG-bench task.json).")
    var data: String
    @Option(name: .long, help: "Write per-example predictions (JSON lines) here.")
    var output: String?
    @Option(name: .long, help: "Pattern id (default: the task's official one).")
    var patternId: Int?
    @Option(name: .long, help: "Sequence length (default: the task's official one).")
    var seqLength: Int?
    @Option(name: .long, help: "Sequences per forward pass (a multi-token example brings one per choice).")
    var batchSize: Int = 16
    @Option(name: .long, help: "Tokenizer folder (default: the model folder).")
    var tokenizer: String?
    @Flag(name: .long, help: "bf16 matmuls (faster on CPUs with bf16 support; slightly different numbers).")
    var bf16 = false

    /// The kinds of evaluation `--task` can name. Cloze is the first; seq2seq (ROUGE/BLEU), LAMBADA,
    /// perplexity and blank infilling are further cases, each resolved from its own task names.
    enum Kind {
        case cloze(ClozeTask)

        static func resolve(_ name: String) throws -> Kind {
            .cloze(try ClozeTask.named(name))
        }
    }

    func run() throws {
        do {
            guard batchSize > 0 else { throw CLIError("--batch-size must be positive, got \(batchSize)") }
            switch try Kind.resolve(task) {
            case let .cloze(t): try evaluateCloze(t)
            }
        } catch let e as TaskError {
            throw CLIError("\(e)")
        } catch let e as TokenizerError {
            throw CLIError("\(e)")
        } catch let e as GLMError {
            throw CLIError("\(e)")
        }
    }

    private func evaluateCloze(_ t: ClozeTask) throws {
        let url = URL(fileURLWithPath: data)
        let modelURL = URL(fileURLWithPath: model)
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: modelURL.path, isDirectory: &isDir) else {
            throw CLIError("\(model): no such model folder")
        }
        let tokFolder = tokenizer.map { URL(fileURLWithPath: $0) } ?? (isDir.boolValue ? modelURL : modelURL.deletingLastPathComponent())
        let tok = try GLMTokenizer(folder: tokFolder)
        let seq = seqLength ?? t.defaults.seqLength
        // Everything about the data is checked before the model loads.
        let encoder = try ClozeEncoder(task: t, tokenizer: tok, seqLength: seq, patternId: patternId)
        let examples = try t.read(url, split: DataSplit.evaluation(forFile: url.lastPathComponent))
        let m = try GLMModel.load(modelURL)
        guard tok.numTokens <= m.config.vocabSize else {
            throw CLIError("the tokenizer in \(tokFolder.path) has \(tok.numTokens) ids but the model's vocabulary has \(m.config.vocabSize) rows; they do not belong together")
        }
        guard seq <= m.config.maxSequenceLength else {
            throw CLIError("--seq-length \(seq) is longer than the model's max_sequence_length \(m.config.maxSequenceLength)")
        }
        if bf16 { m.bf16 = true }
        let interactive = isatty(STDERR_FILENO) != 0
        let result = try ClozeEvaluator.evaluate(model: m, encoder: encoder, examples: examples, head: ClozeHead(t.defaults),
                                                 batchSize: batchSize) { done, total in
            if interactive { FileHandle.standardError.write(Data("\rscored \(done)/\(total)".utf8)) }
        }
        if interactive { FileHandle.standardError.write(Data("\n".utf8)) }
        if let output {
            let lines = result.predictions.map { $0.jsonLine() }.joined(separator: "\n") + "\n"
            try AtomicFile.write(Data(lines.utf8), to: URL(fileURLWithPath: output))
        }
        print(result.summaryJSON(task: t.name))
    }
}
