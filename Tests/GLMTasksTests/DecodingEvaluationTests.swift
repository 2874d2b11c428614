import Foundation
import Testing
import GLM
import GLMTokenizers
import GLMTasks

/// The decoding evaluation on the one decoder against transcriptions of the official evaluators run
/// on the PyTorch reference (`Tools/reference/make_decoding_fixtures.py` → `decoding.json`):
/// seq2seq beam search (`DecoderEvaluater` with the HF-style `BeamSearchScorer`) and blank
/// infilling (`BlankLMEvaluater`'s greedy stream), on the counting and random tiny models.
@Suite struct DecodingEvaluationTests {
    static let tokens = BlankFillingTokens(sop: 3, eop: 4, eos: 0, masks: [2])
    static let commands = CommandTokens(pad: 0, eos: 0, cls: 1, sep: 5, mask: 2, unk: 6, sop: 3, eop: 4)

    static func cases(_ kind: String) throws -> [[String: Any]] { try TestFiles.json("decoding.json")[kind] as! [[String: Any]] }

    static func seq2seqConfig(_ c: [String: Any]) -> GenerationConfig {
        var s = Seq2SeqTask.cnnDM.settings
        s.numBeams = c["beams"] as! Int
        s.lengthPenalty = c["length_penalty"] as! Double
        s.minTargetLength = c["min_len"] as! Int
        s.noRepeatNgramSize = c["ngram"] as! Int
        s.targetLength = c["max_len"] as! Int
        return Seq2SeqTask.cnnDM.generationConfig(s)
    }

    static func blankConfig(_ c: [String: Any]) -> GenerationConfig {
        var s = Seq2SeqTask.blank.settings
        s.minTargetLength = c["min_len"] as! Int
        s.noRepeatNgramSize = c["ngram"] as! Int
        s.targetLength = c["max_len"] as! Int
        return Seq2SeqTask.blank.generationConfig(s)
    }

    @Test func theTaskSettingsAreTheOfficialDecoding() {
        let cnn = Seq2SeqTask.cnnDM.generationConfig(Seq2SeqTask.cnnDM.settings)
        #expect(cnn.usesBeamSearch && cnn.numBeams == 5 && cnn.lengthPenalty == 0.7 && cnn.noRepeatNgram == 3)
        #expect(cnn.minNewTokens == 55 && cnn.maxNewTokens == 160 && !cnn.stopAtEos && !cnn.earlyStopping && !cnn.blanksAsOneStream)
        // One beam is still a beam search (the official BeamSearchScorer with num_beams 1).
        var one = Seq2SeqTask.gigaword.settings
        one.numBeams = 1
        #expect(Seq2SeqTask.gigaword.generationConfig(one).usesBeamSearch)
        let blank = Seq2SeqTask.blank.generationConfig(Seq2SeqTask.blank.settings)
        #expect(blank.greedy && blank.blanksAsOneStream && !blank.usesBeamSearch && !blank.stopAtEos)
        #expect(blank.maxNewTokens == 200 && blank.noRepeatNgram == 3 && blank.minNewTokens == 0)
    }

    /// Beam search per example equals the official evaluator's, whether the examples decode together
    /// or one at a time: hypothesis, score, and the prediction ids (eop and pad dropped).
    @Test func seq2seqBeamSearchEqualsTheOfficialEvaluator() throws {
        var checked = 0
        for c in try Self.cases("seq2seq") {
            let m = try TestFiles.model(c["model"] as! String)
            let sources = c["sources"] as! [[Int]]
            let expected = c["expected"] as! [[String: Any]]
            let cfg = Self.seq2seqConfig(c)
            #expect((c["min_gap"] as! Double) > 1e-3)
            for batch in [sources.count, 1] {
                let fills = try Seq2SeqEvaluator.decode(model: m, contexts: sources, maskPositions: sources.map { $0.firstIndex(of: 2)! },
                                                        tokens: Self.tokens, config: cfg, batchSize: batch)
                for (i, (f, want)) in zip(fills, expected).enumerated() {
                    let label = "\(c["model"]!) \(sources[i]) batch \(batch)"
                    #expect(f.tokens == want["tokens"] as! [Int], "\(label)")
                    #expect(f.tokens.filter { $0 != 4 && $0 != 0 } == want["prediction_ids"] as! [Int], "\(label)")
                    #expect(abs(f.score! - (want["score"] as! Double)) < 1e-4, "\(label) score \(f.score!)")
                    checked += 1
                }
            }
        }
        #expect(checked == 16)
    }

