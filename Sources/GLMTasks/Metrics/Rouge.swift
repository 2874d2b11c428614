/// Precision, recall and F-measure of one ROUGE comparison (`rouge_score.scoring.Score`).
public struct RougeScore: Sendable, Equatable, Codable {
    public var precision: Double
    public var recall: Double
    public var fmeasure: Double

    public init(precision: Double, recall: Double) {
        self.precision = precision
        self.recall = recall
        // rouge_score.scoring.fmeasure
        fmeasure = precision + recall > 0 ? 2 * precision * recall / (precision + recall) : 0
    }

    static let zero = RougeScore(precision: 0, recall: 0)
}

/// The ROUGE variants the GLM evaluation reports.
public enum RougeType: String, CaseIterable, Sendable, Codable {
    case rouge1, rouge2, rougeL, rougeLsum
}

/// ROUGE exactly as Google's `rouge_score` package (0.1.2) computes it, which is what the official
/// GLM evaluation calls (`tasks/seq2seq/evaluate.py:rouge_metric`, `use_stemmer=True`;
/// docs/official-glm.md §6.2):
///
/// - Tokens: the text lowercased (Python `str.lower`), every character outside `[a-z0-9]` a
///   separator, tokens longer than three characters Porter-stemmed (NLTK's stemmer, see
///   ``PorterStemmer``). Non-ASCII letters therefore vanish, as in the package.
/// - ROUGE-N: clipped n-gram overlap; precision over the prediction's n-grams, recall over the
///   reference's (each divided by max(count, 1)).
/// - ROUGE-L: longest common subsequence of the whole token lists.
/// - ROUGE-Lsum: summary-level LCS (Lin 2004 §3.2): texts split into sentences at `"\n"`, empty
///   sentences dropped; per reference sentence the union of its LCS index sets with every
///   prediction sentence, hits counted without double counting (ROUGE-1.5.5's rule).
/// - F = 2PR/(P+R), 0 when P+R = 0; every score is 0 when either side has no tokens.
public struct RougeScorer: Sendable {
    public var useStemmer: Bool
    private let stemmer = PorterStemmer()

    public init(useStemmer: Bool = true) { self.useStemmer = useStemmer }

    /// `rouge_score.tokenize.tokenize` (with the stemmer when ``useStemmer``).
    public func tokenize(_ text: String) -> [String] {
        tokenize(Array(text.unicodeScalars))
    }

    func tokenize(_ scalars: [Unicode.Scalar]) -> [String] {
        var tokens: [String] = []
        var cur: [UInt8] = []
        func flush() {
            guard !cur.isEmpty else { return }
            let t = String(decoding: cur, as: UTF8.self)
            tokens.append(useStemmer && cur.count > 3 ? stemmer.stem(t) : t)
            cur.removeAll(keepingCapacity: true)
        }
        for u in PythonScalars.lower(scalars) {
            let v = u.value
            if (v >= 0x61 && v <= 0x7A) || (v >= 0x30 && v <= 0x39) { cur.append(UInt8(v)) } else { flush() }
        }
        flush()
        return tokens.filter { !$0.isEmpty }
    }

    /// Every ROUGE type of `prediction` against `reference` (`RougeScorer.score(target, prediction)`).
    public func score(prediction: String, reference: String) -> [RougeType: RougeScore] {
        let p = tokenize(prediction), r = tokenize(reference)
        var out: [RougeType: RougeScore] = [:]
        out[.rouge1] = Self.rougeN(1, prediction: p, reference: r)
        out[.rouge2] = Self.rougeN(2, prediction: p, reference: r)
        out[.rougeL] = Self.rougeL(prediction: p, reference: r)
        out[.rougeLsum] = rougeLsum(prediction: prediction, reference: reference)
        return out
    }

    /// One ROUGE type (cheaper than ``score(prediction:reference:)`` when only one is needed).
    public func score(_ type: RougeType, prediction: String, reference: String) -> RougeScore {
        switch type {
        case .rouge1: return Self.rougeN(1, prediction: tokenize(prediction), reference: tokenize(reference))
        case .rouge2: return Self.rougeN(2, prediction: tokenize(prediction), reference: tokenize(reference))
        case .rougeL: return Self.rougeL(prediction: tokenize(prediction), reference: tokenize(reference))
        case .rougeLsum: return rougeLsum(prediction: prediction, reference: reference)
        }
    }

