import Foundation
import XCTest
import GLM
import GLMNN
import GLMTasks
import GLMTokenizers
import GLMTrain

/// `glm finetune` on the training loop: a task the model can learn is learned, a killed run
/// resumes with bit-identical losses, the best dev model is the result, bad input fails first.
final class FinetuneTests: RunTestCase {
    var learnable: URL { Self.repo.appendingPathComponent("Resources/eval/learnable") }

    /// A randomly initialised 2-layer model with the BERT vocabulary, as a model folder.
    func tinyModel() throws -> URL {
        let dir = tmp.appendingPathComponent("pretrained")
        let cfg = GLMConfig(numLayers: 2, hiddenSize: 64, numAttentionHeads: 4, vocabSize: 30592, maxSequenceLength: 64)
        let vocab = Self.repo.appendingPathComponent("Resources/tokenizers/bert-base-uncased/vocab.txt")
        try GLMModel(config: cfg, seed: 7).save(to: dir, tokenizerFiles: [vocab])
        return dir
    }

    /// The first `n` lines of the learnable task's training file.
    func trainingSlice(_ n: Int) throws -> URL {
        let lines = try String(contentsOf: learnable.appendingPathComponent("train.jsonl"), encoding: .utf8).split(separator: "\n")
        let url = tmp.appendingPathComponent("train-\(n).jsonl")
        try (lines.prefix(n).joined(separator: "\n") + "\n").write(to: url, atomically: true, encoding: .utf8)
        return url
    }

    func config(model: URL, train: URL, output: String, epochs: Int) -> FinetuneConfig {
        var c = FinetuneConfig()
        c.task = learnable.appendingPathComponent("task.json").path
        c.model = model.path
        c.trainData = train.path
        c.devData = learnable.appendingPathComponent("dev.jsonl").path
        c.output = tmp.appendingPathComponent(output).path
        c.epochs = epochs
        c.learningRate = 2e-3
        c.warmup = 0.05
        c.dropout = 0
        c.evalBatchSize = 64
        return c
    }

    /// Learning beyond doubt: from random weights, a task of 960 sentences reaches ≥ 95 % on 400
    /// unseen dev sentences within two epochs (chance is 50 %), and the best model is the result.
    func testATaskTheModelCanLearnReachesNinetyFivePercent() throws {
        let model = try tinyModel()
        let c = config(model: model, train: try trainingSlice(960), output: "learn", epochs: 2)
        let tuner = try Finetuner(config: c, resume: false) { _ in }
        let summary = try tuner.run()
        let best = try XCTUnwrap(summary.best)
        XCTAssertEqual(best.metric, "eval_accuracy")
        XCTAssertGreaterThanOrEqual(best.value, 95, "dev accuracy \(best.value)")
        XCTAssertEqual(summary.steps, 2 * 60)
        // The kept model scores what best.json says, through glm evaluate's own evaluator.
        let kept = try GLMModel.load(tuner.runDir.appendingPathComponent("model"))
        let task = try ClozeTask.named(c.task)
        let tok = try GLMTokenizer(folder: tuner.runDir.appendingPathComponent("model"))
        let eval = try ClozeEvaluator.evaluate(model: kept, encoder: ClozeEncoder(task: task, tokenizer: tok, seqLength: 32),
                                               examples: task.read(URL(fileURLWithPath: c.devData!), split: .dev), head: ClozeHead(task.defaults),
                                               batchSize: 64)
        XCTAssertEqual(eval.metrics.first!.value, best.value, accuracy: 1e-9)
        let record = try JSONSerialization.jsonObject(with: Data(contentsOf: tuner.runDir.appendingPathComponent("best.json"))) as! [String: Any]
        XCTAssertEqual(record["step"] as? Int, best.step)
    }

    func testKilledFinetuneResumesWithBitIdenticalLosses() throws {
        let model = try tinyModel()
        let train = try trainingSlice(320)
        func args(_ out: String) -> [String] {
            ["finetune", "--task", learnable.appendingPathComponent("task.json").path, "--model", model.path, "--train", train.path,
             "--dev", learnable.appendingPathComponent("dev.jsonl").path, "--epochs", "2", "--lr", "1e-3", "--dropout", "0.1",
             "--save-every", "4", "--output", tmp.appendingPathComponent(out).path]
        }
        let (a, b) = try assertKilledRunResumesExactly(steps: 40, killAfter: 26, command: { args($0.lastPathComponent) },
                                                       resume: { ["finetune", "--output", $0.path, "--resume"] })
        XCTAssertEqual(try Data(contentsOf: a.appendingPathComponent("best.json")), try Data(contentsOf: b.appendingPathComponent("best.json")))
    }

    /// Issue 12 class 6: while one fine-tuning run holds its folder, a second (fresh or resuming)
    /// is refused naming the holder; once the first is gone, the folder is free again.
    func testASecondFinetuneOnTheSameFolderIsRefusedNamingTheHolder() throws {
        let c = config(model: try tinyModel(), train: try trainingSlice(16), output: "shared", epochs: 1)
        var first: Finetuner? = try Finetuner(config: c, resume: false) { _ in }
        for resume in [false, true] {
            XCTAssertThrowsError(try Finetuner(config: c, resume: resume) { _ in }) { e in
                XCTAssertTrue("\(e)".contains("is in use by PID \(getpid())"), "\(e)")
                XCTAssertTrue("\(e)".contains("(glm finetune, since"), "\(e)")
            }
        }
        XCTAssertNotNil(first)
        first = nil
        XCTAssertNoThrow(try Finetuner(config: c, resume: true) { _ in })
    }

    func testBadInputFailsBeforeTraining() throws {
        let model = try tinyModel()
        let task = learnable.appendingPathComponent("task.json").path
        func fails(_ mutate: (inout FinetuneConfig) throws -> Void, _ words: [String], line: UInt = #line) throws {
            var c = config(model: model, train: learnable.appendingPathComponent("train.jsonl"), output: "bad", epochs: 1)
            try mutate(&c)
            XCTAssertThrowsError(try Finetuner(config: c, resume: false) { _ in }, line: line) { e in
                for w in words { XCTAssertTrue("\(e)".contains(w), "'\(e)' lacks '\(w)'", line: line) }
            }
            XCTAssertFalse(FileManager.default.fileExists(atPath: tmp.appendingPathComponent("bad/checkpoints").path), line: line)
        }
        try fails({ $0.task = "superglue" }, ["unknown task", "superglue"])
        let unlabelled = tmp.appendingPathComponent("unlabelled.jsonl")
        try "{\"sentence\": \"a dog.\"}\n".write(to: unlabelled, atomically: true, encoding: .utf8)
        try fails({ $0.trainData = unlabelled.path }, ["unlabelled.jsonl", "label"])
        let wrongLabel = tmp.appendingPathComponent("wrong.jsonl")
        try "{\"sentence\": \"a dog.\", \"label\": \"plant\"}\n".write(to: wrongLabel, atomically: true, encoding: .utf8)
        try fails({ $0.trainData = wrongLabel.path }, ["wrong.jsonl:1", "plant"])
        let empty = tmp.appendingPathComponent("empty.jsonl")
        try "".write(to: empty, atomically: true, encoding: .utf8)
        try fails({ $0.trainData = empty.path }, ["empty.jsonl"])
        try fails({ $0.seqLength = 100 }, ["seq-length 100", "max_sequence_length 64"])
        try fails({ $0.epochs = 0 }, ["epochs"])
        try fails({ $0.model = tmp.appendingPathComponent("nowhere").path }, ["nowhere"])
        _ = task
    }
}
