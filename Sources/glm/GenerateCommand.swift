import ArgumentParser
import Foundation
import GLM
import GLMTokenizers

/// `glm generate`: fill the blanks of text with a model, as the official `generate_samples.py`.
/// Thin: parsing and printing only; the work is `BlankFiller` (docs/generate.md).
struct GenerateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Fill the blanks ([MASK], [sMASK], [gMASK]) of text with a GLM model.",
        discussion: """
        Each TEXT argument is one prompt; with none, every non-empty stdin line is one. Every blank \
        is filled left to right, later fills seeing earlier ones; text without a blank gets \
        [gMASK] (or [MASK] for a tokenizer without it) appended, so the model continues it. \
        Command tokens are case-sensitive: a look-alike such as [mask] is an error that lists the \
        spellings the model's tokenizer knows.

        Output: the filled text, one line per prompt, on stdout. When stderr is a terminal, each \
        fill is also streamed to stderr as its tokens are chosen (not with beam search). --json \
        prints one JSON object per prompt instead: prompt, text, fills (mask, position, text, ids, \
        stop, and score with beam search), generated_tokens, seconds.

        Defaults are those of the official generate_block.sh: sampling at temperature 0.9 from \
        the top 40 tokens, seed 1234 (the same command gives the same text; change --seed for \
        another sample), at most 64 tokens per blank. Vocabulary padding rows are never generated.

        Examples:
          glm generate --model runs/default/model "She was [MASK] to see him."
          glm generate --model glm-large --greedy "Paris is the [MASK] of France."
          glm generate --model glm-large --num-beams 5 --length-penalty 0.7 \\
              --no-repeat-ngram 3 "[sMASK] Content: …"
          glm generate --model glm-large --top-k 0 --top-p 0.9 --seed 7 "Once upon"
          glm generate --model glm-large --greedy --json < prompts.txt > fills.jsonl
        """)

    @Option(name: .long, help: "Model folder: config.json, weights (model.safetensors, pytorch_model.bin or official checkpoint) and tokenizer files (vocab.txt, vocab.json + merges.txt, *.model, …).")
    var model: String

    @Argument(help: "Prompts, each with zero or more blanks. None: read prompts from stdin, one per line.")
    var text: [String] = []

    @Flag(name: .long, help: "Always take the most likely token (deterministic; ignores temperature, top-k, top-p).")
    var greedy = false
    @Option(name: .long, help: "Sampling temperature.")
    var temperature: Float = 0.9
    @Option(name: .long, help: "Sample from the k most likely tokens (0: all).")
    var topK: Int = 40
    @Option(name: .long, help: "Sample from the smallest set of tokens whose probability exceeds p (0: off).")
    var topP: Float = 0
    @Option(name: .long, help: "Beam search with this many beams (> 1; deterministic, ignores sampling settings).")
    var numBeams: Int = 1
    @Option(name: .long, help: "Beam score = Σ log p / length^penalty: > 1 favours longer fills, < 1 shorter.")
    var lengthPenalty: Float = 1
    @Flag(name: .long, help: "End a beam search as soon as --num-beams fills are finished (the official code does not).")
    var earlyStopping = false
    @Option(name: .long, help: "Most tokens per blank, capped at the model's max_sequence_length. (default: 64)")
    var maxNewTokens: Int?
    @Option(name: .long, help: "Fewest tokens per blank: the end of a fill is banned before.")
    var minNewTokens: Int = 0
    @Option(name: .long, help: "Never repeat an n-gram of this size within a fill (0: off).")
    var noRepeatNgram: Int = 0
    @Option(name: .long, help: "Penalty > 1 on tokens already in the prompt or fill (1: off; 1.2 is common).")
    var repetitionPenalty: Float = 1
    @Option(name: .long, help: "A token id never to generate (repeatable).")
    var banId: [Int] = []
    @Flag(name: .long, inversion: .prefixedNo, help: "Never generate the vocabulary padding rows (ids ≥ the tokenizer's size).")
    var banPadding = true
    @Option(name: .long, help: "Seed of the sampling stream (every prompt starts from it).")
    var seed: UInt64 = 1234
    @Flag(name: .long, help: "Print one JSON object per prompt (fills with their ids).")
    var json = false
    @Flag(name: .long, help: "bf16 matmuls (faster on CPUs with bf16 support; slightly different numbers).")
    var bf16 = false
    @Flag(name: .long, inversion: .prefixedNo, help: "Stream fills to stderr as tokens are chosen, when stderr is a terminal.")
    var stream = true

    func run() throws {
        do { try generate() } catch let e as GLMError {
            throw CleanError(message: "\(e)")
        } catch let e as TokenizerError {
            throw CleanError(message: "\(e)")
        }
    }

    private func generate() throws {
        var cfg = GenerationConfig()
        cfg.greedy = greedy
        cfg.temperature = temperature
        cfg.topK = topK
        cfg.topP = topP
        cfg.numBeams = numBeams
        cfg.lengthPenalty = lengthPenalty
        cfg.earlyStopping = earlyStopping
        if let maxNewTokens { cfg.maxNewTokens = maxNewTokens }
        cfg.minNewTokens = minNewTokens
        cfg.noRepeatNgram = noRepeatNgram
        cfg.repetitionPenalty = repetitionPenalty
        cfg.seed = seed
        cfg.bannedIds = banId
        try cfg.validate()

        let url = URL(fileURLWithPath: model)
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDir) else {
            throw CleanError(message: "\(model): no such model folder")
        }
        let folder = isDir.boolValue ? url : url.deletingLastPathComponent()
        let tokenizer: GLMTokenizer
        do { tokenizer = try GLMTokenizer(folder: folder) } catch let e as TokenizerError {
            throw CleanError(message: "cannot load the tokenizer of model \(model): \(e)")
        }

        let prompts = text.isEmpty ? readStdinPrompts() : text
        guard !prompts.isEmpty else {
            throw CleanError(message: "no prompt: give TEXT arguments or lines on stdin, e.g. glm generate --model \(model) \"GLM is a [MASK] model.\"")
        }
        // Every prompt is checked before the model loads, so a bad line fails in a second.
        func numbered(_ i: Int, _ body: () throws -> [Int]) throws -> [Int] {
            do { return try body() } catch let GLMError.invalidInput(m) {
                throw CleanError(message: prompts.count > 1 ? "prompt \(i + 1): \(m)" : m)
            }
        }
        var contexts = try prompts.enumerated().map { i, p in try numbered(i) { try BlankFiller.context(for: p, tokenizer: tokenizer) } }

        let m = try GLMModel.load(url)
        if bf16 { m.bf16 = true }
        guard tokenizer.numTokens <= m.config.vocabSize else {
            throw CleanError(message: "the tokenizer in \(folder.path) has \(tokenizer.numTokens) ids but the model's vocabulary has \(m.config.vocabSize) rows; they do not belong together")
        }
        if banPadding { cfg.bannedIds += Array(tokenizer.numTokens..<m.config.vocabSize) }
        let filler = BlankFiller(model: m)
        let tokens = BlankFillingTokens(tokenizer: tokenizer)
        contexts = try contexts.enumerated().map { i, c in try numbered(i) { try filler.prepare(context: c, tokens: tokens) } }
        // The cache of the longest prompt, for every beam: refused before anything is allocated.
        let perBlank = filler.maxTokensPerBlank(cfg) + 1
        let longest = contexts.map { c in c.count + c.filter(tokens.masks.contains).count * perBlank }.max() ?? 0
        try m.config.checkMemory(batch: max(cfg.numBeams, 1), sequence: longest, workload: .decoding, bf16: bf16,
                                 for: cfg.usesBeamSearch ? "beam search with --num-beams \(cfg.numBeams)" : "generation")
        if maxNewTokens != nil && filler.maxTokensPerBlank(cfg) < cfg.maxNewTokens {
            warn("--max-new-tokens \(cfg.maxNewTokens) is capped at the model's max_sequence_length \(m.config.maxSequenceLength)")
        }

        let streaming = stream && !cfg.usesBeamSearch && isatty(STDERR_FILENO) == 1
        let out = FileHandle.standardOutput
        for (i, ctx) in contexts.enumerated() {
            let streamer = streaming ? Streamer(tokenizer: tokenizer, context: ctx, tokens: tokens,
                                                label: contexts.count > 1 ? "prompt \(i + 1)/\(contexts.count), " : "") : nil
            let t0 = DispatchTime.now().uptimeNanoseconds
            let (used, fills) = try filler.fill(context: ctx, tokens: tokens, config: cfg,
                                                onToken: streamer.map { s in { s.token(blank: $0, id: $1) } })
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
            streamer?.finish()
            var spliced = BlankFiller.splice(context: used, fills: fills)
            if spliced.first == tokenizer.commands.cls { spliced.removeFirst() }
            if spliced.last == tokenizer.commands.eos { spliced.removeLast() }
            let filled = tokenizer.decode(spliced)
            if json {
                let obj = PromptJSON(
                    prompt: prompts[i], text: filled,
                    fills: fills.map { f in
                        FillJSON(mask: tokenizer.tokenString(f.maskId) ?? "\(f.maskId)", position: f.maskPosition,
                                 text: tokenizer.decode(f.tokens), ids: f.tokens, stop: f.stop,
                                 score: f.score.flatMap { $0.isFinite ? $0 : nil })
                    },
                    generated_tokens: fills.reduce(0) { $0 + $1.tokens.count }, seconds: seconds)
                let enc = JSONEncoder()
                enc.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
                out.write(try enc.encode(obj))
                out.write(Data("\n".utf8))
            } else {
                out.write(Data((filled + "\n").utf8))
            }
        }
    }

    private func readStdinPrompts() -> [String] {
        if isatty(STDIN_FILENO) == 1 { warn("reading prompts from stdin, one per line; end with Ctrl-D") }
        let data = FileHandle.standardInput.readDataToEndOfFile()
        let (lines, replaced) = TextInput.lines([UInt8](data))
        if replaced > 0 { warn("replaced \(replaced) invalid UTF-8 sequence(s) in stdin with U+FFFD") }
        return lines.filter { !$0.allSatisfy(\.isWhitespace) }
    }
}

