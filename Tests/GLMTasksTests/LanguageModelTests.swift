import Foundation
import Testing
import GLM
import GLMTokenizers
import GLMTasks

/// The made-up command ids of the reference fixtures: pad = eos = 0, [CLS] 1, [MASK] 2, sop 3, eop 4.
let fixtureCommands = CommandTokens(pad: 0, eos: 0, cls: 1, sep: 5, mask: 2, unk: 6, sop: 3, eop: 4)

private func arrays(_ s: EncodedSample) -> [String: [Int]] {
    ["input_ids": s.tokens, "positions": s.positions, "blocks": s.blockPositions, "target_ids": s.targets, "loss_mask": s.lossMask]
}

private func arrays(_ d: [String: Any]) -> [String: [Int]] {
    let p = d["position_ids"] as! [[Int]]
    return ["input_ids": d["input_ids"] as! [Int], "positions": p[0], "blocks": p[1],
            "target_ids": d["target_ids"] as! [Int], "loss_mask": d["loss_mask"] as! [Int]]
}

@Suite struct LambadaTests {
    nonisolated(unsafe) static let fixture = (try? TestFiles.json("lm-scores-tiny.json")) ?? [:]

    /// Every official `LambadaDataset` sample (bidirectional, unidirectional, left-truncated, empty
    /// context), field by field after the official padding.
    @Test func layoutsEqualOfficial() throws {
        for c in Self.fixture["lambada"] as! [[String: Any]] {
            let l = try Lambada(commands: fixtureCommands, maskId: 2, seqLength: c["seq_length"] as! Int,
                                unidirectional: c["unidirectional"] as! Bool)
            let s = try l.sample(context: c["context"] as! [Int], target: c["target"] as! [Int])
            let want = c["sample"] as! [String: Any]
            #expect(arrays(s.padded(to: l.seqLength, with: 0)) == arrays(want), "\(c["name"]!)")
            #expect(s.sep == want["sep"] as! Int, "\(c["name"]!)")
        }
    }

    /// Hand-worked: `[CLS] 10 11 12 [MASK] [eos] | [sop] 20` → targets 20 21; unidirectional
    /// `[CLS] 10 [MASK] [eos] | [sop] 11 12 20` with the loss on the last two.
    @Test func layoutsByHand() throws {
        let bi = try Lambada(commands: fixtureCommands, maskId: 2, seqLength: 16).sample(context: [10, 11, 12], target: [20, 21])
        #expect(bi.tokens == [1, 10, 11, 12, 2, 0, 3, 20] && bi.targets == [0, 0, 0, 0, 0, 0, 20, 21])
        #expect(bi.lossMask == [0, 0, 0, 0, 0, 0, 1, 1] && bi.positions == [0, 1, 2, 3, 4, 5, 4, 4] && bi.blockPositions == [0, 0, 0, 0, 0, 0, 1, 2])
        let uni = try Lambada(commands: fixtureCommands, maskId: 2, seqLength: 16, unidirectional: true)
            .sample(context: [10, 11, 12], target: [20, 21])
        #expect(uni.tokens == [1, 10, 2, 0, 3, 11, 12, 20] && uni.targets == [0, 0, 0, 0, 11, 12, 20, 21])
        #expect(uni.lossMask == [0, 0, 0, 0, 0, 0, 1, 1] && uni.positions == [0, 1, 2, 3, 2, 2, 2, 2] && uni.sep == 4)
        // Left truncation keeps the end of the context: seq 7 drops one token.
        let cut = try Lambada(commands: fixtureCommands, maskId: 2, seqLength: 7).sample(context: [10, 11, 12], target: [20, 21])
        #expect(cut.tokens == [1, 11, 12, 2, 0, 3, 20])
        // Unidirectional and too long: the mask would be cut off, which is an error.
        #expect(throws: TaskError.self) {
            try Lambada(commands: fixtureCommands, maskId: 2, seqLength: 6, unidirectional: true).sample(context: [10, 11, 12], target: [20, 21])
        }
        let rec = bi.record
        #expect(rec["input_ids"] as? [Int] == bi.tokens && (rec["position_ids"] as? [[Int]])?.count == 2 && rec["sep"] as? Int == 6)
    }

    /// Scores against the PyTorch reference: loss sums and the all-argmax verdict (two examples are
    /// the model's own continuation, so both verdicts occur); samples of different lengths batched.
    @Test func scoresEqualReference() throws {
        let model = try TestFiles.model("model-tiny")
        let cases = Self.fixture["lambada"] as! [[String: Any]]
        let samples = try cases.map {
            try Lambada(commands: fixtureCommands, maskId: 2, seqLength: $0["seq_length"] as! Int, unidirectional: $0["unidirectional"] as! Bool)
                .sample(context: $0["context"] as! [Int], target: $0["target"] as! [Int])
        }
        for bs in [1, 3, 16] {
            let got = try LanguageModelScoring.score(model: model, samples: samples, batchSize: bs)
            for (g, c) in zip(got, cases) {
                #expect((c["min_margin"] as! Double) > 1e-2)
                #expect(g.allCorrect == c["all_correct"] as! Bool, "\(c["name"]!)")
                let w = c["loss_sum"] as! Double
                #expect(abs(g.lossSum - w) <= 1e-5 * max(1, abs(w)), "\(c["name"]!): \(g.lossSum) vs \(w)")
                #expect(g.tokens == c["tokens"] as! Int)
            }
        }
        let acc = try LanguageModelScoring.lambada(model: model, samples: samples)
        #expect(acc.correct == 2 && acc.examples == 7 && abs(acc.accuracy - 2.0 / 7.0) < 1e-15)
    }

    @Test func textLevel() throws {
        let tok = try TestFiles.bert()
        func ids(_ s: String) -> [Int] { s.split(separator: " ").map { tok.text.id(for: String($0))! } }
        let l = try Lambada(tokenizer: tok, seqLength: 32)
        let (c, t) = try l.tokens("  The mat sat on the mat.  ")
        #expect(c == ids("the mat sat on the") && t == ids("mat ."))
        let s = try l.officialSample("He saw a cat")
        #expect(s.tokens.count == 32 && Array(s.tokens.prefix(7)) == [101] + ids("he saw a") + [103, 0, tok.commands.sop])
        #expect(throws: TaskError.self) { try Lambada(tokenizer: tok, taskMask: true) }   // BERT has no [gMASK]
        #expect(try Lambada(tokenizer: try TestFiles.gpt2(), taskMask: true).maskId == 50263)
        let d = try TestFiles.tempDir(), f = d.appendingPathComponent("lambada.jsonl")
        try TestFiles.write("{\"text\": \"a b c\"}\n{\"text\": \"d e\"}\n", f)
        #expect(try Lambada.texts(f).map(\.text) == ["a b c", "d e"])
        try TestFiles.write("{\"text\": \"a b c\"}\n{\"txt\": \"d e\"}\n", f)
        #expect(throws: TaskError.self) { try Lambada.texts(f) }
        try TestFiles.write("{\"text\": \"  \"}\n", f)
        #expect(throws: TaskError.self) { try Lambada.texts(f) }
    }
}