    /// The mean F-measure of each type over aligned lists (the official `rouge_metric` average).
    /// Empty lists give 0.
    public func meanF(predictions: [String], references: [String]) throws -> [RougeType: Double] {
        guard predictions.count == references.count else {
            throw TaskError.setting("ROUGE: \(predictions.count) predictions but \(references.count) references")
        }
        var sums: [RougeType: Double] = [:]
        for (p, r) in zip(predictions, references) {
            for (t, s) in score(prediction: p, reference: r) { sums[t, default: 0] += s.fmeasure }
        }
        let n = Double(max(predictions.count, 1))
        return Dictionary(uniqueKeysWithValues: RougeType.allCases.map { ($0, (sums[$0] ?? 0) / n) })
    }

    // MARK: - ROUGE-N

    static func rougeN(_ n: Int, prediction: [String], reference: [String]) -> RougeScore {
        let t = ngrams(reference, n), p = ngrams(prediction, n)
        var overlap = 0
        for (g, c) in t { overlap += min(c, p[g] ?? 0) }
        let tc = t.values.reduce(0, +), pc = p.values.reduce(0, +)
        return RougeScore(precision: Double(overlap) / Double(max(pc, 1)), recall: Double(overlap) / Double(max(tc, 1)))
    }

    private static func ngrams(_ tokens: [String], _ n: Int) -> [[String]: Int] {
        var c: [[String]: Int] = [:]
        guard n > 0, tokens.count >= n else { return c }
        for i in 0...(tokens.count - n) { c[Array(tokens[i..<(i + n)]), default: 0] += 1 }
        return c
    }

    // MARK: - ROUGE-L

    static func rougeL(prediction: [String], reference: [String]) -> RougeScore {
        guard !prediction.isEmpty, !reference.isEmpty else { return .zero }
        let lcs = lcsTable(reference, prediction).last!.last!
        return RougeScore(precision: Double(lcs) / Double(prediction.count), recall: Double(lcs) / Double(reference.count))
    }

    /// `_lcs_table(ref, can)`: `t[i][j]` = LCS length of `ref[..<i]` and `can[..<j]`.
    private static func lcsTable(_ ref: [String], _ can: [String]) -> [[Int]] {
        var t = [[Int]](repeating: [Int](repeating: 0, count: can.count + 1), count: ref.count + 1)
        if ref.isEmpty || can.isEmpty { return t }
        for i in 1...ref.count {
            for j in 1...can.count {
                t[i][j] = ref[i - 1] == can[j - 1] ? t[i - 1][j - 1] + 1 : max(t[i - 1][j], t[i][j - 1])
            }
        }
        return t
    }

    /// `lcs_ind` / `_backtrack_norec`: the indices into `ref` of one LCS, with the package's tie rule
    /// (move left in `can` only when that keeps a strictly longer LCS).
    private static func lcsIndices(_ ref: [String], _ can: [String]) -> [Int] {
        let t = lcsTable(ref, can)
        var i = ref.count, j = can.count
        var out: [Int] = []
        while i > 0 && j > 0 {
            if ref[i - 1] == can[j - 1] {
                out.append(i - 1); i -= 1; j -= 1
            } else if t[i][j - 1] > t[i - 1][j] {
                j -= 1
            } else {
                i -= 1
            }
        }
        return out.reversed()
    }

    // MARK: - ROUGE-Lsum

    /// Sentences at `"\n"` (code point, so `"\r\n"` leaves the `"\r"`), empty ones dropped, each tokenized.
    private func sentences(_ text: String) -> [[String]] {
        PythonScalars.split(Array(text.unicodeScalars), separator: ["\n"]).filter { !$0.isEmpty }.map { tokenize($0) }
    }

    func rougeLsum(prediction: String, reference: String) -> RougeScore {
        let refSents = sentences(reference), canSents = sentences(prediction)
        guard !refSents.isEmpty, !canSents.isEmpty else { return .zero }
        let m = refSents.reduce(0) { $0 + $1.count }, n = canSents.reduce(0) { $0 + $1.count }
        guard m > 0, n > 0 else { return .zero }
        var refCounts: [String: Int] = [:], canCounts: [String: Int] = [:]
        for s in refSents { for t in s { refCounts[t, default: 0] += 1 } }
        for s in canSents { for t in s { canCounts[t, default: 0] += 1 } }
        var hits = 0
        for r in refSents {
            var union = Set<Int>()
            for c in canSents { union.formUnion(Self.lcsIndices(r, c)) }
            for i in union.sorted() {
                let t = r[i]
                if let cc = canCounts[t], cc > 0, let rc = refCounts[t], rc > 0 {
                    hits += 1
                    canCounts[t] = cc - 1
                    refCounts[t] = rc - 1
                }
            }
        }
        return RougeScore(precision: Double(hits) / Double(n), recall: Double(hits) / Double(m))
    }
}
