import Foundation
import Testing
import GLMTasks

/// ROUGE and BLEU against the Python packages: numbers from Tools/metrics/make_rouge_bleu_fixtures.py
/// (rouge-score 0.1.2 with nltk's Porter stemmer, sacrebleu 2.6.0) on the committed pairs
/// (BIG-bench XSum lead sentences vs summaries, plus adversarial strings).
@Suite struct RougeBLEUTests {
    static let dir = TestFiles.fixtures.appendingPathComponent("metrics")

    struct Pair { let prediction: String; let reference: String }

    static let pairs: [Pair] = {
        let text = (try? String(contentsOf: dir.appendingPathComponent("pairs.jsonl"), encoding: .utf8)) ?? ""
        let lines = text.split(separator: "\n").map { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: String] }
        return lines.dropFirst().compactMap { $0.flatMap { d in d["prediction"].map { Pair(prediction: $0, reference: d["reference"]!) } } }
    }()

    nonisolated(unsafe) static let expected: [String: Any] = {
        guard let data = try? Data(contentsOf: dir.appendingPathComponent("expected.json")),
              let obj = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return [:] }
        return obj
    }()

    @Test func fixturesHoldOverAThousandPairs() {
        #expect(Self.pairs.count == Self.expected["pairs"] as? Int)
        #expect(Self.pairs.count >= 1000)
    }

    @Test func stemmerEqualsNLTK() {
        let stems = Self.expected["stems"] as! [String: String]
        #expect(stems.count > 5000)
        let s = PorterStemmer()
        var bad: [String] = []
        for (w, want) in stems where s.stem(w) != want { bad.append("\(w): \(s.stem(w)) ≠ \(want)") }
        #expect(bad.isEmpty, "\(bad.count) stems differ: \(bad.prefix(20))")
        // NLTK's irregular forms and extensions.
        #expect(s.stem("skies") == "sky" && s.stem("dying") == "die" && s.stem("news") == "news")
        #expect(s.stem("generously") == "gener" && s.stem("happiness") == "happi" && s.stem("ties") == "tie")
    }

    @Test func rougePerPairEqualsRougeScore() {
        let perPair = (Self.expected["rouge"] as! [String: Any])["per_pair"] as! [[String: [Double]]]
        #expect(perPair.count == Self.pairs.count)
        let stem = RougeScorer(useStemmer: true), plain = RougeScorer(useStemmer: false)
        var mismatches: [String] = []
        func check(_ i: Int, _ name: String, _ got: RougeScore, _ want: [Double]) {
            let g = want.count == 3 ? [got.precision, got.recall, got.fmeasure] : [got.fmeasure]
            if zip(g, want).contains(where: { abs($0 - $1) > 1e-12 }) { mismatches.append("pair \(i) \(name): \(g) ≠ \(want)") }
        }
        for (i, p) in Self.pairs.enumerated() {
            let s = stem.score(prediction: p.prediction, reference: p.reference)
            for t in RougeType.allCases { check(i, t.rawValue, s[t]!, perPair[i][t.rawValue]!) }
            check(i, "rouge1_nostem", plain.score(.rouge1, prediction: p.prediction, reference: p.reference), perPair[i]["rouge1_nostem"]!)
            check(i, "rougeL_nostem", plain.score(.rougeL, prediction: p.prediction, reference: p.reference), perPair[i]["rougeL_nostem"]!)
        }
        #expect(mismatches.isEmpty, "\(mismatches.count) differ: \(mismatches.prefix(10))")
    }

    @Test func rougeMeansEqualRougeScore() throws {
        let want = (Self.expected["rouge"] as! [String: Any])["mean_f"] as! [String: Double]
        let got = try RougeScorer().meanF(predictions: Self.pairs.map(\.prediction), references: Self.pairs.map(\.reference))
        for t in RougeType.allCases { #expect(abs(got[t]! - want[t.rawValue]!) < 1e-12, "\(t)") }
        #expect(throws: TaskError.self) { try RougeScorer().meanF(predictions: ["a"], references: []) }
    }

    @Test func rougeHandWorked() {
        let r = RougeScorer()
        // "the cat sat" vs "the cat ran": 2 of 3 unigrams, 1 of 2 bigrams, LCS 2.
        let s = r.score(prediction: "The cat sat", reference: "the cat ran!")
        #expect(abs(s[.rouge1]!.fmeasure - 2.0 / 3.0) < 1e-15 && s[.rouge2]!.fmeasure == 0.5)
        #expect(abs(s[.rougeL]!.fmeasure - 2.0 / 3.0) < 1e-15)
        // Empty sides score 0; non-ASCII letters are separators.
        #expect(r.score(prediction: "", reference: "a b")[.rouge1]!.fmeasure == 0)
        #expect(r.tokenize("İstanbul café K") == ["i", "stanbul", "caf", "k"])
    }

    @Test func bleu13aTokenizerEqualsSacreBLEU() {
        let want = (Self.expected["bleu"] as! [String: Any])["tokenized_13a"] as! [String: String]
        #expect(want.count > 50)
        for (k, w) in want {
            let i = Int(k)!
            #expect(SacreBLEU.tokenize13a(Self.pairs[i].prediction) == w, "pair \(i)")
        }
    }

    private func checkBLEU(_ got: BLEUScore, _ want: [String: Any], _ what: String) {
        #expect(abs(got.score - (want["score"] as! Double)) < 1e-9, "\(what) score \(got.score)")
        #expect(got.counts == want["counts"] as! [Int], "\(what) counts")
        #expect(got.totals == want["totals"] as! [Int], "\(what) totals")
        #expect(got.sysLen == want["sys_len"] as! Int && got.refLen == want["ref_len"] as! Int, "\(what) lengths")
        #expect(abs(got.bp - (want["bp"] as! Double)) < 1e-12, "\(what) bp")
        let wp = want["precisions"] as! [Double]
        #expect(zip(got.precisions, wp).allSatisfy { abs($0 - $1) < 1e-9 }, "\(what) precisions \(got.precisions) vs \(wp)")
    }

    @Test func corpusBLEUEqualsSacreBLEU() throws {
        let bleu = Self.expected["bleu"] as! [String: Any]
        let hyps = Self.pairs.map(\.prediction), refs = Self.pairs.map(\.reference)
        checkBLEU(try SacreBLEU.corpusBLEU(hypotheses: hyps, references: refs), bleu["corpus"] as! [String: Any], "corpus")
        for c in bleu["chunks"] as! [[String: Any]] {
            let a = c["start"] as! Int, b = c["end"] as! Int
            checkBLEU(try SacreBLEU.corpusBLEU(hypotheses: Array(hyps[a..<b]), references: Array(refs[a..<b])), c, "chunk \(a)")
        }
        checkBLEU(try SacreBLEU.corpusBLEU(hypotheses: Array(hyps[0..<200]), references: [Array(refs[0..<200]), Array(hyps[1..<201])]),
                  bleu["multi_reference"] as! [String: Any], "multi-reference")
        #expect(throws: TaskError.self) { try SacreBLEU.corpusBLEU(hypotheses: ["a", "b"], references: ["a"]) }
    }

    @Test func sentenceBLEUEqualsSacreBLEU() throws {
        let want = (Self.expected["bleu"] as! [String: Any])["sentence"] as! [Double]
        var bad: [String] = []
        for (i, p) in Self.pairs.enumerated() {
            let g = try SacreBLEU.sentenceBLEU(hypothesis: p.prediction, references: [p.reference]).score
            if abs(g - want[i]) > 1e-9 { bad.append("\(i): \(g) ≠ \(want[i])") }
        }
        #expect(bad.isEmpty, "\(bad.prefix(10))")
        // Identical four-word sentences: 100.
        #expect(abs(try SacreBLEU.sentenceBLEU(hypothesis: "a b c d", references: ["a b c d"]).score - 100) < 1e-12)
    }

    @Test func officialSummaryRougeEqualsOfficialCode() throws {
        let o = Self.expected["official_rouge"] as! [String: Any]
        let preds = o["predictions"] as! [String], refs = o["references"] as! [String]
        let sets = o["datasets"] as! [String: [String: Any]]
        for mode in SummaryRouge.Mode.allCases {
            let want = sets[mode.rawValue]!
            let r = SummaryRouge(mode: mode)
            if let pp = want["processed_predictions"] as? [String], let pr = want["processed_references"] as? [String] {
                for i in preds.indices {
                    #expect(r.processPrediction(preds[i]) == pp[i], "\(mode) prediction \(i)")
                    #expect(r.processReference(refs[i]) == pr[i], "\(mode) reference \(i)")
                }
            }
            let got = try r.score(predictions: preds, references: refs)
            #expect(abs(got[.rouge1]! - (want["rouge-1"] as! Double)) < 1e-12, "\(mode) rouge-1")
            #expect(abs(got[.rouge2]! - (want["rouge-2"] as! Double)) < 1e-12, "\(mode) rouge-2")
            #expect(abs(got[.rougeLsum]! - (want["rouge-l"] as! Double)) < 1e-12, "\(mode) rouge-l")
        }
        #expect(SummaryRouge.Mode.official(bertTokenizer: true, task: "gigaword") == .cnnDM)
        #expect(SummaryRouge.Mode.official(bertTokenizer: false, task: "gigaword") == .gigaword)
        #expect(SummaryRouge.Mode.official(bertTokenizer: false, task: "xsum") == .cnnDMOriginal)
    }
}