    /// Greedy fills as one stream per text equal the official evaluator's: the assembled output ids,
    /// and the stream itself (the official one without eop and pad, trailing sops aside).
    @Test func blankInfillingEqualsTheOfficialEvaluator() throws {
        var checked = 0
        for c in try Self.cases("blank") {
            let m = try TestFiles.model(c["model"] as! String)
            let sources = c["sources"] as! [[Int]]
            let expected = c["expected"] as! [[String: Any]]
            #expect((c["min_gap"] as! Double) > 1e-3)
            for batch in [sources.count, 1] {
                let streams = try BlankInfillingEvaluator.decode(model: m, contexts: sources, tokens: Self.tokens,
                                                                 config: Self.blankConfig(c), batchSize: batch)
                for (i, (s, want)) in zip(streams, expected).enumerated() {
                    let label = "\(c["model"]!) \(sources[i]) max \(c["max_len"]!) batch \(batch)"
                    let out = BlankInfilling.assemble(evaluationTokens: sources[i] + [3], generated: s, commands: Self.commands, maskId: 2)
                    #expect(out == want["output_ids"] as! [Int], "\(label)")
                    func trimmed(_ x: [Int]) -> [Int] {
                        var y = x.filter { $0 != 4 && $0 != 0 }
                        while y.last == 3 { y.removeLast() }
                        return y
                    }
                    #expect(trimmed(s) == trimmed(want["stream"] as! [Int]), "\(label) stream \(s)")
                    checked += 1
                }
            }
        }
        #expect(checked == 12)
    }

    /// The budget is the stream's: fills, plus the sop before each later blank.
    @Test func aSpentBudgetLeavesTheLaterBlanksEmpty() throws {
        let m = try TestFiles.model("model-counting")
        let ctx = [1, 40, 41, 2, 44, 45, 2, 48, 49, 2, 52, 0, 0, 0]   // a fixture source (Part A padded to 14)
        var cfg = Self.blankConfig(["min_len": 0, "ngram": 3, "max_len": 4])
        var fills = try BlankFiller(model: m).fill(context: ctx, tokens: Self.tokens, config: cfg).fills
        #expect(fills.map(\.tokens) == [[42], [46], []])
        #expect(fills[2].stop == "length")
        cfg.maxNewTokens = 5
        fills = try BlankFiller(model: m).fill(context: ctx, tokens: Self.tokens, config: cfg).fills
        #expect(fills.map(\.tokens) == [[42], [46], [49]])
        #expect(fills.map(\.stop) == ["eop", "eop", "length"])
    }

    @Test func oneStreamIsNotABeamSearch() {
        var cfg = GenerationConfig()
        cfg.blanksAsOneStream = true
        cfg.numBeams = 3
        #expect(throws: GLMError.self) { try cfg.validate() }
    }

    /// Only the named blank is decoded: a second mask id in the source is ordinary context, as the
    /// official evaluator decodes at `text.index(mask)` alone.
    @Test func onlyTheLayoutsMaskIsDecoded() throws {
        let m = try TestFiles.model("model-counting")
        let src = [1, 2, 40, 41, 2, 43, 0, 0]
        var cfg = GenerationConfig()
        cfg.greedy = true
        cfg.maxNewTokens = 3
        let one = try Seq2SeqEvaluator.decode(model: m, contexts: [src], maskPositions: [1], tokens: Self.tokens, config: cfg, batchSize: 1)
        let all = try BlankFiller(model: m).fill(context: src, tokens: Self.tokens, config: cfg).fills
        #expect(all.count == 2 && one.count == 1)
        #expect(one[0].tokens == all[0].tokens && one[0].maskPosition == 1)
        #expect(throws: GLMError.self) {
            try Seq2SeqEvaluator.decode(model: m, contexts: [src], maskPositions: [2], tokens: Self.tokens, config: cfg, batchSize: 1)
        }
    }
}
