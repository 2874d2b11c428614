/// The official GLM summarisation score (`tasks/seq2seq/evaluate.py:rouge_metric`; docs/official-glm.md
/// §6.2): predictions and references are post-processed, then scored with `rouge_score`
/// (``RougeScorer``, stemmer on), and the F-measures averaged over examples.
///
/// Post-processing, as the official code does it:
/// - both sides are split into sentences at `[SEP]`, each sentence passed through
///   `fix_tokenization` (the ``Mode``), and rejoined with newlines (so `rouge-l` is ROUGE-Lsum);
/// - prediction sentences of at most four words are dropped, and so are near-duplicates:
///   a sentence is kept only if at most 70 % of its distinct lowercased words appeared in earlier
///   kept-or-dropped sentences (`remove_duplicate`). The `get_f1(...) > 1.0` filter the official code
///   also applies can never fire (that F1 is below 1) and is kept as written;
/// - the official code passes the prediction where `rouge_score` expects the target (and the
///   reference as the prediction); ROUGE-Lsum is not symmetric, so this is kept too.
public struct SummaryRouge: Sendable {
    /// The official `dataset` argument: which `fix_tokenization` runs.
    public enum Mode: String, Sendable, CaseIterable {
        /// `cnn_dm`: undo BERT-style spacing (quotes to `` ``/'' ``, `n't`, `'s`, `...`, `3,000`,
        /// `3.03`, `U.N.`, hyphenated words). The official code picks it for every task when the
        /// tokenizer is BERT WordPiece.
        case cnnDM = "cnn_dm"
        /// `cnn_dm_org`: text unchanged (other tokenizers).
        case cnnDMOriginal = "cnn_dm_org"
        /// `gigaword`: only `[UNK]` → `UNK` (Gigaword with a non-BERT tokenizer).
        case gigaword

        /// The official choice (`tasks/seq2seq/finetune.py:metrics_func_provider`).
        public static func official(bertTokenizer: Bool, task: String) -> Mode {
            if bertTokenizer { return .cnnDM }
            return task.lowercased() == "gigaword" ? .gigaword : .cnnDMOriginal
        }
    }

    public var mode: Mode
    /// `duplicate_rate` (0.7 in the official code; 1 or more disables the filter).
    public var duplicateRate: Double = 0.7
    private let scorer = RougeScorer(useStemmer: true)

    public init(mode: Mode) { self.mode = mode }

    /// The reference as ROUGE sees it: `[SEP]`-split, fixed, newline-joined.
    public func processReference(_ text: String) -> String {
        let parts = PythonScalars.split(PythonScalars.strip(Array(text.unicodeScalars)), separator: Self.sep)
        return CodePoints(Array(parts.map { fixTokenization($0) }.joined(separator: ["\n"]))).string
    }

    /// The prediction as ROUGE sees it: `[SEP]`-split, fixed, short and duplicate sentences dropped.
    public func processPrediction(_ text: String) -> String {
        var buf: [[Unicode.Scalar]] = []
        for raw in PythonScalars.split(PythonScalars.strip(Array(text.unicodeScalars)), separator: Self.sep) {
            let s = fixTokenization(raw)
            if buf.contains(where: { Self.f1(s, $0) > 1.0 }) { continue }
            if PythonScalars.split(s).count <= 4 { continue }
            buf.append(s)
        }
        if duplicateRate > 0 && duplicateRate < 1 { buf = removeDuplicates(buf) }
        return CodePoints(Array(buf.joined(separator: ["\n"]))).string
    }

    /// Mean F of `rouge-1`, `rouge-2` and `rouge-l` (ROUGE-Lsum) over the examples, as fractions
    /// (the official code's numbers; the CLI reports them × 100). Keys: `.rouge1`, `.rouge2`,
    /// `.rougeLsum`, and `.rougeL` (the LCS of the whole texts, which the official code does not
    /// report), all on the same post-processed texts.
    public func score(predictions: [String], references: [String]) throws -> [RougeType: Double] {
        guard predictions.count == references.count else {
            throw TaskError.setting("ROUGE: \(predictions.count) predictions but \(references.count) references")
        }
        let p = predictions.map(processPrediction), r = references.map(processReference)
        var out: [RougeType: Double] = [:]
        for t in [RougeType.rouge1, .rouge2, .rougeL, .rougeLsum] {
            var sum = 0.0
            // The official call is `scorer.score(pred, ref)` while rouge_score's signature is
            // `score(target, prediction)`: the roles are swapped. F of ROUGE-N is symmetric, but
            // ROUGE-Lsum's union LCS is not, so the swap is kept.
            for (a, b) in zip(p, r) { sum += scorer.score(t, prediction: b, reference: a).fmeasure }
            out[t] = p.isEmpty ? 0 : sum / Double(p.count)
        }
        return out
    }

    private static let sep = Array("[SEP]".unicodeScalars)
    private static let punctuation = Array("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~".unicodeScalars)

    /// Python's `x in string.punctuation` (a substring test; the empty string is in it).
    private static func inPunctuation(_ x: [Unicode.Scalar]) -> Bool {
        if x.isEmpty { return true }
        guard x.count <= punctuation.count else { return false }
        for i in 0...(punctuation.count - x.count) where punctuation[i..<(i + x.count)].elementsEqual(x) { return true }
        return false
    }

