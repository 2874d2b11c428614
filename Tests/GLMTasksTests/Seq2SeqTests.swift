import Foundation
import Testing
import GLM
import GLMNN
import GLMTensor
import GLMTokenizers
import GLMTasks

@Suite struct Seq2SeqLayoutTests {
    /// xsum layout, worked by hand: `[CLS] [MASK] content : the cat sat on the mat . [PAD]×5 | [sop] a cat sat . [eop]`.
    @Test func summaryLayoutByHand() throws {
        let tok = try TestFiles.bert()
        func id(_ w: String) -> Int { tok.text.id(for: w)! }
        let enc = try Seq2SeqEncoder(tokenizer: tok, task: .xsum, sourceLength: 16, targetLength: 6)
        let ex = Seq2SeqExample(id: "train-0", source: "The cat sat on the mat.", target: "A cat sat.")
        let cls = 101, mask = 103, pad = 0, sop = tok.commands.sop, eop = tok.commands.eop
        #expect(sop == 30522 && eop == 30523)
        let src = [cls, mask, id("content"), id(":"), id("the"), id("cat"), id("sat"), id("on"), id("the"), id("mat"), id("."),
                   pad, pad, pad, pad, pad]
        let tgt = [id("a"), id("cat"), id("sat"), id(".")]
        let t = try enc.training(ex)
        #expect(t.tokens == src + [sop] + tgt + [eop])          // (target + eop + pad)[:-1]: eop is an input here
        #expect(t.targets == [Int](repeating: 0, count: 16) + tgt + [eop, pad])
        #expect(t.lossMask == [Int](repeating: 0, count: 16) + [1, 1, 1, 1, 1, 0])
        #expect(t.positions == Array(0..<16) + [1, 1, 1, 1, 1, 1])
        #expect(t.blockPositions == [Int](repeating: 0, count: 16) + [1, 2, 3, 4, 5, 6])
        #expect(t.sep == 16 && t.id == "train-0")
        let e = try enc.evaluation(ex)
        #expect(e.tokens == src + [sop] && e.positions == Array(0..<16) + [1] && e.blockPositions == [Int](repeating: 0, count: 16) + [1])
        #expect(e.sep == 16 && e.targets.isEmpty)
        // A long source is cut to what the 4-token prompt leaves; a long target loses its eop.
        let long = Seq2SeqExample(id: "x", source: String(repeating: "word ", count: 40), target: String(repeating: "b ", count: 9))
        let lt = try enc.training(long)
        #expect(Array(lt.tokens[0..<16]) == [cls, mask, id("content"), id(":")] + [Int](repeating: id("word"), count: 12))
        #expect(Array(lt.targets[16...]) == [Int](repeating: id("b"), count: 6) && lt.lossMask.suffix(6) == [1, 1, 1, 1, 1, 1])
        #expect(lt.tokens.count == 22 && !lt.targets.contains(eop))
        // no_block_position: every Part B block position is 1.
        let nb = try Seq2SeqEncoder(tokenizer: tok, task: .xsum, sourceLength: 16, targetLength: 6, noBlockPosition: true)
        #expect(try nb.training(ex).blockPositions.suffix(6) == [1, 1, 1, 1, 1, 1])
    }

    /// SQuAD question generation: `[CLS] context question : [MASK] answer : <answer>`, the context
    /// windowed so the answer sits in its middle.
    @Test func questionGenerationWindowByHand() throws {
        let tok = try TestFiles.bert()
        func ids(_ s: String) -> [Int] { s.split(separator: " ").map { tok.text.id(for: String($0))! } }
        let enc = try Seq2SeqEncoder(tokenizer: tok, task: .squadGeneration, sourceLength: 12, targetLength: 4)
        // context + " Question:" = 16 tokens; the answer takes 3 (" Answer: blue"), leaving 7: "blue" at 10 → start 10 − 3.
        let ex = Seq2SeqExample(id: "q", source: "a b c d e f g h i j blue k l m  \n", target: "what color?", answer: "blue")
        let s = try enc.training(ex)
        #expect(Array(s.tokens[0..<12]) == [101] + ids("h i j blue k l m") + [103] + ids("answer : blue"))
        #expect(s.positions.suffix(4) == [8, 8, 8, 8])   // the [MASK] index
        // An answer not in the context: the context's start is kept.
        let miss = Seq2SeqExample(id: "q", source: "a b c d e f g h i j blue k l m", target: "what?", answer: "zebra")
        #expect(Array(try enc.evaluation(miss).tokens[0..<9]) == [101] + ids("a b c d e f g") + [103])
        // Short context: no window, padded inside Part A.
        let short = Seq2SeqExample(id: "q", source: "a b", target: "what?", answer: "b")
        #expect(try enc.evaluation(short).tokens == [101] + ids("a b question :") + [103] + ids("answer : b") + [0, 0, 0] + [tok.commands.sop])
        // An answer that leaves no room, and a missing answer, are errors.
        let tight = try Seq2SeqEncoder(tokenizer: tok, task: .squadGeneration, sourceLength: 5, targetLength: 4)
        #expect(throws: TaskError.self) { try tight.training(ex) }
        #expect(throws: TaskError.self) { try enc.training(Seq2SeqExample(id: "q", source: "a", target: "b")) }
    }

