import Foundation
import GLMTokenizers

/// Perplexity over long text in overlapping windows, exactly as the official zero-shot LM task
/// (docs/official-glm.md §6.4; official `tasks/language_model/dataset.py:LMDataset` (block LM),
/// `build_lm_dataset`, `build_wikitext103_dataset`, `finetune.py:evaluate_and_print_results`;
/// `config_tasks/zero_lm.sh`, `zero_wikitext.sh`).
///
/// With `W = seqLength − 1` and overlap `k`, a document of N tokens gives
/// `max(⌈max(N − W, 0)/k⌉ + 1, 1)` windows; window j covers tokens `[j·k, j·k + W)`:
/// - window 0 (and every window when unidirectional): Part A = `[CLS] t₀ [M]`, Part B scores the rest;
/// - window j > 0: Part A = `[CLS]` + its first `W − k` tokens + `[M]` (bidirectional context),
///   Part B = `[sop]` + the remaining ≤ k tokens, each scored once; unidirectional windows score
///   only their last k positions (of the official padded length `W + 2`).
///
/// Every token after the first of a document is scored exactly once. Then
/// `ppl = exp(min(20, Σloss/(N_tok − 1)))` and
/// `adjusted_ppl = exp(min(20, Σloss/(N_tok − 1) · (N_tok − 1)/(N_words − 1)))`, where N_tok sums
/// all documents' tokens and N_words counts the original text's words (split on single spaces).
public struct Perplexity: Sendable {
    /// The tokenizer of ``corpus(_:mode:)`` (nil for a layout built from command ids alone).
    public let tokenizer: GLMTokenizer?
    public let commands: CommandTokens
    public let seqLength: Int
    /// `--overlapping-eval` (256 in the scripts; `arguments.py` default 32; at least 1).
    public let overlap: Int
    public let unidirectional: Bool
    public let maskId: Int

    public init(tokenizer: GLMTokenizer, seqLength: Int = 512, overlap: Int? = 256, unidirectional: Bool = false,
                taskMask: Bool = false) throws {
        try self.init(commands: tokenizer.commands, maskId: LanguageModelMask.id(tokenizer, taskMask: taskMask),
                      seqLength: seqLength, overlap: overlap, unidirectional: unidirectional, tokenizer: tokenizer)
    }

    /// The id-level windows alone (``windows(document:id:)``); `tokenizer` is needed for ``corpus(_:mode:)``.
    /// An overlap beyond the window (which the official code turns into unscored gaps) is refused.
    public init(commands: CommandTokens, maskId: Int, seqLength: Int = 512, overlap: Int? = 256, unidirectional: Bool = false,
                tokenizer: GLMTokenizer? = nil) throws {
        guard seqLength >= 3 else { throw TaskError.setting("--seq-length \(seqLength) is too short for perplexity windows") }
        // LMDataset: overlapping_eval None → max_seq_len; then max(1, ·).
        let k = max(1, overlap ?? (seqLength - 1))
        guard k <= seqLength - 1 else {
            throw TaskError.setting("--overlap \(k) must not exceed the window of \(seqLength - 1) tokens (--seq-length − 1)")
        }
        self.tokenizer = tokenizer
        self.commands = commands
        self.maskId = maskId
        self.seqLength = seqLength
        self.overlap = k
        self.unidirectional = unidirectional
    }

    /// Tokens per window, `seqLength − 1`.
    public var window: Int { seqLength - 1 }

    /// Documents, token count and word count of a text file.
    public struct Corpus: Sendable {
        public var documents: [[Int]]
        /// N_tok: every document's tokens.
        public var tokens: Int
        /// N_words: the original text's words (`split(" ")`).
        public var words: Int

        public init(documents: [[Int]], tokens: Int, words: Int) {
            self.documents = documents; self.tokens = tokens; self.words = words
        }
    }

    /// How the text file becomes documents.
    public enum Mode: String, Sendable, CaseIterable {
        /// `wikitext`: the whole file, detokenised (``WikitextDetokenizer``), is one document; words
        /// = `len(raw.strip().split(" "))`.
        case wikitext
        /// `language_model`: each line (stripped) is a document; words = Σ `len(line.strip().split(" "))`.
        /// Blank lines are skipped (the official code cannot score them).
        case lines
        /// The whole file, as is, is one document (words as `wikitext`): for plain prose.
        case whole
    }