    /// `_is_digit`: every character a digit or a comma.
    private static func isDigitOrComma(_ w: [Unicode.Scalar]) -> Bool {
        w.allSatisfy { PythonScalars.isDigit($0) || $0 == "," }
    }

    /// `fix_tokenization(text, dataset)`.
    func fixTokenization(_ text: [Unicode.Scalar]) -> [Unicode.Scalar] {
        switch mode {
        case .cnnDMOriginal: return text
        case .gigaword: return PythonScalars.replace(text, "[UNK]", "UNK")
        case .cnnDM: break
        }
        let input = PythonScalars.split(text)
        let n = input.count
        var out: [[Unicode.Scalar]] = []
        var leftQuote = false, leftSingleQuote = false, prevDash = false
        func tok(_ s: String) -> [Unicode.Scalar] { Array(s.unicodeScalars) }
        var i = 0
        while i < n {
            let t = input[i]
            var flagPrevDash = false
            if t == tok("\"") {
                out.append(tok(leftQuote ? "''" : "``"))
                leftQuote.toggle()
                i += 1
            } else if t == tok("'"), let last = out.last, last.last == "n", i < n - 1, input[i + 1] == tok("t") {
                out[out.count - 1].removeLast()
                out.append(tok("n't"))
                i += 2
            } else if t == tok("'"), i < n - 1, [tok("s"), tok("d"), tok("ll")].contains(input[i + 1]) {
                out.append(tok("'") + input[i + 1])
                i += 2
            } else if t == tok("'") {
                out.append(tok(leftSingleQuote ? "'" : "`"))
                leftSingleQuote.toggle()
                i += 1
            } else if t == tok("."), i < n - 2, input[i + 1] == tok("."), input[i + 2] == tok(".") {
                out.append(tok("..."))
                i += 3
            } else if t == tok(","), let last = out.last, Self.isDigitOrComma(last), i < n - 1, Self.isDigitOrComma(input[i + 1]) {
                out[out.count - 1] += tok(",") + input[i + 1]
                i += 2
            } else if t == tok("."), let last = out.last, PythonScalars.isDigit(last), i < n - 1, PythonScalars.isDigit(input[i + 1]) {
                out[out.count - 1] += tok(".") + input[i + 1]
                i += 2
            } else if t == tok("."), let last = out.last, last.count == 1, PythonScalars.isAlpha(last), i < n - 2,
                      input[i + 1].count == 1, PythonScalars.isAlpha(input[i + 1]), input[i + 2] == tok(".") {
                // U . N . -> U.N. (the official loop also swallows what lies between abbreviations)
                var k = i + 3
                while k + 2 < n {
                    if input[k + 1].count == 1 && PythonScalars.isAlpha(input[k + 1]) && input[k + 2] == tok(".") { k += 2 } else { break }
                }
                out[out.count - 1] += input[i..<k].joined()
                i = k
            } else if t == tok("-") {
                if i < n - 1 && input[i + 1] == tok("-") {
                    out.append(tok("--"))
                    i += 2
                } else if i == n - 1 || i == 0 {
                    out.append(tok("-"))
                    i += 1
                } else if let last = out.last, !Self.inPunctuation(last), !Self.inPunctuation([input[i + 1][0]]) {
                    out[out.count - 1] += tok("-")
                    i += 1
                    flagPrevDash = true
                } else {
                    out.append(tok("-"))
                    i += 1
                }
            } else if prevDash, !out.isEmpty, !Self.inPunctuation([t[0]]) {
                out[out.count - 1] += t
                i += 1
            } else {
                out.append(t)
                i += 1
            }
            prevDash = flagPrevDash
        }
        return Array(out.joined(separator: [" "]))
    }

    /// `get_f1`: bag-of-words F1 of lowercased whitespace tokens (with the official `+ 1e-5`).
    static func f1(_ a: [Unicode.Scalar], _ b: [Unicode.Scalar]) -> Double {
        let ta = PythonScalars.split(PythonScalars.lower(a)).map(CodePoints.init), tb = PythonScalars.split(PythonScalars.lower(b)).map(CodePoints.init)
        if ta.isEmpty || tb.isEmpty { return ta.count == tb.count ? 1 : 0 }
        var ca: [CodePoints: Int] = [:], cb: [CodePoints: Int] = [:]
        for t in ta { ca[t, default: 0] += 1 }
        for t in tb { cb[t, default: 0] += 1 }
        var match = 0
        for (t, c) in ca { if let d = cb[t] { match += min(c, d) } }
        let p = Double(match) / Double(ta.count), r = Double(match) / Double(tb.count)
        return 2.0 * p * r / (p + r + 1e-5)
    }

    /// `remove_duplicate(l_list, duplicate_rate)`.
    func removeDuplicates(_ list: [[Unicode.Scalar]]) -> [[Unicode.Scalar]] {
        var kept: [[Unicode.Scalar]] = []
        var history = Set<CodePoints>()
        for s in list {
            let words = Set(PythonScalars.split(PythonScalars.lower(s)).map(CodePoints.init))
            // Sentences reaching here have more than four words, so the set is never empty.
            if !words.isEmpty, Double(words.intersection(history).count) / Double(words.count) <= duplicateRate {
                kept.append(s)
            }
            history.formUnion(words)
        }
        return kept
    }
}