    /// CustomizationDataset: `[CLS] source[-(src−3):] [MASK] [eos]` (the end of a long source is kept).
    @Test func customizationLayoutByHand() throws {
        let tok = try TestFiles.bert()
        func ids(_ s: String) -> [Int] { s.split(separator: " ").map { tok.text.id(for: String($0))! } }
        let enc = try Seq2SeqEncoder(tokenizer: tok, task: .customization, sourceLength: 8, targetLength: 3)
        let e = try enc.evaluation(Seq2SeqExample(id: "c", source: "a b c d e f g", target: "x"))
        #expect(e.tokens == [101] + ids("c d e f g") + [103, 0, tok.commands.sop])
        #expect(e.positions.last == 6)
        let s = try enc.training(Seq2SeqExample(id: "c", source: "a b", target: "x y z w"))
        #expect(s.tokens == [101] + ids("a b") + [103, 0, 0, 0, 0, tok.commands.sop] + ids("x y"))
        #expect(enc.reference(Seq2SeqExample(id: "c", source: "a", target: "Raw Target")) == "Raw Target")
    }

    @Test func taskMaskNeedsSMask() throws {
        let gpt2 = try TestFiles.gpt2()
        let enc = try Seq2SeqEncoder(tokenizer: gpt2, task: .cnnDM, sourceLength: 20, targetLength: 4, taskMask: true)
        let s = try enc.evaluation(Seq2SeqExample(id: "g", source: "Hello world", target: "Hi"))
        #expect(s.tokens[1] == gpt2.commands.sMask! && s.tokens[1] == 50264 && s.positions.last == 1)
        #expect(s.tokens[0] == gpt2.commands.cls)
        // GPT-2 keeps the leading spaces the official code adds: " Content:" and " " + source.
        #expect(Array(s.tokens[2..<(2 + gpt2.encode(" Content:").count)]) == gpt2.encode(" Content:"))
        do {
            _ = try Seq2SeqEncoder(tokenizer: try TestFiles.bert(), task: .cnnDM, taskMask: true)
            Issue.record("BERT has no [sMASK]; the task-mask layout must be refused")
        } catch let e as TaskError {
            #expect(e.description.contains("[sMASK]"))
        }
        #expect(throws: TaskError.self) { try Seq2SeqEncoder(tokenizer: gpt2, task: .blank) }
        #expect(throws: TaskError.self) { try Seq2SeqEncoder(tokenizer: gpt2, task: .xsum, sourceLength: 3, targetLength: 4).evaluation(
            Seq2SeqExample(id: "g", source: "Hello", target: "Hi")) }
    }

    @Test func referenceIsATokenizerRoundTrip() throws {
        let tok = try TestFiles.bert()
        let enc = try Seq2SeqEncoder(tokenizer: tok, task: .xsum)
        let ex = Seq2SeqExample(id: "r", source: "s", target: "The Cat, SAT.")
        #expect(enc.reference(ex) == tok.decode(tok.encode("The Cat, SAT.")))
        #expect(enc.reference(ex).lowercased() == enc.reference(ex))
    }

    @Test func officialSettingsTable() throws {
        let x = Seq2SeqTask.xsum.settings
        #expect(x.sourceLength == 608 && x.targetLength == 60 && x.epochs == 6 && x.learningRate == 1e-5)
        #expect(x.numBeams == 6 && x.lengthPenalty == 1.0 && x.noRepeatNgramSize == 3 && x.minTargetLength == 10)
        #expect(x.warmup == 0.06 && x.weightDecay == 0.1 && x.labelSmoothing == 0.1 && x.evalBatchSize == 1)
        let c = Seq2SeqTask.cnnDM.settings
        #expect(c.sourceLength == 608 && c.targetLength == 160 && c.epochs == 15 && c.learningRate == 3e-5 && c.minTargetLength == 55)
        let g = Seq2SeqTask.gigaword.settings
        #expect(g.sourceLength == 192 && g.targetLength == 32 && g.lengthPenalty == 0.6 && g.numBeams == 5)
        let q = Seq2SeqTask.squadGeneration.settings
        #expect(q.sourceLength == 464 && q.targetLength == 48 && q.learningRate == 2e-5 && q.noRepeatNgramSize == 0)
        let b = Seq2SeqTask.blank.settings
        #expect(b.sourceLength == 256 && b.targetLength == 200 && b.batchSize == 16 && b.epochs == 5 && b.numBeams == 1)
        #expect(Seq2SeqTask.customization.settings.weightDecay == 0.01)
        #expect(try Seq2SeqTask.named("CNN_DM") == .cnnDM)
        #expect(throws: TaskError.self) { try Seq2SeqTask.named("summarize") }
    }
}

