import Foundation
import Testing
import GLMTokenizers
import GLMTasks

@Suite struct BlankInfillingTests {
    /// `mask_text` with `random.Random(1234)` over the same texts in turn, as the official dataset
    /// calls it (Tools/reference/make_task_fixtures.py).
    @Test func maskingEqualsOfficialMaskText() throws {
        let obj = try TestFiles.json("blank-masks.json")
        let texts = obj["texts"] as! [String]
        let ratios = obj["ratios"] as! [String: [String: Any]]
        #expect(ratios.count == 5)
        for (r, want) in ratios {
            var rng = PythonRandom(seed: UInt64(obj["seed"] as! Int))
            let ws = want["sources"] as! [String], wt = want["targets"] as! [[String]]
            for (i, t) in texts.enumerated() {
                let (s, tg) = BlankInfilling.mask(t, ratio: Double(r)!, rng: &rng)
                #expect(s == ws[i], "ratio \(r) text \(i) source")
                #expect(tg == wt[i], "ratio \(r) text \(i) targets")
            }
        }
    }

    @Test func maskingByHand() {
        // Consecutive masked words share one [MASK] and one target.
        var rng = PythonRandom(seed: 1)
        let (s, t) = BlankInfilling.mask("a b c d e f g h i j", ratio: 0.5, rng: &rng)
        let words = s.split(separator: " ")
        #expect(words.filter { $0 == "[MASK]" }.count == t.count && s.hasPrefix(" "))
        #expect(t.map { $0.split(separator: " ").count }.reduce(0, +) == 5)
        #expect(t.allSatisfy { $0.hasPrefix(" ") })
        var r2 = PythonRandom(seed: 1)
        #expect(BlankInfilling.mask("", ratio: 0.5, rng: &r2) == ("", []))
    }

    /// `[the MASK sat on MASK mat pad×4 | sop cat | sop the big]` cut to src + int(src·r) = 13.
    @Test func trainingLayoutByHand() throws {
        let tok = try TestFiles.bert()
        func id(_ w: String) -> Int { tok.text.id(for: w)! }
        let sop = tok.commands.sop, eop = tok.commands.eop, mask = tok.commands.mask
        let b = try BlankInfilling(tokenizer: tok, sourceLength: 10, maskRatio: 0.3)
        #expect(b.trainingLength == 13)
        let x = try b.training(source: " the [MASK] sat on [MASK] mat", targets: [" cat", " the big"], id: "train-0")
        let a = [id("the"), mask, id("sat"), id("on"), mask, id("mat"), 0, 0, 0, 0]
        #expect(x.tokens == a + [sop, id("cat"), sop])
        #expect(x.targets == [Int](repeating: 0, count: 10) + [id("cat"), eop, id("the")])
        #expect(x.lossMask == [Int](repeating: 0, count: 10) + [1, 1, 1])
        #expect(x.positions == Array(0..<10) + [1, 1, 4])
        #expect(x.blockPositions == [Int](repeating: 0, count: 10) + [1, 2, 1])
        #expect(x.sep == 10)
        // Room to spare: Part B complete, then padding (pad, position 0/0, loss 0).
        let wide = try BlankInfilling(tokenizer: tok, sourceLength: 10, maskRatio: 0.9)
        let y = try wide.training(source: " the [MASK] sat", targets: [" cat"])
        #expect(y.tokens == [id("the"), mask, id("sat")] + [Int](repeating: 0, count: 7) + [sop, id("cat")] + [Int](repeating: 0, count: 7))
        #expect(y.blockPositions.suffix(9) == [1, 2, 0, 0, 0, 0, 0, 0, 0] && y.positions.suffix(9) == [1, 1, 0, 0, 0, 0, 0, 0, 0])
        // More blanks than targets is an error.
        #expect(throws: TaskError.self) { try b.training(source: "[MASK] [MASK]", targets: [" x"]) }
        // Evaluation: Part A + sop at the first mask.
        let e = try b.evaluation(source: " the [MASK] sat on [MASK] mat")
        #expect(e.tokens == a + [sop] && e.positions.last == 1 && e.blockPositions.last == 1 && e.sep == 10)
        #expect(throws: TaskError.self) { try b.evaluation(source: "no blank") }
    }

    @Test func predictionFillsBlanksInOrder() throws {
        let tok = try TestFiles.bert()
        func id(_ w: String) -> Int { tok.text.id(for: w)! }
        let c = tok.commands
        let b = try BlankInfilling(tokenizer: tok, sourceLength: 7)
        let eval = try b.evaluation(source: "the [MASK] sat on [MASK]")
        // Generated as BlankLMEvaluater keeps them: eop replaced by sop between blanks, pad once done.
        let gen = [id("cat"), c.sop, id("the"), id("big"), id("mat"), c.pad, c.pad]
        #expect(b.prediction(evaluationTokens: eval.tokens, generated: gen) == "the cat sat on the big mat")
        // Fewer fills than blanks: the rest stay empty.
        #expect(b.prediction(evaluationTokens: eval.tokens, generated: [id("cat")]) == "the cat sat on")
        #expect(BlankInfilling.fixTokenization("don ' t ` ` go . . . u . s . now - - e . g .") == "don't `` go ... u.s. now -- e.g.")
    }

    @Test func testFiles() throws {
        let d = try TestFiles.tempDir()
        try FileManager.default.createDirectory(at: d.appendingPathComponent("blank"), withIntermediateDirectories: true)
        try TestFiles.write("the cat sat _UNK\nhello world\n", d.appendingPathComponent("test.txt"))
        try TestFiles.write("the <blank> sat _UNK \n<blank> world\n", d.appendingPathComponent("blank/test.maskratio0.3.blank"))
        let p = try BlankInfilling.testPairs(folder: d, maskRatio: 0.3)
        #expect(p.map(\.source) == ["the [MASK] sat [UNK]", "[MASK] world"])
        #expect(p.map(\.reference) == ["the cat sat [UNK]", "hello world"])
        try TestFiles.write("x\n", d.appendingPathComponent("test.txt"))
        #expect(throws: TaskError.self) { try BlankInfilling.testPairs(folder: d, maskRatio: 0.3) }
        #expect(throws: TaskError.self) { try BlankInfilling.testPairs(folder: d, maskRatio: 0.1) }   // no such file
        try TestFiles.write("a b c\n", d.appendingPathComponent("valid.txt"))
        #expect(try BlankInfilling.texts(folder: d, split: .dev) == ["a b c"])
        #expect(throws: TaskError.self) { try BlankInfilling(tokenizer: try TestFiles.bert(), maskRatio: 1) }
    }
}
