import Foundation
import GLM
import GLMTasks
import GLMTokenizers
import GLMTrain
import XCTest

// The code of Sources/GLM/GLM.docc/GettingStarted.md, verbatim: `testArticleCodeIsThisCode` checks
// that every Swift block of the article appears here line for line, and the other tests run it on
// the tiny fixture model (Tests/GLMTests/Fixtures/model-tiny) and a tiny pretraining run.

/// The model in `folder` and its tokenizer (read from `tokenizerFolder`, by default the same folder).
func loadModel(from folder: URL, tokenizerFolder: URL? = nil) throws -> (model: GLMModel, tokenizer: GLMTokenizer) {
    let model = try GLMModel.load(folder)
    let tokenizer = try GLMTokenizer(folder: tokenizerFolder ?? folder)
    // Every token id must have an embedding row.
    guard tokenizer.numTokens <= model.config.vocabSize else {
        throw GLMError.invalidInput("the tokenizer has \(tokenizer.numTokens) tokens, the model only \(model.config.vocabSize) rows")
    }
    return (model, tokenizer)
}

/// The token strings of `text`; with the BERT vocabulary, "Tsinghua University is located in [MASK]."
/// gives ["ts", "##ing", "##hua", "university", "is", "located", "in", "[MASK]", "."].
func tokenStrings(of text: String, tokenizer: GLMTokenizer) -> [String] {
    let ids = tokenizer.encode(text)
    return ids.map { tokenizer.tokenString($0) ?? "?" }
}

/// `text` with every blank filled by `model`, e.g. "Tsinghua University is located in [MASK]."
func fillBlanks(in text: String, model: GLMModel, tokenizer: GLMTokenizer) throws -> String {
    var config = GenerationConfig()
    config.greedy = true          // or sample (temperature, topK, topP), or set numBeams > 1
    config.maxNewTokens = 16      // per blank
    let filled = try BlankFiller(model: model).fill(text: text, tokenizer: tokenizer, config: config)
    return filled.text            // also: filled.fills (ids, stop reason, score), filled.fillTexts
}

/// Fine-tunes `pretrained` on a cloze task; returns the folder of the best dev model.
func finetune(task: String, pretrained: URL, train: URL, dev: URL, output: URL, epochs: Int) throws -> URL {
    var config = FinetuneConfig()
    config.task = task                 // "rte", "copa", …, "bigbench", or a task file
    config.model = pretrained.path
    config.trainData = train.path
    config.devData = dev.path          // scored after every epoch; the best model is kept
    config.output = output.path        // checkpoints, metrics.jsonl, tensorboard/, model/, best.json
    config.epochs = epochs             // unset fields take the task's official settings
    let tuner = try Finetuner(config: config, resume: false) { message in print(message) }
    let summary = try tuner.run()
    if let best = summary.best { print("best dev \(best.metric) \(best.value) at epoch \(best.epoch)") }
    return output.appendingPathComponent("model")
}

/// The task's metrics (in percent) of `model` on the dev file `dev`.
func score(model: GLMModel, tokenizer: GLMTokenizer, task name: String, dev: URL) throws -> [(name: String, value: Double)] {
    let task = try ClozeTask.named(name)
    let length = min(task.defaults.seqLength, model.config.maxSequenceLength)
    let encoder = try ClozeEncoder(task: task, tokenizer: tokenizer, seqLength: length)
    let examples = try task.read(dev, split: .dev)
    return try ClozeEvaluator.evaluate(model: model, encoder: encoder, examples: examples, head: ClozeHead(task.defaults)).metrics
}

/// Pretrains a GLM on the text files or folders in `corpus`; returns the saved model folder.
func pretrain(corpus: [String], tokenizer: URL, output: URL, steps: Int) throws -> URL {
    var config = try TrainConfig.preset("tiny")   // or "small", "glm-base", "glm-large"
    config.data = corpus                          // text files/folders, or shards from `glm prepare`
    config.tokenizer = tokenizer.path
    config.output = output.path                   // checkpoints, metrics.jsonl, tensorboard/, model/
    config.steps = steps
    let trainer = try Trainer(config: config, resume: false) { message in print(message) }
    let summary = try trainer.run()
    print("trained \(summary.steps) steps, last loss \(summary.finalLoss)")
    return output.appendingPathComponent("model")
}

