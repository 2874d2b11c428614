import Foundation

/// A BLEU result with sacrebleu's fields (`sacrebleu.metrics.bleu.BLEUScore`).
public struct BLEUScore: Sendable, Equatable, Codable {
    /// BLEU × 100.
    public var score: Double
    /// Matched n-grams for n = 1…4 (clipped by the references).
    public var counts: [Int]
    /// Hypothesis n-grams for n = 1…4.
    public var totals: [Int]
    /// Smoothed precisions × 100.
    public var precisions: [Double]
    /// Brevity penalty.
    public var bp: Double
    /// Hypothesis and closest-reference lengths in 13a tokens, summed over the corpus.
    public var sysLen: Int
    public var refLen: Int
}

/// BLEU exactly as sacrebleu 2.x computes it with its defaults (`BLEU()`: 13a tokenizer, mixed
/// case, `exp` smoothing, max order 4): the corpus BLEU of the contract, and sacrebleu's
/// `sentence_bleu` (effective order on).
public enum SacreBLEU {
    public static let maxOrder = 4

    // MARK: - 13a tokenizer

    /// `Tokenizer13a` (mteval-v13a): `<skipped>`, `-\n` and newlines, the four HTML entities, then
    /// `TokenizerRegexp`: punctuation split off, `.`/`,` split unless between digits, `-` after a
    /// digit split, whitespace collapsed (Python `str.split()`). The input is first right-stripped
    /// (`BLEU._preprocess_segment`).
    public static func tokenize13a(_ line: String) -> String {
        CodePoints(Array(tokens13a(Array(line.unicodeScalars)).joined(separator: [" "]))).string
    }

    static func tokens13a(_ input: [Unicode.Scalar]) -> [[Unicode.Scalar]] {
        var s = PythonScalars.rstrip(input)
        s = PythonScalars.replace(s, "<skipped>", "")
        s = PythonScalars.replace(s, "-\n", "")
        s = PythonScalars.replace(s, "\n", " ")
        if s.contains("&") {
            s = PythonScalars.replace(s, "&quot;", "\"")
            s = PythonScalars.replace(s, "&amp;", "&")
            s = PythonScalars.replace(s, "&lt;", "<")
            s = PythonScalars.replace(s, "&gt;", ">")
        }
        s = [" "] + s + [" "]
        // ([\{-\~\[-\` -\&\(-\+\:-\@\/]) → ' \1 '
        var a: [Unicode.Scalar] = []
        a.reserveCapacity(s.count * 2)
        for u in s {
            if isSplitPunctuation(u) { a.append(" "); a.append(u); a.append(" ") } else { a.append(u) }
        }
        // ([^0-9])([\.,]) → '\1 \2 '
        a = substitutePairs(a, { !isASCIIDigit($0) }, { $0 == "." || $0 == "," }) { [$0, " ", $1, " "] }
        // ([\.,])([^0-9]) → ' \1 \2'
        a = substitutePairs(a, { $0 == "." || $0 == "," }, { !isASCIIDigit($0) }) { [" ", $0, " ", $1] }
        // ([0-9])(-) → '\1 \2 '
        a = substitutePairs(a, isASCIIDigit, { $0 == "-" }) { [$0, " ", $1, " "] }
        return PythonScalars.split(a)
    }

    private static func isASCIIDigit(_ u: Unicode.Scalar) -> Bool { u.value >= 0x30 && u.value <= 0x39 }

    /// The first regex's class: `{`–`~`, `[`–`` ` ``, space–`&`, `(`–`+`, `:`–`@`, `/`.
    private static func isSplitPunctuation(_ u: Unicode.Scalar) -> Bool {
        let v = u.value
        return (0x7B...0x7E).contains(v) || (0x5B...0x60).contains(v) || (0x20...0x26).contains(v)
            || (0x28...0x2B).contains(v) || (0x3A...0x40).contains(v) || v == 0x2F
    }

    /// `re.sub` of a two-character pattern: non-overlapping matches, scanning left to right.
    private static func substitutePairs(_ s: [Unicode.Scalar], _ first: (Unicode.Scalar) -> Bool,
                                        _ second: (Unicode.Scalar) -> Bool,
                                        _ replace: (Unicode.Scalar, Unicode.Scalar) -> [Unicode.Scalar]) -> [Unicode.Scalar] {
        var out: [Unicode.Scalar] = []
        out.reserveCapacity(s.count + s.count / 4)
        var i = 0
        while i < s.count {
            if i + 1 < s.count && first(s[i]) && second(s[i + 1]) {
                out.append(contentsOf: replace(s[i], s[i + 1]))
                i += 2
            } else {
                out.append(s[i])
                i += 1
            }
        }
        return out
    }

    // MARK: - Statistics

    /// Per-segment sufficient statistics: `[hyp_len, ref_len, correct₁…₄, total₁…₄]`.
    struct SegmentStats {
        var hypLen = 0, refLen = 0
        var correct = [Int](repeating: 0, count: maxOrder), total = [Int](repeating: 0, count: maxOrder)
    }

    /// Interns 13a tokens as ids so n-grams compare code point by code point, as Python tuples do.
    private struct Interner {
        var ids: [CodePoints: Int] = [:]
        mutating func id(_ t: [Unicode.Scalar]) -> Int {
            let k = CodePoints(t)
            if let i = ids[k] { return i }
            ids[k] = ids.count
            return ids.count - 1
        }
    }

