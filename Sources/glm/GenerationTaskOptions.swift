import ArgumentParser
import Foundation
import GLM
import GLMTasks
import GLMTokenizers

/// The generation and zero-shot LM kinds of `glm evaluate --task` and `glm cloze --task`.
enum GenerationTaskKind: String, CaseIterable {
    case seq2seq
    case perplexity
    case lambada
    case blankInfill = "blank-infill"
}

/// The flags of the seq2seq, blank-infilling, LAMBADA and perplexity kinds, shared by `glm evaluate`
/// (scores) and `glm cloze` (the inputs those scores come from). Defaults are the official scripts'
/// (`config_tasks/seq_*.sh`, `zero_*.sh`), lengths capped at the model's positions when not given.
struct GenerationTaskOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Seq2seq task whose layout and settings apply: \(Seq2SeqTask.allCases.filter { $0 != .blank }.map(\.rawValue).joined(separator: ", ")).", valueName: "name"))
    var seq2seqTask: String = "xsum"
    @Option(name: .long, help: "Part A length of seq2seq and blank infilling (default: the task's, capped at the model's max_sequence_length).")
    var sourceLength: Int?
    @Option(name: .long, help: "Most tokens generated per example (default: the task's target length).")
    var targetLength: Int?
    @Option(name: .long, help: "Beams of the seq2seq beam search (default: the task's).")
    var numBeams: Int?
    @Option(name: .long, help: "Beam score = Σ log p / length^penalty (default: the task's).")
    var lengthPenalty: Double?
    @Option(name: .long, help: "Never repeat an n-gram of this size (0: off; default: the task's).")
    var noRepeatNgram: Int?
    @Option(name: .long, help: "Fewest tokens before eop may end a prediction (default: the task's).")
    var minTargetLength: Int?
    @Flag(name: .long, help: "Task-mask layouts: [sMASK] for seq2seq, [gMASK] for LAMBADA and perplexity (GLM-10B-style models).")
    var taskMask = false
    @Option(name: .long, help: "Perplexity: tokens shared by consecutive windows (default: 256, at most --seq-length − 1).")
    var overlap: Int?
    @Flag(name: .long, help: "LAMBADA and perplexity: the unidirectional layout (context in Part B, causal).")
    var unidirectional = false
    @Option(name: .long, help: "Perplexity: how the text file becomes documents: whole (one document), lines (one per line), wikitext (one, detokenised).")
    var textFormat: String = "whole"
    @Option(name: .long, help: "Blank infilling: the fraction of words masked (0.1 … 0.5 in the paper).")
    var maskRatio: Double?
    @Option(name: .long, help: "Blank infilling: seed of the masking (Python's random.Random, the official --seed).")
    var seed: UInt64 = 1234

    /// The seq2seq task named by `--seq2seq-task` (not blank: that is `--task blank-infill`).
    func seq2seq() throws -> Seq2SeqTask {
        let t = try Seq2SeqTask.named(seq2seqTask)
        guard t != .blank else { throw CLIError("--seq2seq-task blank: use --task blank-infill --mask-ratio R") }
        return t
    }

    /// `task`'s official settings with the flags applied (``Seq2SeqTask/settings(_:positions:)``);
    /// lengths not given are capped at `positions` (the model's max_sequence_length; nil when no
    /// model is involved).
    func settings(_ task: Seq2SeqTask, positions: Int?) throws -> Seq2SeqSettings {
        if task == .blank && maskRatio == nil { throw CLIError("--task blank-infill needs --mask-ratio R (0 < R < 1, e.g. 0.1)") }
        return try task.settings(Seq2SeqOverrides(sourceLength: sourceLength, targetLength: targetLength, numBeams: numBeams,
                                                  lengthPenalty: lengthPenalty, noRepeatNgram: noRepeatNgram,
                                                  minTargetLength: minTargetLength, maskRatio: maskRatio), positions: positions)
    }

    /// The seq2seq encoder of `task` with `settings`; a tokenizer without [sMASK] is refused for `--task-mask`.
    func encoder(_ task: Seq2SeqTask, _ settings: Seq2SeqSettings, tokenizer: GLMTokenizer) throws -> Seq2SeqEncoder {
        try Seq2SeqEncoder(tokenizer: tokenizer, task: task, sourceLength: settings.sourceLength,
                           targetLength: settings.targetLength, taskMask: taskMask)
    }

    /// Blank infilling at `--mask-ratio` (``settings(_:positions:)`` requires it).
    func blankInfilling(_ settings: Seq2SeqSettings, tokenizer: GLMTokenizer) throws -> BlankInfilling {
        guard !taskMask else { throw CLIError("--task-mask: blank infilling uses [MASK] (the official BlankLMDataset with a BERT tokenizer)") }
        return try BlankInfilling(tokenizer: tokenizer, sourceLength: settings.sourceLength, maskRatio: settings.blankMaskRatio)
    }

    /// The LAMBADA layout at `seqLength` (default 512, capped at `positions`).
    func lambada(tokenizer: GLMTokenizer, seqLength: Int?, positions: Int?) throws -> Lambada {
        try Lambada(tokenizer: tokenizer, seqLength: try Self.length(seqLength, positions: positions), unidirectional: unidirectional,
                    taskMask: taskMask)
    }

    /// The perplexity windows at `seqLength` (default 512, capped at `positions`) and `--overlap`
    /// (default 256, capped at the window).
    func perplexity(tokenizer: GLMTokenizer, seqLength: Int?, positions: Int?) throws -> Perplexity {
        let n = try Self.length(seqLength, positions: positions)
        if let o = overlap, o < 1 { throw CLIError("--overlap must be at least 1, got \(o)") }
        return try Perplexity(tokenizer: tokenizer, seqLength: n, overlap: overlap ?? min(256, n - 1), unidirectional: unidirectional,
                              taskMask: taskMask)
    }

    /// `--text-format`.
    func textMode() throws -> Perplexity.Mode {
        guard let m = Perplexity.Mode(rawValue: textFormat) else {
            throw CLIError("--text-format must be one of \(Perplexity.Mode.allCases.map(\.rawValue).joined(separator: ", ")), got \(textFormat)")
        }
        return m
    }

    /// The LM sequence length: the official 512 (capped at the model's positions) unless given.
    static func length(_ given: Int?, positions: Int?) throws -> Int {
        guard let given else { return min(512, positions ?? 512) }
        guard given > 0 else { throw CLIError("--seq-length must be positive, got \(given)") }
        if let p = positions, given > p { throw CLIError("--seq-length \(given) is longer than the model's max_sequence_length \(p)") }
        return given
    }
}

/// One JSON object per line, keys sorted (for the records ``InputRecords`` builds).
func jsonLine(_ record: [String: Any]) throws -> String {
    String(decoding: try JSONSerialization.data(withJSONObject: record, options: [.sortedKeys, .withoutEscapingSlashes]), as: UTF8.self)
}

/// A JSON number (null when not finite).
func jsonNumber(_ x: Double) -> String { x.isFinite ? "\(x)" : "null" }