@Suite struct PerplexityTests {
    /// Every official `LMDataset` window, field by field (padded), and the reference's loss sums.
    @Test func windowsAndLossesEqualReference() throws {
        let model = try TestFiles.model("model-tiny")
        for c in LambadaTests.fixture["perplexity"] as! [[String: Any]] {
            let what = "seq \(c["seq_length"]!) overlap \(c["overlap"]!) uni \(c["unidirectional"]!)"
            let p = try Perplexity(commands: fixtureCommands, maskId: 2, seqLength: c["seq_length"] as! Int,
                                   overlap: c["overlap"] as! Int, unidirectional: c["unidirectional"] as! Bool)
            let ws = try p.windows(document: c["document"] as! [Int])
            let want = c["windows"] as! [[String: Any]]
            #expect(ws.count == want.count, "\(what)")
            for (w, x) in zip(ws, want) {
                #expect(arrays(w.padded(to: p.paddedLength, with: 0)) == arrays(x), "\(what)")
                #expect(w.sep == x["sep"] as! Int)
            }
            let got = try LanguageModelScoring.score(model: model, samples: ws, batchSize: 4)
            let wl = c["window_loss_sums"] as! [Double], wt = c["window_tokens"] as! [Int]
            for i in got.indices {
                #expect(abs(got[i].lossSum - wl[i]) <= 1e-5 * max(1, wl[i]), "\(what) window \(i)")
                #expect(got[i].tokens == wt[i])
            }
        }
    }

    /// 10 tokens, seq 6 (windows of 5), overlap 2: four windows scoring 4 + 2 + 2 + 1 = N − 1 tokens.
    @Test func windowsByHand() throws {
        let doc = Array(10..<20)
        let p = try Perplexity(commands: fixtureCommands, maskId: 2, seqLength: 6, overlap: 2)
        #expect(p.windowCount(documentLength: 10) == 4 && p.windowCount(documentLength: 3) == 1 && p.windowCount(documentLength: 0) == 1)
        let w = try p.windows(document: doc)
        #expect(w.map(\.tokens) == [[1, 10, 2, 3, 11, 12, 13], [1, 12, 13, 14, 2, 3, 15], [1, 14, 15, 16, 2, 3, 17], [1, 16, 17, 18, 2, 3]])
        #expect(w[0].targets == [0, 0, 0, 11, 12, 13, 14] && w[0].positions == [0, 1, 2, 2, 2, 2, 2] && w[0].blockPositions == [0, 0, 0, 1, 2, 3, 4])
        #expect(w[1].targets == [0, 0, 0, 0, 0, 15, 16] && w[1].positions == [0, 1, 2, 3, 4, 4, 4] && w[1].sep == 5)
        #expect(w[3].targets == [0, 0, 0, 0, 0, 19] && w[3].lossMask == [0, 0, 0, 0, 0, 1])
        #expect(w.map { $0.lossMask.reduce(0, +) } == [4, 2, 2, 1])
        // Unidirectional: every window's Part A is its first token; only the last `overlap` padded positions count.
        let u = try Perplexity(commands: fixtureCommands, maskId: 2, seqLength: 6, overlap: 2, unidirectional: true).windows(document: doc)
        #expect(u[1].tokens == [1, 12, 2, 3, 13, 14, 15] && u[1].lossMask == [0, 0, 0, 0, 0, 1, 1])
        #expect(u[3].tokens == [1, 16, 2, 3, 17, 18] && u[3].lossMask == [0, 0, 0, 0, 0, 1])
        #expect(u.map { $0.lossMask.reduce(0, +) } == [4, 2, 2, 1])
        // One token: nothing to score.
        #expect(try p.windows(document: [10]).isEmpty)
        #expect(throws: TaskError.self) { try Perplexity(commands: fixtureCommands, maskId: 2, seqLength: 6, overlap: 6) }
    }

