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

    @OptionGroup var decoding: GenerationOptions
    @Flag(name: .long, help: "Print one JSON object per prompt (fills with their ids).")
    var json = false
    @OptionGroup var precision: PrecisionOptions
    @Option(name: .long, help: "Most sequences decoded together (prompts, or beams of a prompt): prompts run batched, each filled exactly as alone.")
    var batch: Int = 16
    @Flag(name: .long, inversion: .prefixedNo, help: "Stream fills to stderr as tokens are chosen, when stderr is a terminal.")
    var stream = true

    func validate() throws {
        guard batch > 0 else { throw ValidationError("--batch must be at least 1, got \(batch)") }
    }

    func run() throws {
        do { try generate() } catch let e as GLMError {
            throw CleanError(message: "\(e)")
        } catch let e as TokenizerError {
            throw CleanError(message: "\(e)")
        }
    }

    private func generate() throws {
        _ = try decoding.config()   // bad settings fail before anything loads
        let (url, folder) = try ModelFolder.locate(model)
        let tokenizer: GLMTokenizer
        do { tokenizer = try GLMTokenizer(folder: folder) } catch let e as TokenizerError {
            throw CleanError(message: "cannot load the tokenizer of model \(model): \(e)")
        }

        let prompts = text.isEmpty ? readStdinPrompts() : text
        guard !prompts.isEmpty else {
            throw CleanError(message: "no prompt: give TEXT arguments or lines on stdin, e.g. glm generate --model \(model) \"GLM is a [MASK] model.\"")
        }
        // Every prompt is checked before the model loads, so a bad line fails in a second.
        let contexts = try prompts.enumerated().map { i, p in
            do { return try BlankFiller.context(for: p, tokenizer: tokenizer) } catch let GLMError.invalidInput(m) {
                throw CleanError(message: prompts.count > 1 ? "prompt \(i + 1): \(m)" : m)
            }
        }

        let m = try precision.load(url)
        let cfg = try decoding.config(tokenizerSize: tokenizer.numTokens, vocabSize: m.config.vocabSize)
        let filler = BlankFiller(model: m)
        // The engine's rows (beams × prompts decoded together) and cache of the longest prompt:
        // refused before anything is allocated when they cannot fit (`--num-beams 100000`).
        let tokens = BlankFillingTokens(tokenizer: tokenizer)
        var capped = cfg
        capped.maxNewTokens = filler.maxTokensPerBlank(cfg)
        let needs = try contexts.map { FillEngine.needs(context: try filler.prepare(context: $0, tokens: tokens), tokens: tokens, config: capped) }
        let perContext = needs.first?.rows ?? 1
        let rows = perContext * max(1, min(contexts.count, batch / perContext))
        try m.config.checkMemory(batch: rows, sequence: needs.map(\.tokens).max() ?? 0, workload: .decoding, bf16: precision.bf16,
                                 for: cfg.usesBeamSearch ? "beam search with --num-beams \(cfg.numBeams)" : "generation of \(rows) rows")
        if decoding.maxNewTokens != nil && filler.maxTokensPerBlank(cfg) < cfg.maxNewTokens {
            warn("--max-new-tokens \(cfg.maxNewTokens) is capped at the model's max_sequence_length \(m.config.maxSequenceLength)")
        }

        let streaming = stream && !cfg.usesBeamSearch && isatty(STDERR_FILENO) == 1
        let masks = BlankFillingTokens(tokenizer: tokenizer).masks
        let streamer = streaming ? Streamer(tokenizer: tokenizer, masks: contexts.map {
            $0.filter(masks.contains).map { tokenizer.tokenString($0) ?? "[MASK]" }
        }) : nil
        let t0 = DispatchTime.now().uptimeNanoseconds
        var seconds = [Double](repeating: 0, count: prompts.count)
        let filled: [FilledText]
        do {
            filled = try filler.fill(texts: prompts, tokenizer: tokenizer, config: cfg, maxBatch: batch,
                                     onToken: streamer.map { s in { s.token(prompt: $0, blank: $1, id: $2) } },
                                     onFinished: { i in
                                         seconds[i] = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
                                         streamer?.finished(prompt: i)
                                     })
        } catch let GLMError.invalidInput(m) { throw CleanError(message: m) }
        let out = FileHandle.standardOutput
        for (i, f) in filled.enumerated() {
            if json {
                out.write(try FilledTextJSON(f, tokenizer: tokenizer, seconds: seconds[i]).encoded())
                out.write(Data("\n".utf8))
            } else {
                out.write(Data((f.text + "\n").utf8))
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

/// Writes fills to stderr as their tokens arrive: one line per blank, `[MASK] 1/2 → text…`.
/// Prompts decode together; the earliest unfinished prompt streams live, the others' tokens wait
/// and are shown, in order, when it is their turn.
private final class Streamer {
    let tokenizer: GLMTokenizer
    /// The mask tokens of each prompt, in order.
    let masks: [[String]]
    var prompts: Int { masks.count }
    var current = 0
    var events: [[(blank: Int, id: Int)]]
    var done: Set<Int> = []
    var blank = -1
    var ids: [Int] = []
    var printed = ""

    init(tokenizer: GLMTokenizer, masks: [[String]]) {
        self.tokenizer = tokenizer
        self.masks = masks
        events = Array(repeating: [], count: masks.count)
    }

    func token(prompt p: Int, blank b: Int, id: Int) {
        if p == current { show(b, id) } else { events[p].append((b, id)) }
    }

    func finished(prompt p: Int) {
        done.insert(p)
        while current < prompts, done.contains(current) {
            if blank >= 0 { write("\n") }
            blank = -1
            current += 1
            if current < prompts { for e in events[current] { show(e.blank, e.id) }; events[current] = [] }
        }
    }

    private func show(_ b: Int, _ id: Int) {
        if b != blank {
            if blank >= 0 { write("\n") }
            blank = b; ids = []; printed = ""
            let names = masks[current]
            write("\(prompts > 1 ? "prompt \(current + 1)/\(prompts), " : "")\(b < names.count ? names[b] : "blank") \(b + 1)/\(names.count) → ")
        }
        ids.append(id)
        var now = tokenizer.decode(ids)
        // A byte-level token may end inside a UTF-8 sequence; wait for the rest.
        while now.hasSuffix("\u{FFFD}") { now.removeLast() }
        let common = zip(now, printed).prefix { $0 == $1 }.count
        let delta = String(now.dropFirst(common))
        if !delta.isEmpty { write(delta); printed = now }
    }

    private func write(_ s: String) { FileHandle.standardError.write(Data(s.utf8)) }
}
