import Foundation
import XCTest
import GLM
import GLMTasks
import GLMTokenizers
import GLMTrain

/// `glm finetune --task seq2seq` and `--task blank-infill` on the one training loop: a summary the
/// model can learn is learned and the best dev ROUGE-1 is kept (scored by the same evaluator as
/// `glm evaluate`), blank-infilling batches are a pure function of the run's seed and the batch,
/// and bad input fails before training.
final class Seq2SeqFinetuneTests: RunTestCase {
    /// A randomly initialised 2-layer model with the BERT vocabulary, as a model folder.
    func tinyModel() throws -> URL {
        let dir = tmp.appendingPathComponent("pretrained")
        let cfg = GLMConfig(numLayers: 2, hiddenSize: 64, numAttentionHeads: 4, vocabSize: 30592, maxSequenceLength: 64)
        let vocab = Self.repo.appendingPathComponent("Resources/tokenizers/bert-base-uncased/vocab.txt")
        try GLMModel(config: cfg, seed: 7).save(to: dir, tokenizerFiles: [vocab])
        return dir
    }

    static let summaries = ["red": "the sky turned red at dusk", "blue": "the sea looked blue and calm",
                            "green": "the hills were green after rain"]
    static let filler = ["house", "road", "tree", "river", "stone", "town", "market", "garden", "window", "bridge", "field", "door"]

    /// Sources of filler words around one colour word; the target is that colour's fixed sentence
    /// (six words: the official post-processing drops predicted sentences of four words or fewer).
    func summaryData(_ n: Int, seed: UInt64, name: String) throws -> URL {
        var state = seed
        func next(_ k: Int) -> Int { state = state &* 6364136223846793005 &+ 1442695040888963407; return Int((state >> 33) % UInt64(k)) }
        let colours = Self.summaries.keys.sorted()
        var lines: [String] = []
        for _ in 0..<n {
            var words = (0..<6).map { _ in Self.filler[next(Self.filler.count)] }
            let c = colours[next(colours.count)]
            words.insert(c, at: next(words.count + 1))
            let obj: [String: String] = ["source": words.joined(separator: " "), "target": Self.summaries[c]!]
            lines.append(String(decoding: try JSONSerialization.data(withJSONObject: obj, options: [.sortedKeys]), as: UTF8.self))
        }
        let url = tmp.appendingPathComponent(name)
        try (lines.joined(separator: "\n") + "\n").write(to: url, atomically: true, encoding: .utf8)
        return url
    }

    func seq2seqConfig(model: URL, output: String) throws -> FinetuneConfig {
        var c = FinetuneConfig()
        c.task = "seq2seq"
        c.seq2seqTask = "gigaword"
        c.model = model.path
        c.trainData = try summaryData(240, seed: 1, name: "train.jsonl").path
        c.devData = try summaryData(24, seed: 2, name: "dev.jsonl").path
        c.output = tmp.appendingPathComponent(output).path
        c.seqLength = 16
        c.targetLength = 10
        c.epochs = 3
        c.batchSize = 8
        c.learningRate = 3e-3
        c.warmup = 0.05
        c.dropout = 0
        c.evalBatchSize = 8
        return c
    }