    @Test func officialScoreFormulas() throws {
        let s = try Perplexity.scores(lossSum: 30, tokens: 11, words: 6)
        #expect(s.averageLoss == 3 && abs(s.ppl - exp(3)) < 1e-12 && abs(s.adjustedPpl - exp(6)) < 1e-9)
        let big = try Perplexity.scores(lossSum: 1000, tokens: 11, words: 6)
        #expect(big.ppl == exp(20) && big.adjustedPpl == exp(20))   // the official min(20, ·)
        #expect(throws: TaskError.self) { try Perplexity.scores(lossSum: 1, tokens: 1, words: 5) }
    }

    @Test func corpusModes() throws {
        let tok = try TestFiles.bert()
        let p = try Perplexity(tokenizer: tok, seqLength: 16, overlap: 4)
        let d = try TestFiles.tempDir(), f = d.appendingPathComponent("text.txt")
        try TestFiles.write("Hello  world.\n\n  The end \r\n", f)
        let lines = try p.corpus(f, mode: .lines)
        #expect(lines.documents == [tok.encode("Hello  world."), tok.encode("The end")])
        #expect(lines.tokens == 5 && lines.words == 5)       // "Hello", "", "world." by single spaces; blank line skipped
        let whole = try p.corpus(f, mode: .whole)
        #expect(whole.documents.count == 1 && whole.tokens == 5)
        #expect(whole.words == 6)    // "Hello  world.\n\n  The end".split(" ") = Hello, "", "world.\n\n", "", The, end
        // wikitext: detokenised before encoding, words counted on the raw text.
        try TestFiles.write(" = Title = \n The game 's 1 @,@ 000 units . \n", f)
        let wt = try p.corpus(f, mode: .wikitext)
        #expect(wt.documents == [tok.encode(WikitextDetokenizer.detokenize(" = Title = \n The game 's 1 @,@ 000 units . \n"))])
        #expect(wt.words == 12)
    }

    @Test func wikitextDetokenizerEqualsOfficial() throws {
        let cases = try JSONSerialization.jsonObject(with: Data(contentsOf: TestFiles.fixtures.appendingPathComponent("wikitext-detok.json"))) as! [[String: String]]
        for c in cases { #expect(WikitextDetokenizer.detokenize(c["input"]!) == c["output"]!, "\(c["input"]!.prefix(40))") }
    }
}

@Suite struct InputRecordTests {
    @Test func recordsAreJSONAndOfficiallyPadded() throws {
        let tok = try TestFiles.bert()
        let lam = try InputRecords.lambada(try Lambada(tokenizer: tok, seqLength: 24), texts: [("He saw a cat", "x:1")])
        #expect((lam[0]["input_ids"] as! [Int]).count == 24 && lam[0]["target"] as? String == "cat")
        #expect(Set(lam[0].keys).isSuperset(of: ["input_ids", "position_ids", "sep", "target_ids", "loss_mask", "text"]))
        let p = try Perplexity(tokenizer: tok, seqLength: 6, overlap: 2)
        let corpus = Perplexity.Corpus(documents: [Array(1000..<1010)], tokens: 10, words: 10)
        let recs = try InputRecords.perplexity(p, corpus: corpus)
        #expect(recs.count == 5 && recs[0]["windows"] as? Int == 4 && recs.dropFirst().allSatisfy { ($0["input_ids"] as! [Int]).count == 7 })
        let enc = try Seq2SeqEncoder(tokenizer: tok, task: .xsum, sourceLength: 10, targetLength: 4)
        let s2s = try InputRecords.seq2seq(enc, examples: [Seq2SeqExample(id: "t-0", source: "A b.", target: "C!")], training: true)
        #expect((s2s[0]["input_ids"] as! [Int]).count == 14 && s2s[0]["reference"] as? String == "c!")
        for r in lam + recs + s2s { #expect(JSONSerialization.isValidJSONObject(r)) }
    }
}