final class DocSnippetsTests: XCTestCase {
    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let article = repo.appendingPathComponent("Sources/GLM/GLM.docc/GettingStarted.md")
    var tmp: URL!

    override func setUpWithError() throws {
        tmp = FileManager.default.temporaryDirectory.appendingPathComponent("glm-docs-\(getpid())-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: tmp, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: tmp) }

    /// The ```swift blocks of a Markdown file.
    static func swiftBlocks(_ markdown: String) -> [[String]] {
        var blocks: [[String]] = [], current: [String]? = nil
        for line in markdown.components(separatedBy: "\n") {
            let t = line.trimmingCharacters(in: .whitespaces)
            if current == nil, t == "```swift" { current = [] }
            else if current != nil, t == "```" { blocks.append(current!); current = nil }
            else if current != nil { current!.append(line) }
        }
        return blocks
    }

    static func significant(_ lines: [String]) -> [String] {
        lines.map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    func testArticleCodeIsThisCode() throws {
        let blocks = Self.swiftBlocks(try String(contentsOf: Self.article, encoding: .utf8))
        XCTAssertGreaterThanOrEqual(blocks.count, 8, "the article lost its code blocks")
        let here = Self.significant(try String(contentsOf: URL(fileURLWithPath: #filePath), encoding: .utf8).components(separatedBy: "\n"))
        let manifest = try String(contentsOf: Self.repo.appendingPathComponent("Package.swift"), encoding: .utf8)
        for block in blocks {
            let lines = Self.significant(block)
            if lines.contains(where: { $0.hasPrefix(".package(") }) {
                // The manifest excerpt: the products it names are this package's libraries.
                XCTAssertTrue(manifest.contains("name: \"swift-glm\""))
                let products = lines.compactMap { l -> String? in
                    guard let r = l.range(of: ".product(name: \"") else { return nil }
                    return String(l[r.upperBound...].prefix { $0 != "\"" })
                }
                XCTAssertEqual(products, ["GLM", "GLMTokenizers", "GLMTasks", "GLMTrain"])
                for p in products { XCTAssertTrue(manifest.contains(".library(name: \"\(p)\""), p) }
                continue
            }
            let found = here.indices.contains { i in i + lines.count <= here.count && Array(here[i..<(i + lines.count)]) == lines }
            XCTAssertTrue(found, "this article block is not in DocSnippetsTests.swift:\n\(block.joined(separator: "\n"))")
        }
    }

    /// The tiny fixture model with a small WordPiece vocabulary of its own (33 + sop/eop < 128 rows).
    func fixtureFolder() throws -> URL {
        let fixture = Self.repo.appendingPathComponent("Tests/GLMTests/Fixtures/model-tiny")
        let folder = tmp.appendingPathComponent("model-tiny")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        for f in ["config.json", "model.safetensors"] {
            try FileManager.default.copyItem(at: fixture.appendingPathComponent(f), to: folder.appendingPathComponent(f))
        }
        let words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "cat", "sat", "on", "mat", "dog", "a", "is",
                     "in", "located", "university", "ts", "##ing", "##hua", ".", ",", "it", "was", "day", "fine",
                     "and", "of", "to", "he", "she", "said", "##s", "!"]
        try (words.joined(separator: "\n") + "\n").write(to: folder.appendingPathComponent("vocab.txt"), atomically: true, encoding: .utf8)
        return folder
    }

    func testLoadTokenizeAndFillOnTheTinyFixtureModel() throws {
        let folder = try fixtureFolder()
        let (model, tokenizer) = try loadModel(from: folder)
        XCTAssertEqual(model.config.vocabSize, 128)
        XCTAssertEqual(tokenizer.numTokens, 35)
        XCTAssertEqual(tokenStrings(of: "Tsinghua University is located in [MASK].", tokenizer: tokenizer),
                       ["ts", "##ing", "##hua", "university", "is", "located", "in", "[MASK]", "."])
        let text = "The cat sat on the [MASK]."
        let filled = try fillBlanks(in: text, model: model, tokenizer: tokenizer)
        XCTAssertTrue(filled.hasPrefix("the cat sat on the"), filled)
        XCTAssertTrue(filled.hasSuffix("."), filled)
        // An untrained model writes anything, command tokens included; the blank is gone either way.
        XCTAssertFalse(filled.contains("[MASK]") || filled.contains("[CLS]"), filled)
        XCTAssertEqual(try fillBlanks(in: text, model: model, tokenizer: tokenizer), filled, "greedy filling is deterministic")
        // A tokenizer with more ids than the model has rows is refused, naming both sizes.
        XCTAssertThrowsError(try loadModel(from: folder, tokenizerFolder: Self.repo.appendingPathComponent("Resources/tokenizers/bert-base-uncased"))) {
            XCTAssertTrue("\($0)".contains("30524 tokens") && "\($0)".contains("128 rows"), "\($0)")
        }
    }

    func testPretrainThenLoadAndFill() throws {
        let book = try String(contentsOf: Self.repo.appendingPathComponent("Resources/corpus/valid/persuasion.txt"), encoding: .utf8)
        let corpus = tmp.appendingPathComponent("corpus.txt")
        try String(book.prefix(30_000)).write(to: corpus, atomically: true, encoding: .utf8)
        let modelFolder = try pretrain(corpus: [corpus.path], tokenizer: Self.repo.appendingPathComponent("Resources/tokenizers/bert-base-uncased"),
                                       output: tmp.appendingPathComponent("run"), steps: 3)
        XCTAssertEqual(modelFolder, tmp.appendingPathComponent("run/model"))
        let (model, tokenizer) = try loadModel(from: modelFolder)
        XCTAssertEqual(model.config, try TrainConfig.preset("tiny").resolvedModel())
        XCTAssertEqual(tokenizer.family, .bertWordPiece)
        XCTAssertEqual(tokenizer.numTokens, 30524)
        let filled = try fillBlanks(in: "It was a [MASK] day.", model: model, tokenizer: tokenizer)
        XCTAssertTrue(filled.hasPrefix("it was a"), filled)
        XCTAssertTrue(filled.hasSuffix(" day."), filled)
        XCTAssertFalse(filled.contains("[MASK]") || filled.contains("[CLS]"), filled)
    }

    func testFinetuneThenScore() throws {
        let book = try String(contentsOf: Self.repo.appendingPathComponent("Resources/corpus/valid/persuasion.txt"), encoding: .utf8)
        let corpus = tmp.appendingPathComponent("corpus.txt")
        try String(book.prefix(20_000)).write(to: corpus, atomically: true, encoding: .utf8)
        let pretrained = try pretrain(corpus: [corpus.path], tokenizer: Self.repo.appendingPathComponent("Resources/tokenizers/bert-base-uncased"),
                                      output: tmp.appendingPathComponent("pre"), steps: 2)
        let task = Self.repo.appendingPathComponent("Resources/eval/learnable")
        let lines = try String(contentsOf: task.appendingPathComponent("train.jsonl"), encoding: .utf8).split(separator: "\n")
        let train = tmp.appendingPathComponent("train.jsonl"), dev = tmp.appendingPathComponent("dev.jsonl")
        try (lines.prefix(48).joined(separator: "\n") + "\n").write(to: train, atomically: true, encoding: .utf8)
        try (lines.suffix(32).joined(separator: "\n") + "\n").write(to: dev, atomically: true, encoding: .utf8)
        let folder = try finetune(task: task.appendingPathComponent("task.json").path, pretrained: pretrained, train: train, dev: dev,
                                  output: tmp.appendingPathComponent("ft"), epochs: 1)
        let (model, tokenizer) = try loadModel(from: folder)
        let metrics = try score(model: model, tokenizer: tokenizer, task: task.appendingPathComponent("task.json").path, dev: dev)
        XCTAssertEqual(metrics.map(\.name), ["accuracy"])
        let best = try JSONSerialization.jsonObject(with: Data(contentsOf: tmp.appendingPathComponent("ft/best.json"))) as! [String: Any]
        XCTAssertEqual(metrics[0].value, best["value"] as! Double, accuracy: 1e-9, "the kept model scores what best.json says")
    }
}