    private static func ngrams(_ tokens: [Int]) -> [[Int]: Int] {
        var c: [[Int]: Int] = [:]
        for n in 1...maxOrder where tokens.count >= n {
            for i in 0...(tokens.count - n) { c[Array(tokens[i..<(i + n)]), default: 0] += 1 }
        }
        return c
    }

    private static func segmentStats(hypothesis: [Int], references: [[Int]]) -> SegmentStats {
        // _extract_reference_info: per n-gram the max count over the references.
        var refNgrams: [[Int]: Int] = [:]
        for r in references { for (g, c) in ngrams(r) { refNgrams[g] = max(refNgrams[g] ?? 0, c) } }
        var st = SegmentStats()
        st.hypLen = hypothesis.count
        // _get_closest_ref_len: smallest |hyp − ref|, ties to the shorter reference.
        var closestDiff = -1, closest = -1
        for r in references {
            let d = abs(hypothesis.count - r.count)
            if closestDiff == -1 || d < closestDiff { closestDiff = d; closest = r.count }
            else if d == closestDiff && r.count < closest { closest = r.count }
        }
        st.refLen = closest
        for (g, c) in ngrams(hypothesis) {
            st.total[g.count - 1] += c
            if let rc = refNgrams[g] { st.correct[g.count - 1] += min(c, rc) }
        }
        return st
    }

    /// `BLEU.compute_bleu` with `exp` smoothing (no value) from summed statistics.
    static func compute(_ st: SegmentStats, effectiveOrder: Bool) -> BLEUScore {
        var bp = 1.0
        if st.hypLen < st.refLen { bp = st.hypLen > 0 ? exp(1 - Double(st.refLen) / Double(st.hypLen)) : 0 }
        var precisions = [Double](repeating: 0, count: maxOrder)
        if !st.correct.contains(where: { $0 != 0 }) {
            return BLEUScore(score: 0, counts: st.correct, totals: st.total, precisions: precisions, bp: bp,
                             sysLen: st.hypLen, refLen: st.refLen)
        }
        var smooth = 1.0
        var effOrder = maxOrder
        for n in 1...maxOrder {
            if st.total[n - 1] == 0 { break }
            if effectiveOrder { effOrder = n }
            if st.correct[n - 1] == 0 {
                smooth *= 2
                precisions[n - 1] = 100 / (smooth * Double(st.total[n - 1]))
            } else {
                precisions[n - 1] = 100 * Double(st.correct[n - 1]) / Double(st.total[n - 1])
            }
        }
        // utils.my_log: log(0) floored at -9999999999.
        var logSum = 0.0
        for p in precisions[..<effOrder] { logSum += p == 0 ? -9_999_999_999 : log(p) }
        let score = bp * exp(logSum / Double(effOrder))
        return BLEUScore(score: score, counts: st.correct, totals: st.total, precisions: precisions, bp: bp,
                         sysLen: st.hypLen, refLen: st.refLen)
    }

    // MARK: - Public scores

    /// `sacrebleu.corpus_bleu(hypotheses, references)`. `references` is sacrebleu's layout: a list
    /// of reference *streams*, `references[k][i]` the k-th reference of segment i; every stream must
    /// have one line per hypothesis.
    public static func corpusBLEU(hypotheses: [String], references: [[String]]) throws -> BLEUScore {
        guard !references.isEmpty else { throw TaskError.setting("BLEU: no reference stream") }
        for (k, r) in references.enumerated() where r.count != hypotheses.count {
            throw TaskError.setting("BLEU: reference stream \(k + 1) has \(r.count) lines for \(hypotheses.count) hypotheses")
        }
        var interner = Interner()
        var sum = SegmentStats()
        for i in hypotheses.indices {
            let refs = references.map { $0[i] }.map { tokens13a(Array($0.unicodeScalars)).map { interner.id($0) } }
            let hyp = tokens13a(Array(hypotheses[i].unicodeScalars)).map { interner.id($0) }
            let st = segmentStats(hypothesis: hyp, references: refs)
            sum.hypLen += st.hypLen
            sum.refLen += st.refLen
            for n in 0..<maxOrder { sum.correct[n] += st.correct[n]; sum.total[n] += st.total[n] }
        }
        return compute(sum, effectiveOrder: false)
    }

    /// Corpus BLEU with one reference per hypothesis.
    public static func corpusBLEU(hypotheses: [String], references: [String]) throws -> BLEUScore {
        try corpusBLEU(hypotheses: hypotheses, references: [references])
    }

    /// `sacrebleu.sentence_bleu(hypothesis, references)` (13a, exp smoothing, effective order).
    public static func sentenceBLEU(hypothesis: String, references: [String]) throws -> BLEUScore {
        guard !references.isEmpty else { throw TaskError.setting("BLEU: no reference for the hypothesis") }
        var interner = Interner()
        let refs = references.map { tokens13a(Array($0.unicodeScalars)).map { interner.id($0) } }
        let hyp = tokens13a(Array(hypothesis.unicodeScalars)).map { interner.id($0) }
        return compute(segmentStats(hypothesis: hyp, references: refs), effectiveOrder: true)
    }
}