private func warn(_ s: String) { FileHandle.standardError.write(Data("glm generate: \(s)\n".utf8)) }

/// An error printed as its message alone (ArgumentParser prints "Error: " + description).
private struct CleanError: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
}

private struct FillJSON: Encodable {
    let mask: String
    let position: Int
    let text: String
    let ids: [Int]
    let stop: String
    let score: Double?
}

private struct PromptJSON: Encodable {
    let prompt: String
    let text: String
    let fills: [FillJSON]
    let generated_tokens: Int
    let seconds: Double
}

/// Writes each fill to stderr as its tokens arrive: one line per blank, `[MASK] 1/2 → text…`.
private final class Streamer {
    let tokenizer: GLMTokenizer
    let masks: [String]
    let label: String
    var blank = -1
    var ids: [Int] = []
    var printed = ""

    init(tokenizer: GLMTokenizer, context: [Int], tokens: BlankFillingTokens, label: String) {
        self.tokenizer = tokenizer
        masks = context.filter(tokens.masks.contains).map { tokenizer.tokenString($0) ?? "[MASK]" }
        self.label = label
    }

    func token(blank b: Int, id: Int) {
        if b != blank {
            if blank >= 0 { write("\n") }
            blank = b; ids = []; printed = ""
            write("\(label)\(b < masks.count ? masks[b] : "blank") \(b + 1)/\(masks.count) → ")
        }
        ids.append(id)
        var now = tokenizer.decode(ids)
        // A byte-level token may end inside a UTF-8 sequence; wait for the rest.
        while now.hasSuffix("\u{FFFD}") { now.removeLast() }
        let common = zip(now, printed).prefix { $0 == $1 }.count
        let delta = String(now.dropFirst(common))
        if !delta.isEmpty { write(delta); printed = now }
    }

    func finish() { if blank >= 0 { write("\n") } }

    private func write(_ s: String) { FileHandle.standardError.write(Data(s.utf8)) }
}