    func testASummaryTheModelCanLearnIsLearnedAndTheBestRougeKept() throws {
        let c = try seq2seqConfig(model: try tinyModel(), output: "s2s")
        var lines: [String] = []
        let tuner = try Finetuner(config: c, resume: false) { lines.append($0) }
        let summary = try tuner.run()
        XCTAssertEqual(summary.steps, 3 * 30)
        let best = try XCTUnwrap(summary.best)
        XCTAssertEqual(best.metric, "eval_rouge1")
        XCTAssertGreaterThanOrEqual(best.value, 90, "dev ROUGE-1 \(best.value); log: \(lines)")
        XCTAssertEqual(summary.lastScores.map(\.0), ["eval_rouge1", "eval_rouge2", "eval_rougeLsum", "eval_rougeL", "eval_bleu"])
        // The kept model scores what best.json says, through glm evaluate's own evaluator.
        let folder = tuner.runDir.appendingPathComponent("model")
        let kept = try GLMModel.load(folder)
        let tok = try GLMTokenizer(folder: folder)
        let s = try Seq2SeqTask.gigaword.settings(Seq2SeqOverrides(sourceLength: 16, targetLength: 10))
        let encoder = try Seq2SeqEncoder(tokenizer: tok, task: .gigaword, sourceLength: 16, targetLength: 10)
        let eval = try Seq2SeqEvaluator.evaluate(model: kept, encoder: encoder,
                                                 examples: Seq2SeqReader.read(URL(fileURLWithPath: c.devData!), task: .gigaword),
                                                 config: Seq2SeqTask.gigaword.generationConfig(s), batchSize: 3)
        XCTAssertEqual(eval.scores.rouge1, best.value, accuracy: 1e-9)
        let record = try JSONSerialization.jsonObject(with: Data(contentsOf: tuner.runDir.appendingPathComponent("best.json"))) as! [String: Any]
        XCTAssertEqual(record["metric"] as? String, "eval_rouge1")
        XCTAssertEqual(record["step"] as? Int, best.step)
        // The run's config says what was trained: the task's settings with the run's lengths.
        let saved = try JSONDecoder().decode(FinetuneConfig.self, from: Data(contentsOf: tuner.runDir.appendingPathComponent("config.json")))
        XCTAssertEqual(saved.seq2seqTask, "gigaword")
        XCTAssertEqual(saved.seqLength, 16)
        XCTAssertEqual(saved.learningRate, 3e-3)
        XCTAssertEqual(saved.weightDecay, 0.1)
    }

    func testTheOfficialDefaultsFillWhatTheRunLeavesOut() throws {
        var c = try seq2seqConfig(model: try tinyModel(), output: "defaults")
        c.seqLength = nil; c.targetLength = nil; c.epochs = nil; c.learningRate = nil; c.batchSize = nil; c.evalBatchSize = nil; c.warmup = nil
        c.seq2seqTask = "xsum"
        var log: [String] = []
        let tuner = try Finetuner(config: c, resume: false) { log.append($0) }
        // xsum: 6 epochs, lr 1e-5, eval batch 1; its source length 608 is capped at the model's 64 positions.
        XCTAssertEqual(tuner.config.epochs, 6)
        XCTAssertEqual(tuner.config.learningRate, 1e-5)
        XCTAssertEqual(tuner.config.evalBatchSize, 1)
        XCTAssertEqual(tuner.config.seqLength, 64)
        XCTAssertEqual(tuner.config.warmup, 0.06)
        XCTAssertTrue(log.contains { $0.contains("608") }, "\(log)")
        let task = try XCTUnwrap(tuner.task as? Seq2SeqFinetuneTask)
        XCTAssertEqual(task.settings.targetLength, 60)
        XCTAssertEqual(task.settings.numBeams, 6)
        XCTAssertEqual(task.settings.minTargetLength, 10)
        XCTAssertEqual(task.settings.labelSmoothing, 0.1)
        // A training batch's loss is the seq2seq loss of the official samples.
        let batch = try task.trainingBatch([0, 1, 2])
        let model = try GLMModel.load(URL(fileURLWithPath: c.model))
        let samples = try Seq2SeqReader.read(URL(fileURLWithPath: c.trainData), task: .xsum).prefix(3).map { try task.encoder.training($0) }
        let want = try Seq2SeqLoss.loss(model: model, batch: EncodedBatch(Array(samples), padId: 0), labelSmoothing: 0.1).toArray()[0]
        XCTAssertEqual(try batch.loss(model).toArray()[0], want)
    }

