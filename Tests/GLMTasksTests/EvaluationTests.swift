import Foundation
import Testing
import GLM
import GLMTensor
import GLMTokenizers
import GLMTasks
import GLMTestSupport
import GLMSystem

/// Scoring a task with a model: the evaluator against the head applied sample by sample, batching
/// invariance, choices split over several passes, and `glm evaluate` / `glm cloze` end to end on the
/// reference's tiny model (V = 128, P = 32) with a small BERT-style vocabulary written here.
@Suite(.serialized) struct EvaluationTests {
    /// A model folder: heads/model-tiny plus a 100-word vocab.txt (102 ids with sop/eop).
    static let modelFolder: URL = {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("glmtasks-eval-\(getpid())")
        try? FileManager.default.removeItem(at: dir)
        try! FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        for f in ["config.json", "model.safetensors"] {
            try! FileManager.default.copyItem(at: Fixtures.folder.appendingPathComponent("heads/model-tiny/\(f)"), to: dir.appendingPathComponent(f))
        }
        let words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", ".", ",", "?", "\"", "'", ":", "!", "-",
                     "yes", "no", "maybe", "the", "a", "movie", "film", "was", "is", "great", "terrible", "good", "bad",
                     "very", "it", "all", "in", "question", "answer", "true", "false", "plot", "acting", "music", "story",
                     "i", "liked", "hated", "and", "but", "so", "because", "he", "she", "they", "sun", "rain", "grass",
                     "wet", "dry", "cat", "dog", "ran", "slept", "fell", "rose", "cold", "warm", "day", "night", "boring",
                     "fun", "long", "short", "end", "start", "of", "to", "not", "which", "one", "two", "three", "more",
                     "less", "than", "sky", "blue", "red", "green", "water", "fire", "ice", "hot", "house", "tree", "car",
                     "road", "city", "town", "sea", "lake", "river", "hill", "stone", "wood"]
        try! (words.joined(separator: "\n") + "\n").write(to: dir.appendingPathComponent("vocab.txt"), atomically: true, encoding: .utf8)
        return dir
    }()

    static func tokenizer() throws -> GLMTokenizer { try GLMTokenizer(folder: modelFolder) }
    static func model() throws -> GLMModel { try GLMModel.load(modelFolder) }

    static let sentimentTask = Fixtures.temp(#"{"pattern": "{text} all in all it was [MASK].", "verbalizer": {"bad": " terrible", "good": " great"}}"#, name: "sentiment.json")
    static let sentimentData = Fixtures.temp("""
    {"text": "i liked the movie", "label": "good"}
    {"text": "i hated the plot and the acting", "label": "bad"}
    {"text": "the music was fun but the story was boring and long", "label": "bad"}
    {"text": "great acting", "label": "good"}
    {"text": "a very short film", "label": "good"}
    """)
    static let multiTask = Fixtures.temp(#"{"pattern": "{text} so it was [MASK].", "verbalizer": {"bad": " very bad", "good": " good and fun", "so-so": " not bad"}}"#, name: "multi.json")
    static let bigbench = Fixtures.temp("""
    {"examples": [
      {"input": "the sun rose and the grass was", "target_scores": {"wet": 0, "dry": 1, "cold and wet": 0, "warm": 0}},
      {"input": "the cat ran to the house because", "target_scores": {"it was cold": 1, "it slept": 0}}
    ]}
    """, name: "task.json")

    static func maxDiff(_ a: [Float], _ b: [Float]) -> Float { zip(a, b).map { abs($0 - $1) }.max() ?? 0 }

    @Test func evaluatorEqualsTheHeadSampleBySample() throws {
        let m = try Self.model(), tok = try Self.tokenizer()
        for taskFile in [Self.sentimentTask, Self.multiTask] {
            let task = try ClozeTask.named(taskFile.path)
            let encoder = try ClozeEncoder(task: task, tokenizer: tok, seqLength: 32)
            let examples = try task.read(Self.sentimentData, split: .dev)
            let head = ClozeHead(task.defaults)
            let r = try ClozeEvaluator.evaluate(model: m, encoder: encoder, examples: examples, head: head, batchSize: 4)
            #expect(r.predictions.count == examples.count)
            for (ex, p) in zip(examples, r.predictions) {
                let alone = try head.choiceScores(model: m, batch: ClozeBatch([encoder.encode(ex)]))[0]
                #expect(alone.count == task.labels.count)
                #expect(Self.maxDiff(alone, p.scores) <= 1e-5 * (alone.map(abs).max() ?? 1))
                #expect(p.choice == p.scores.indices.first { p.scores[$0] == p.scores.max()! })
                #expect(p.prediction == p.choice && p.answer == task.labels[p.choice] && p.label == ex.label)
            }
            #expect(r.metrics.count == 1 && r.metrics[0].name == "accuracy")
            #expect(r.metrics[0].value == Metrics.accuracy(r.predictions.map(\.prediction), examples.map { $0.label! }))
        }
    }

    @Test func batchSizeDoesNotChangeScores() throws {
        let m = try Self.model(), tok = try Self.tokenizer()
        let task = ClozeTask.bigBench
        let encoder = try ClozeEncoder(task: task, tokenizer: tok, seqLength: 32)
        let examples = try task.read(Self.bigbench, split: .dev)
        let head = ClozeHead()
        // Batch size 3 splits the 4-choice example over two passes; 1 scores one choice a pass.
        let runs = try [1, 3, 16].map { try ClozeEvaluator.evaluate(model: m, encoder: encoder, examples: examples, head: head, batchSize: $0) }
        for r in runs {
            #expect(r.predictions.map { $0.scores.count } == [4, 2])
            for (a, b) in zip(r.predictions, runs[2].predictions) { #expect(Self.maxDiff(a.scores, b.scores) <= 1e-5 * a.scores.map(abs).max()!) }
        }
        #expect(runs[2].predictions.map(\.label) == [1, 0])
        #expect(runs[2].predictions[0].answer == ["wet", "dry", "cold and wet", "warm"][runs[2].predictions[0].choice])
    }

    // MARK: - The command line

    @Test(.enabled(if: GLMExecutable.url != nil, "the glm executable is not built next to the tests"))
    func evaluateCommandPrintsMetricsAndWritesPredictions() throws {
        let preds = Self.modelFolder.appendingPathComponent("preds.jsonl")
        let r = try GLMExecutable.run(["evaluate", "--model", Self.modelFolder.path, "--task", Self.sentimentTask.path,
                              "--data", Self.sentimentData.path, "--seq-length", "32", "--output", preds.path])
        #expect(r.rc == 0, "\(r.err)")
        let summary = try JSONParser.parse(r.out)
        #expect(summary["task"] == .string("sentiment") && summary["examples"] == .int(5))
        // The same numbers as the library.
        let task = try ClozeTask.named(Self.sentimentTask.path)
        let lib = try ClozeEvaluator.evaluate(model: Self.model(), encoder: ClozeEncoder(task: task, tokenizer: Self.tokenizer(), seqLength: 32),
                                              examples: task.read(Self.sentimentData, split: .dev), head: ClozeHead(), batchSize: 16)
        #expect(summary["accuracy"] == .double(lib.metrics[0].value) || summary["accuracy"] == .int(Int(lib.metrics[0].value)))
        // Without --seq-length the task's default (longer than this model's 32 positions) is cut
        // to the model's max_sequence_length: the same run.
        let fitted = try GLMExecutable.run(["evaluate", "--model", Self.modelFolder.path, "--task", Self.sentimentTask.path, "--data", Self.sentimentData.path])
        #expect(fitted.rc == 0, "\(fitted.err)")
        #expect(fitted.out == r.out)
        let lines = try String(contentsOf: preds, encoding: .utf8).split(separator: "\n").map { try JSONParser.parse(String($0)) }
        #expect(lines.count == 5)
        #expect(lines.map { $0["guid"] } == (0..<5).map { .string("dev-\($0)") })
        #expect(lines.map { $0["prediction"] } == lib.predictions.map { .int($0.prediction) })
        for (l, p) in zip(lines, lib.predictions) {
            guard case let .array(s)? = l["scores"] else { Issue.record("no scores"); continue }
            #expect(s.count == 2)
            let got = s.map { v -> Float in if case let .double(d) = v { return Float(d) }; if case let .int(i) = v { return Float(i) }; return .nan }
            #expect(Self.maxDiff(got, p.scores) <= 1e-6 * p.scores.map(abs).max()!)
        }
    }

    @Test(.enabled(if: GLMExecutable.url != nil, "the glm executable is not built next to the tests"))
    func badInputExitsWithAClearMessage() throws {
        let model = Self.modelFolder.path
        let unknown = try GLMExecutable.run(["evaluate", "--model", model, "--task", "superglue", "--data", Self.sentimentData.path])
        #expect(unknown.rc != 0 && unknown.err.contains("unknown task \"superglue\""))
        let data = Fixtures.temp("{\"text\": \"i liked it\", \"label\": \"good\"}\n{\"text\": \"meh\", \"label\": \"fine\"}\n")
        let label = try GLMExecutable.run(["evaluate", "--model", model, "--task", Self.sentimentTask.path, "--data", data.path, "--seq-length", "32"])
        #expect(label.rc != 0 && label.err.contains("\(data.path):2: label \"fine\" is not in the verbaliser"), "\(label.err)")
        let long = try GLMExecutable.run(["evaluate", "--model", model, "--task", Self.sentimentTask.path, "--data", Self.sentimentData.path, "--seq-length", "64"])
        #expect(long.rc != 0 && long.err.contains("--seq-length 64 is longer than the model's max_sequence_length 32"), "\(long.err)")
        let missing = Fixtures.temp(#"{"premise": "p", "choice1": "a", "question": "cause", "idx": 0, "label": 0}"#)
        let cloze = try GLMExecutable.run(["cloze", "--task", "copa", "--data", missing.path, "--tokenizer", model])
        #expect(cloze.rc != 0 && cloze.err.contains("\(missing.path):1: missing field \"choice2\""), "\(cloze.err)")
    }

    @Test(.enabled(if: GLMExecutable.url != nil, "the glm executable is not built next to the tests"))
    func clozeCommandPrintsTheLibraryEncoding() throws {
        let data = Fixtures.data(.copa, "train.jsonl")
        let r = try GLMExecutable.run(["cloze", "--task", "copa", "--data", data.path, "--tokenizer", Fixtures.tokenizerFolder("bert-base-uncased").path,
                              "--seq-length", "64", "--train"])
        #expect(r.rc == 0, "\(r.err)")
        let encoder = try ClozeEncoder(task: ClozeTask(superGLUE: .copa), tokenizer: Fixtures.bert, seqLength: 64)
        let want = try ClozeTask(superGLUE: .copa).read(data, split: .train).map { try encoder.encode($0, training: true).jsonLine() }
        #expect(r.out.split(separator: "\n").map(String.init) == want)
        // And a line reads back as the same sample.
        let back = try ClozeSample(json: TaskField(file: "-", line: 1, value: JSONParser.parse(want[0])))
        #expect(back.jsonLine() == want[0])
    }
}