    public func corpus(_ url: URL, mode: Mode) throws -> Corpus {
        guard let tokenizer else { throw TaskError.setting("these perplexity windows were built without a tokenizer") }
        switch mode {
        case .wikitext, .whole:
            let raw = try TaskFile.text(url)
            let text = mode == .wikitext ? WikitextDetokenizer.detokenize(raw) : raw
            let ids = tokenizer.encode(text)
            let words = PythonText.split(PythonText.strip(raw), separator: " ").count
            return Corpus(documents: [ids], tokens: ids.count, words: words)
        case .lines:
            var docs: [[Int]] = [], tokens = 0, words = 0
            for line in try Seq2SeqReader.lines(of: url) {
                let s = PythonText.strip(line)
                if s.isEmpty { continue }
                let ids = tokenizer.encode(s)
                docs.append(ids)
                tokens += ids.count
                words += PythonText.split(s, separator: " ").count
            }
            return Corpus(documents: docs, tokens: tokens, words: words)
        }
    }

    /// Number of windows of a document of `n` tokens.
    public func windowCount(documentLength n: Int) -> Int {
        let target = max(n - window, 0)
        return max((target + overlap - 1) / overlap + 1, 1)
    }

    /// The official samples of one document, in order (unpadded; see ``EncodedSample/padded(to:with:)``).
    /// Windows with nothing to score (a one-token document) are left out.
    public func windows(document: [Int], id: String = "") throws -> [EncodedSample] {
        var out: [EncodedSample] = []
        for j in 0..<windowCount(documentLength: document.count) {
            let start = j * overlap
            guard start < document.count || j == 0 else { break }
            let tokens = Array(document[min(start, document.count)..<min(start + window, document.count)])
            var prompt: [Int], text: [Int]
            if j == 0 || unidirectional {
                prompt = Array(tokens.prefix(1)); text = Array(tokens.dropFirst())
            } else {
                let p = window - overlap
                prompt = Array(tokens.prefix(p)); text = Array(tokens.dropFirst(p))
            }
            if text.isEmpty { continue }
            prompt.append(maskId)
            // num_special_tokens_to_add(add_cls, add_piece, no eos) = 1; max length W + 1 + 1.
            let paddedLength = window + 2
            var s = try OfficialInput.build(textA: prompt, answer: text, maxLength: paddedLength, addEos: false,
                                            maskId: maskId, commands: commands, id: "\(id)window-\(j)") {
                TaskError.data(file: "\(id)window-\(j)", line: nil, message: $0.message(maxLength: paddedLength))
            }
            if j != 0 && unidirectional {
                // loss_masks[:-overlap] = 0 on the padded array.
                for i in 0..<min(s.lossMask.count, max(0, paddedLength - overlap)) { s.lossMask[i] = 0 }
            }
            out.append(s)
        }
        return out
    }

    /// The official padded length of a window, `seqLength + 1`.
    public var paddedLength: Int { window + 2 }

    /// The official scores from the summed loss of every window of a corpus.
    public static func scores(lossSum: Double, tokens: Int, words: Int) throws -> PerplexityScore {
        guard tokens > 1, words > 1 else {
            throw TaskError.setting("perplexity needs at least two tokens and two words (got \(tokens) tokens, \(words) words)")
        }
        let avg = lossSum / Double(tokens - 1)
        let ratio = Double(tokens - 1) / Double(words - 1)
        return PerplexityScore(lossSum: lossSum, averageLoss: avg, ppl: exp(min(20, avg)),
                               adjustedPpl: exp(min(20, avg * ratio)), tokens: tokens, words: words)
    }
}

/// What the official LM evaluation reports (`evaluate_and_print_results`, `eval_metric == 'loss'`).
public struct PerplexityScore: Sendable, Equatable, Codable {
    /// Σ cross-entropy over every scored token.
    public var lossSum: Double
    /// `Σloss / (N_tok − 1)`.
    public var averageLoss: Double
    public var ppl: Double
    public var adjustedPpl: Double
    public var tokens: Int
    public var words: Int
}