@Suite struct Seq2SeqReaderTests {
    @Test func lineAlignedFilesAndCleanUp() throws {
        let d = try TestFiles.tempDir()
        try TestFiles.write("the -lrb- UNK -rrb- &amp; co <unk>\r\n  second  \rthird\n", d.appendingPathComponent("val.source"))
        try TestFiles.write("“Hi” – it’s\none\ntwo", d.appendingPathComponent("val.target"))
        let g = try Seq2SeqReader.lineAligned(folder: d, split: .dev, task: .gigaword)
        #expect(g.map(\.source) == ["the ( [UNK] ) & co [UNK]", "second", "third"])
        #expect(g.map(\.target) == ["\"Hi\" - it's", "one", "two"])
        #expect(g.map(\.id) == ["dev-0", "dev-1", "dev-2"] && g[1].location.hasSuffix("val.source:2"))
        // cnn_dm: PTB brackets, quotes and contractions undone; <S_SEP> → [SEP] in targets, dropped in sources.
        try TestFiles.write("a <S_SEP> b -LRB- c -RRB-\n", d.appendingPathComponent("test.source"))
        try TestFiles.write("he said `` it 's over '' <S_SEP> do n't\n", d.appendingPathComponent("test.target"))
        let c = try Seq2SeqReader.lineAligned(folder: d, split: .test, task: .cnnDM)
        #expect(c[0].source == "a  b ( c )" && c[0].target == "he said \" it's over \" [SEP] don't")
        // Other summarisation tasks only strip and standardise punctuation; customization only strips.
        #expect(try Seq2SeqReader.lineAligned(folder: d, split: .test, task: .xsum)[0].source == "a <S_SEP> b -LRB- c -RRB-")
        #expect(Seq2SeqReader.clean(" “x” ", task: .customization, isTarget: true) == "“x”")
    }

    @Test func misalignedAndEmptyTargetsAreErrors() throws {
        let d = try TestFiles.tempDir()
        try TestFiles.write("a\nb\nc\n", d.appendingPathComponent("train.source"))
        try TestFiles.write("x\ny\n", d.appendingPathComponent("train.target"))
        do {
            _ = try Seq2SeqReader.lineAligned(folder: d, split: .train, task: .xsum)
            Issue.record("misaligned files must be refused")
        } catch let e as TaskError {
            #expect(e.description.contains("train.target") && e.description.contains("2 lines") && e.description.contains("train.source has 3"))
        }
        try TestFiles.write("x\n   \nz\n", d.appendingPathComponent("train.target"))
        do {
            _ = try Seq2SeqReader.lineAligned(folder: d, split: .train, task: .xsum)
            Issue.record("an empty target must be refused")
        } catch let e as TaskError {
            #expect(e.description.hasSuffix("train.target:2: empty target"))
        }
        #expect(throws: TaskError.self) { try Seq2SeqReader.lineAligned(folder: d, split: .dev, task: .xsum) }   // no val.* files
        #expect(throws: TaskError.self) { try Seq2SeqReader.lineAligned(folder: d, split: .train, task: .squadGeneration) }
    }