    func testBlankInfillingBatchesArePureAndTheDevScoreIsBleu() throws {
        let model = try tinyModel()
        let train = tmp.appendingPathComponent("train.txt")
        let text = try String(contentsOf: Self.repo.appendingPathComponent("Resources/corpus/valid/persuasion.txt"), encoding: .utf8)
        let paragraphs = text.components(separatedBy: "\n\n").map { $0.replacingOccurrences(of: "\n", with: " ") }
            .filter { $0.split(separator: " ").count >= 12 }
        try (paragraphs.prefix(24).map { $0.split(separator: " ").prefix(20).joined(separator: " ") }.joined(separator: "\n") + "\nshort\n")
            .write(to: train, atomically: true, encoding: .utf8)
        let dev = tmp.appendingPathComponent("valid.txt")
        try (paragraphs.dropFirst(24).prefix(4).map { $0.split(separator: " ").prefix(16).joined(separator: " ") }.joined(separator: "\n") + "\n")
            .write(to: dev, atomically: true, encoding: .utf8)
        var c = FinetuneConfig()
        c.task = "blank-infill"
        c.maskRatio = 0.2
        c.model = model.path
        let files = FinetuneTaskKind.dataFiles(task: "blank-infill", folder: tmp)
        XCTAssertEqual(files.train, train.path)
        XCTAssertEqual(files.dev, dev.path)
        c.trainData = files.train
        c.devData = files.dev
        c.output = tmp.appendingPathComponent("blank").path
        c.seqLength = 48
        c.targetLength = 12
        c.epochs = 1
        c.batchSize = 8
        c.dropout = 0
        let tuner = try Finetuner(config: c, resume: false) { _ in }
        let task = try XCTUnwrap(tuner.task as? BlankInfillingFinetuneTask)
        // "short" cannot get a blank at 0.2 and is left out.
        XCTAssertEqual(task.trainingExampleCount, 24)
        XCTAssertEqual(tuner.config.batchSize, 8)
        // The same batch twice: the same masks and the same loss (a resumed run sees what it would have).
        let m = try GLMModel.load(model)
        let a = try task.trainingBatch([3, 1, 7]).loss(m).toArray()[0]
        let b = try task.trainingBatch([3, 1, 7]).loss(m).toArray()[0]
        XCTAssertEqual(a, b)
        XCTAssertNotEqual(a, try task.trainingBatch([1, 3, 7]).loss(m).toArray()[0], "another order, other masks")
        let summary = try tuner.run()
        XCTAssertEqual(summary.steps, 3)
        XCTAssertEqual(summary.best?.metric, "eval_bleu")
        XCTAssertEqual(summary.lastScores.map(\.0), ["eval_bleu"])
    }

    func testBadSeq2SeqInputFailsBeforeTraining() throws {
        let model = try tinyModel()
        func fails(_ mutate: (inout FinetuneConfig) throws -> Void, _ words: [String], line: UInt = #line) throws {
            var c = try seq2seqConfig(model: model, output: "bad")
            try mutate(&c)
            XCTAssertThrowsError(try Finetuner(config: c, resume: false) { _ in }, line: line) { e in
                for w in words { XCTAssertTrue("\(e)".contains(w), "'\(e)' lacks '\(w)'", line: line) }
            }
            XCTAssertFalse(FileManager.default.fileExists(atPath: tmp.appendingPathComponent("bad/checkpoints").path), line: line)
        }
        let src = tmp.appendingPathComponent("train.source"), tgt = tmp.appendingPathComponent("train.target")
        try "the cat ran\nthe dog slept\nthe sun rose\n".write(to: src, atomically: true, encoding: .utf8)
        try "a cat\na dog\n".write(to: tgt, atomically: true, encoding: .utf8)
        try fails({ $0.trainData = src.path }, ["train.target", "has 2 lines but train.source has 3"])
        let empty = tmp.appendingPathComponent("empty-target.jsonl")
        try "{\"source\": \"the cat ran\", \"target\": \"a cat\"}\n{\"source\": \"the dog\", \"target\": \"\"}\n".write(to: empty, atomically: true, encoding: .utf8)
        try fails({ $0.devData = empty.path }, ["empty-target.jsonl:2", "empty target"])
        try fails({ $0.taskMask = true }, ["[sMASK]", "bertWordPiece"])
        try fails({ $0.seqLength = 100 }, ["seq-length 100", "max_sequence_length 64"])
        try fails({ $0.targetLength = 100 }, ["--target-length 100", "max_sequence_length 64"])
        try fails({ $0.seq2seqTask = "summaries" }, ["unknown seq2seq task", "summaries"])
        try fails({ $0.task = "blank-infill" }, ["--mask-ratio"])
        try fails({ $0.task = "blank-infill"; $0.maskRatio = 1.5 }, ["--mask-ratio must be in (0, 1)"])
    }
}