    @Test func jsonLines() throws {
        let d = try TestFiles.tempDir()
        let f = d.appendingPathComponent("train.jsonl")
        try TestFiles.write("{\"source\": \" A “b” \", \"target\": \"t\"}\n\n{\"source\": \"c\", \"target\": \"u\", \"extra\": 1}\n", f)
        let ex = try Seq2SeqReader.jsonLines(f, split: .train, task: .xsum)
        #expect(ex.map(\.source) == ["A \"b\"", "c"] && ex.map(\.target) == ["t", "u"] && ex[1].location.hasSuffix(":3"))
        try TestFiles.write("{\"source\": \"c\"}\n", f)
        do {
            _ = try Seq2SeqReader.jsonLines(f, split: .train, task: .xsum)
            Issue.record("a missing target must be refused")
        } catch let e as TaskError {
            #expect(e.description.contains(":1:") && e.description.contains("\"target\""))
        }
        try TestFiles.write("{\"source\": \"c\", \"target\": \" \"}\n", f)
        #expect(throws: TaskError.self) { try Seq2SeqReader.jsonLines(f, split: .train, task: .xsum) }
        try TestFiles.write("{\"source\": \"c\", \"target\": \"q\"}\n", f)
        #expect(throws: TaskError.self) { try Seq2SeqReader.jsonLines(f, split: .train, task: .squadGeneration) }
        try TestFiles.write("{\"source\": \"c\", \"target\": \"q\", \"answer\": \"c\"}\n", f)
        #expect(try Seq2SeqReader.jsonLines(f, split: .train, task: .squadGeneration)[0].answer == "c")
        try TestFiles.write("\n", f)
        #expect(throws: TaskError.self) { try Seq2SeqReader.jsonLines(f, split: .train, task: .xsum) }
    }
}

@Suite struct Seq2SeqLossTests {
    /// The official layout on id lists and the smoothed loss against the PyTorch reference
    /// (Tools/reference/make_task_fixtures.py): loss within 1e-5, every gradient within 1e-4 relative.
    @Test func lossAndGradientsEqualReference() throws {
        let obj = try TestFiles.json("seq2seq-loss-tiny.json")
        let cmds = CommandTokens(pad: 0, eos: 0, cls: 1, sep: 5, mask: 2, unk: 6, sop: 3, eop: 4)
        let layout = try Seq2SeqLayout(commands: cmds, maskId: 2, sourceLength: obj["source_length"] as! Int,
                                       targetLength: obj["target_length"] as! Int)
        let sources = obj["sources"] as! [[Int]], targets = obj["target_texts"] as! [[Int]]
        let content = obj["content_ids"] as! [Int]
        var samples: [EncodedSample] = []
        for (i, (s, t)) in zip(sources, targets).enumerated() {
            let x = try layout.training(source: layout.summarySource(sourceIds: s, contentIds: content), targetIds: t)
            #expect(x.tokens == (obj["input_ids"] as! [[Int]])[i], "sample \(i) tokens")
            #expect(x.targets == (obj["targets"] as! [[Int]])[i], "sample \(i) targets")
            #expect(x.lossMask == (obj["loss_mask"] as! [[Int]])[i], "sample \(i) loss mask")
            #expect([x.positions, x.blockPositions] == (obj["position_ids"] as! [[[Int]]])[i], "sample \(i) positions")
            #expect(x.sep == (obj["attention_mask"] as! [Int])[i])
            samples.append(x)
        }
        let model = try TestFiles.model("model-tiny")
        let want = try SafeTensors.read(TestFiles.fixtures.appendingPathComponent("seq2seq-loss-tiny.expected.safetensors"))
        let batch = try EncodedBatch(samples, padId: 0)
        let plain = try Autograd.withNoGrad { try Seq2SeqLoss.loss(model: model, batch: batch, labelSmoothing: 0) }.item
        let wp = want["loss_plain"]!.floats()[0]
        #expect(abs(plain - wp) <= 1e-5 * abs(wp))
        model.store.zeroGrad()
        let loss = try Seq2SeqLoss.loss(model: model, batch: batch, labelSmoothing: Float(obj["label_smoothing"] as! Double))
        try loss.backward()
        let wl = want["loss"]!.floats()[0]
        #expect(abs(loss.item - wl) <= 1e-5 * abs(wl), "loss \(loss.item) vs \(wl)")
        for p in model.store.parameters {
            let w = want["grad." + p.name]!.floats()
            let g = Array(UnsafeBufferPointer(start: p.grad.floats, count: p.count))
            #expect(maxDiff(g, w) <= 1e-4 * max(maxAbs(w), 1e-12), "grad \(p.name): \(maxDiff(g, w)) vs max \(maxAbs(w))")
        }
    }

    @Test func batchChecks() throws {
        #expect(throws: TaskError.self) { try EncodedBatch([], padId: 0) }
        let bad = EncodedSample(tokens: [1, 2], targets: [0], lossMask: [0], positions: [0, 1], blockPositions: [0, 0], sep: 2)
        #expect(throws: TaskError.self) { try EncodedBatch([bad], padId: 0) }
        // A batch without target tokens cannot train.
        let eval = EncodedSample(tokens: [1, 2, 3], targets: [], lossMask: [], positions: [0, 1, 1], blockPositions: [0, 0, 1], sep: 2)
        let b = try EncodedBatch([eval], padId: 0)
        #expect(throws: TaskError.self) { try Seq2SeqLoss.loss(model: try TestFiles.model("model-tiny"), batch: b) }
    }
}
