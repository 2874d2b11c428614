import Foundation
import Testing
import GLM
import GLMTokenizers
import GLMTasks
import GLMTestSupport
import GLMSystem

/// `glm evaluate --task seq2seq|blank-infill|lambada|perplexity` and `glm cloze` printing their
/// inputs, end to end on the tiny model of ``EvaluationTests`` (V = 128, P = 32, a 100-word BERT
/// vocabulary): the contract's JSON keys, the prediction files, the same numbers as the library,
/// and bad input refused with clear messages and nothing written.
@Suite(.serialized) struct GenerationEvaluateCLITests {
    static let folder: URL = {
        let dir = EvaluationTests.modelFolder.appendingPathComponent("generation-data")
        try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }()

    static func file(_ name: String, _ text: String) -> URL {
        let u = folder.appendingPathComponent(name)
        try! Data(text.utf8).write(to: u)
        return u
    }

    static let seq2seqData = file("s2s.jsonl", """
    {"source": "the cat ran to the house because it was cold", "target": "the cat was cold"}
    {"source": "i liked the movie but the plot was long", "target": "a long movie"}
    {"source": "the sun rose and the grass was wet", "target": "wet grass"}

    """)
    static let texts = file("texts.txt", """
    the cat ran to the house because it was cold and the dog slept in the sun
    short
    the sun rose and the grass was wet but the sky was blue and the sea was warm

    """)
    static let lambadaData = file("lambada.jsonl", """
    {"text": "the cat ran to the house because it was cold"}
    {"text": "the sun rose and the grass was wet"}
    {"text": "i liked the movie but the plot was long and boring"}

    """)

    static var model: String { EvaluationTests.modelFolder.path }

    static func keys(_ v: JSONValue) -> [String] {
        guard case let .object(pairs) = v else { return [] }
        return pairs.map(\.key)
    }

    static func number(_ v: JSONValue?) -> Double? {
        switch v {
        case let .double(d)?: return d
        case let .int(i)?: return Double(i)
        default: return nil
        }
    }

    static func lines(_ url: URL) throws -> [JSONValue] {
        try String(contentsOf: url, encoding: .utf8).split(separator: "\n").map { try JSONParser.parse(String($0)) }
    }

    static let enabled = GLMExecutable.url != nil

    // MARK: - seq2seq

    @Test(.enabled(if: enabled, "the glm executable is not built next to the tests"))
    func seq2seqPrintsRougeAndBleuAndWritesPredictions() throws {
        let preds = Self.folder.appendingPathComponent("s2s-preds.jsonl")
        let r = try GLMExecutable.run(["evaluate", "--model", Self.model, "--task", "seq2seq", "--data", Self.seq2seqData.path,
                              "--source-length", "24", "--target-length", "6", "--num-beams", "3", "--output", preds.path])
        #expect(r.rc == 0, "\(r.err)")
        let summary = try JSONParser.parse(r.out)
        #expect(Self.keys(summary) == ["task", "seq2seq_task", "examples", "rouge1", "rouge2", "rougeL", "rougeLsum", "bleu"])
        #expect(summary["seq2seq_task"] == .string("xsum") && summary["examples"] == .int(3))
        // The library with the same settings: xsum's, with the flags applied (its minimum, 10,
        // follows the shorter target).
        var s = Seq2SeqTask.xsum.settings
        s.sourceLength = 24; s.targetLength = 6; s.numBeams = 3; s.minTargetLength = 6
        let tok = try EvaluationTests.tokenizer()
        let encoder = try Seq2SeqEncoder(tokenizer: tok, task: .xsum, sourceLength: 24, targetLength: 6)
        let examples = try Seq2SeqReader.read(Self.seq2seqData, task: .xsum)
        let lib = try Seq2SeqEvaluator.evaluate(model: EvaluationTests.model(), encoder: encoder, examples: examples,
                                                config: Seq2SeqTask.xsum.generationConfig(s), batchSize: 1)
        for (k, v) in [("rouge1", lib.scores.rouge1), ("rouge2", lib.scores.rouge2), ("rougeL", lib.scores.rougeL),
                       ("rougeLsum", lib.scores.rougeLsum), ("bleu", lib.scores.bleu)] {
            #expect(Self.number(summary[k]) == v, "\(k)")
        }
        let lines = try Self.lines(preds)
        #expect(lines.count == 3)
        for (l, p) in zip(lines, lib.predictions) {
            #expect(Self.keys(l) == ["id", "prediction", "reference"])
            #expect(l["prediction"] == .string(p.prediction) && l["reference"] == .string(p.reference) && l["id"] == .string(p.id))
            #expect(p.tokens.count == 6, "min = max target length: every prediction has 6 tokens")
        }
        // The references are the targets after a tokenizer round trip.
        #expect(lines.map { $0["reference"] } == [.string("the cat was cold"), .string("a long movie"), .string("wet grass")])
    }

    /// The lead baseline: the first line of each source, through the tokenizer, scored as a model's
    /// predictions are; the model's weights are not read.
    @Test(.enabled(if: enabled, "the glm executable is not built next to the tests"))
    func leadBaselineScoresTheFirstLines() throws {
        let data = Self.file("lead.jsonl", """
        {"source": "the cat was cold and the dog was warm\\nthe sun rose", "target": "the cat was cold and the dog was warm"}
        {"source": "a long movie is a long movie\\nthe end", "target": "the sea was blue and the sky was red"}

        """)
        let noWeights = Self.folder.appendingPathComponent("no-weights")
        try? FileManager.default.createDirectory(at: noWeights, withIntermediateDirectories: true)
        for f in ["config.json", "vocab.txt"] where !FileManager.default.fileExists(atPath: noWeights.appendingPathComponent(f).path) {
            try FileManager.default.copyItem(at: EvaluationTests.modelFolder.appendingPathComponent(f), to: noWeights.appendingPathComponent(f))
        }
        let out = Self.folder.appendingPathComponent("lead-preds.jsonl")
        let r = try GLMExecutable.run(["evaluate", "--model", noWeights.path, "--task", "seq2seq", "--data", data.path, "--lead-baseline", "1",
                              "--output", out.path])
        #expect(r.rc == 0, "\(r.err)")
        let summary = try JSONParser.parse(r.out)
        // Example 1 is word for word its reference (F = 1); example 2 shares no word with its (F = 0).
        let lib = try Seq2SeqEvaluator.scores(predictions: ["the cat was cold and the dog was warm", "a long movie is a long movie"],
                                              references: ["the cat was cold and the dog was warm", "the sea was blue and the sky was red"],
                                              mode: .cnnDM)
        #expect(Self.number(summary["rouge1"]) == lib.rouge1 && Self.number(summary["bleu"]) == lib.bleu)
        #expect(lib.rouge1 == 50 && lib.rouge2 == 50 && lib.rougeLsum == 50)
        #expect(try Self.lines(out).map { $0["prediction"] } == [.string("the cat was cold and the dog was warm"), .string("a long movie is a long movie")])
        let wrong = try GLMExecutable.run(["evaluate", "--model", noWeights.path, "--task", "lambada", "--data", Self.lambadaData.path, "--lead-baseline", "1"])
        #expect(wrong.rc != 0 && wrong.err.contains("--lead-baseline is for --task seq2seq"))
    }

    @Test(.enabled(if: enabled, "the glm executable is not built next to the tests"))
    func lineAlignedFilesGiveTheSameAsJSONLines() throws {
        let src = Self.file("val.source", "the cat ran to the house because it was cold\ni liked the movie but the plot was long\nthe sun rose and the grass was wet\n")
        _ = Self.file("val.target", "the cat was cold\na long movie\nwet grass\n")
        let args = ["--model", Self.model, "--task", "seq2seq", "--source-length", "24", "--target-length", "5", "--num-beams", "2"]
        let a = try GLMExecutable.run(["evaluate"] + args + ["--data", src.path])
        let b = try GLMExecutable.run(["evaluate"] + args + ["--data", Self.seq2seqData.path])
        #expect(a.rc == 0 && b.rc == 0, "\(a.err) \(b.err)")
        #expect(a.out == b.out)
        // A folder means its test.source / test.target.
        let dir = Self.folder.appendingPathComponent("xsum-folder")
        try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try FileManager.default.removeItem(at: dir)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: src, to: dir.appendingPathComponent("test.source"))
        try FileManager.default.copyItem(at: Self.folder.appendingPathComponent("val.target"), to: dir.appendingPathComponent("test.target"))
        let c = try GLMExecutable.run(["evaluate"] + args + ["--data", dir.path])
        #expect(c.rc == 0 && c.out == a.out, "\(c.err)")
        // A BIG-bench generative task.json (input → source, target → target; a list's first target).
        let bb = Self.file("task.json", """
        {"name": "tiny", "examples": [
          {"input": "the cat ran to the house because it was cold", "target": "the cat was cold"},
          {"input": "i liked the movie but the plot was long", "target": ["a long movie", "long"]},
          {"input": "the sun rose and the grass was wet", "target": "wet grass"}]}
        """)
        let d = try GLMExecutable.run(["evaluate"] + args + ["--data", bb.path])
        #expect(d.rc == 0 && d.out == a.out, "\(d.err)")
        let broken = Self.file("broken-task.json", #"{"examples": [{"input": "a b", "target": "c"}, {"input": "d e"}]}"#)
        let e = try GLMExecutable.run(["evaluate"] + args + ["--data", broken.path])
        #expect(e.rc != 0 && e.err.contains("broken-task.json") && e.err.contains("missing field \"examples[1].target\""), "\(e.err)")
    }

    @Test(.enabled(if: enabled, "the glm executable is not built next to the tests"))
    func seq2seqBadInputIsRefusedAndNothingIsWritten() throws {
        let out = Self.folder.appendingPathComponent("never.jsonl")
        try? FileManager.default.removeItem(at: out)
        func refused(_ extra: [String], _ message: String, sourceLength: String = "24") throws {
            let r = try GLMExecutable.run(["evaluate", "--model", Self.model, "--task", "seq2seq", "--source-length", sourceLength,
                                  "--target-length", "4", "--output", out.path] + extra)
            #expect(r.rc != 0 && r.err.contains(message), "\(extra): \(r.err)")
            #expect(!FileManager.default.fileExists(atPath: out.path), "\(extra) wrote the predictions file")
        }
        // Misaligned files: both counts named.
        let src = Self.file("bad.source", "a b\nc d\nthe cat\n")
        _ = Self.file("bad.target", "x\ny\n")
        try refused(["--data", src.path], "bad.target: has 2 lines but bad.source has 3; the files must be line-aligned")
        // An empty target, late in the file.
        let empty = Self.file("empty.jsonl", "{\"source\": \"the cat\", \"target\": \"a cat\"}\n{\"source\": \"the dog\", \"target\": \"  \"}\n")
        try refused(["--data", empty.path], "empty.jsonl:2: empty target")
        // A task-mask layout with a tokenizer without [sMASK].
        try refused(["--data", Self.seq2seqData.path, "--task-mask"], "the task-mask layout needs [sMASK], which the bertWordPiece tokenizer does not have")
        // Longer than the model's positions.
        try refused(["--data", Self.seq2seqData.path], "--source-length 40 is longer than the model's max_sequence_length 32", sourceLength: "40")
        // A question-generation answer longer than every source length allows, on line 2.
        let long = Array(repeating: "cat", count: 30).joined(separator: " ")
        let qg = Self.file("qg.jsonl", "{\"source\": \"the cat ran\", \"target\": \"who ran\", \"answer\": \"the cat\"}\n{\"source\": \"the cat ran\", \"target\": \"who ran\", \"answer\": \"\(long)\"}\n")
        try refused(["--data", qg.path, "--seq2seq-task", "squad_generation"], "qg.jsonl:2: source length 24 leaves no room for the context after the 32-token answer")
        // Settings out of range.
        try refused(["--data", Self.seq2seqData.path, "--min-target-length", "5"], "--min-target-length must be in [0, target length 4], got 5")
        try refused(["--data", Self.seq2seqData.path, "--seq2seq-task", "summaries"], "unknown seq2seq task \"summaries\"")
        // An existing predictions file is left as it was.
        try Data("keep\n".utf8).write(to: out)
        let r = try GLMExecutable.run(["evaluate", "--model", Self.model, "--task", "seq2seq", "--data", empty.path, "--source-length", "24",
                              "--output", out.path])
        let kept = try String(contentsOf: out, encoding: .utf8)
        #expect(r.rc != 0 && kept == "keep\n")
        try FileManager.default.removeItem(at: out)
    }

    // MARK: - Blank infilling

    @Test(.enabled(if: enabled, "the glm executable is not built next to the tests"))
    func blankInfillPrintsBleuAndWritesPredictions() throws {
        let preds = Self.folder.appendingPathComponent("blank-preds.jsonl")
        let r = try GLMExecutable.run(["evaluate", "--model", Self.model, "--task", "blank-infill", "--mask-ratio", "0.3", "--data", Self.texts.path,
                              "--source-length", "24", "--target-length", "12", "--output", preds.path])
        #expect(r.rc == 0, "\(r.err)")
        let summary = try JSONParser.parse(r.out)
        #expect(Self.keys(summary) == ["task", "mask_ratio", "examples", "skipped", "bleu"])
        // "short" has one word: int(1 · 0.3) = 0 blanks, left out.
        #expect(summary["examples"] == .int(2) && summary["skipped"] == .int(1))
        let task = try BlankInfilling(tokenizer: EvaluationTests.tokenizer(), sourceLength: 24, maskRatio: 0.3)
        var s = Seq2SeqTask.blank.settings
        s.sourceLength = 24; s.targetLength = 12
        let (examples, _) = try BlankInfilling.examples(Self.texts, maskRatio: 0.3)
        let lib = try BlankInfillingEvaluator.evaluate(model: EvaluationTests.model(), task: task, examples: examples,
                                                       config: Seq2SeqTask.blank.generationConfig(s), batchSize: 8)
        #expect(Self.number(summary["bleu"]) == lib.bleu.score)
        let lines = try Self.lines(preds)
        #expect(lines.count == 2)
        for (l, p) in zip(lines, lib.predictions) {
            #expect(l["prediction"] == .string(p.prediction) && l["reference"] == .string(p.reference) && l["source"] == .string(p.source))
        }
        #expect(lines[0]["reference"] == .string("the cat ran to the house because it was cold and the dog slept in the sun"))
        // The masks are the official mask_text's with random.Random(1234), text by text.
        var rng = PythonRandom(seed: 1234)
        let first = BlankInfilling.mask("the cat ran to the house because it was cold and the dog slept in the sun", ratio: 0.3, rng: &rng)
        #expect(lines[0]["source"] == .string(first.source))
        // Refused: no ratio, beams, an unreadable folder layout.
        let noRatio = try GLMExecutable.run(["evaluate", "--model", Self.model, "--task", "blank-infill", "--data", Self.texts.path])
        #expect(noRatio.rc != 0 && noRatio.err.contains("--task blank-infill needs --mask-ratio R"))
        let beams = try GLMExecutable.run(["evaluate", "--model", Self.model, "--task", "blank-infill", "--mask-ratio", "0.2", "--num-beams", "2",
                                  "--data", Self.texts.path])
        #expect(beams.rc != 0 && beams.err.contains("blank infilling decodes greedily"))
        let official = Self.folder.appendingPathComponent("yahoo")
        try? FileManager.default.removeItem(at: official)
        try FileManager.default.createDirectory(at: official.appendingPathComponent("blank"), withIntermediateDirectories: true)
        try Data("the cat ran\nthe dog slept\n".utf8).write(to: official.appendingPathComponent("test.txt"))
        try Data("the <blank> ran\n".utf8).write(to: official.appendingPathComponent("blank/test.maskratio0.2.blank"))
        let misaligned = try GLMExecutable.run(["evaluate", "--model", Self.model, "--task", "blank-infill", "--mask-ratio", "0.2", "--data", official.path])
        #expect(misaligned.rc != 0 && misaligned.err.contains("test.maskratio0.2.blank: has 1 lines but test.txt has 2"), "\(misaligned.err)")
        try Data("the <blank> ran\n<blank> dog slept\n".utf8).write(to: official.appendingPathComponent("blank/test.maskratio0.2.blank"))
        let ok = try GLMExecutable.run(["evaluate", "--model", Self.model, "--task", "blank-infill", "--mask-ratio", "0.2", "--data", official.path,
                               "--source-length", "16", "--target-length", "8"])
        #expect(ok.rc == 0, "\(ok.err)")
        let okSummary = try JSONParser.parse(ok.out)
        #expect(okSummary["examples"] == .int(2))
    }

    // MARK: - LAMBADA and perplexity

    @Test(.enabled(if: enabled, "the glm executable is not built next to the tests"))
    func lambadaPrintsAccuracyAndExamples() throws {
        let tok = try EvaluationTests.tokenizer(), m = try EvaluationTests.model()
        for uni in [false, true] {
            let preds = Self.folder.appendingPathComponent("lambada-preds.jsonl")
            let r = try GLMExecutable.run(["evaluate", "--model", Self.model, "--task", "lambada", "--data", Self.lambadaData.path, "--output", preds.path]
                                 + (uni ? ["--unidirectional"] : []))
            #expect(r.rc == 0, "\(r.err)")
            let summary = try JSONParser.parse(r.out)
            #expect(Self.keys(summary) == ["task", "unidirectional", "examples", "correct", "accuracy"])
            let task = try Lambada(tokenizer: tok, seqLength: 32, unidirectional: uni)
            let samples = try Lambada.texts(Self.lambadaData).enumerated().map { try task.sample($1.text, id: "\($0)") }
            let lib = try LanguageModelScoring.lambada(model: m, samples: samples)
            #expect(summary["examples"] == .int(3) && summary["correct"] == .int(lib.correct))
            #expect(Self.number(summary["accuracy"]) == 100 * lib.accuracy)
            let lines = try Self.lines(preds)
            #expect(lines.map { $0["target"] } == [.string("cold"), .string("wet"), .string("boring")])
        }
        let missing = Self.file("nolambada.jsonl", "{\"text\": \"a b\"}\n{\"passage\": \"c d\"}\n")
        let r = try GLMExecutable.run(["evaluate", "--model", Self.model, "--task", "lambada", "--data", missing.path])
        #expect(r.rc != 0 && r.err.contains("nolambada.jsonl:2: missing field \"text\""), "\(r.err)")
    }

    @Test(.enabled(if: enabled, "the glm executable is not built next to the tests"))
    func perplexityPrintsPplAdjustedPplTokensAndWords() throws {
        let tok = try EvaluationTests.tokenizer(), m = try EvaluationTests.model()
        for (mode, seq, overlap) in [("whole", 32, 31), ("lines", 16, 4)] {
            let r = try GLMExecutable.run(["evaluate", "--model", Self.model, "--task", "perplexity", "--data", Self.texts.path, "--text-format", mode,
                                  "--seq-length", "\(seq)", "--overlap", "\(overlap)"])
            #expect(r.rc == 0, "\(r.err)")
            let summary = try JSONParser.parse(r.out)
            #expect(Array(Self.keys(summary).prefix(5)) == ["task", "ppl", "adjusted_ppl", "tokens", "words"])
            let task = try Perplexity(tokenizer: tok, seqLength: seq, overlap: overlap)
            let corpus = try task.corpus(Self.texts, mode: Perplexity.Mode(rawValue: mode)!)
            let lib = try LanguageModelScoring.perplexity(model: m, task: task, corpus: corpus)
            #expect(Self.number(summary["ppl"]) == lib.ppl && Self.number(summary["adjusted_ppl"]) == lib.adjustedPpl)
            #expect(summary["tokens"] == .int(lib.tokens) && summary["words"] == .int(lib.words))
        }
        let long = try GLMExecutable.run(["evaluate", "--model", Self.model, "--task", "perplexity", "--data", Self.texts.path, "--seq-length", "64"])
        #expect(long.rc != 0 && long.err.contains("--seq-length 64 is longer than the model's max_sequence_length 32"))
        let gap = try GLMExecutable.run(["evaluate", "--model", Self.model, "--task", "perplexity", "--data", Self.texts.path, "--seq-length", "16",
                                "--overlap", "16"])
        #expect(gap.rc != 0 && gap.err.contains("--overlap 16 must not exceed the window of 15 tokens"), "\(gap.err)")
        let format = try GLMExecutable.run(["evaluate", "--model", Self.model, "--task", "perplexity", "--data", Self.texts.path, "--text-format", "pages"])
        #expect(format.rc != 0 && format.err.contains("--text-format must be one of wikitext, lines, whole"))
    }

    // MARK: - Printing the inputs

    @Test(.enabled(if: enabled, "the glm executable is not built next to the tests"))
    func clozePrintsTheInputsOfEveryKind() throws {
        let tok = try EvaluationTests.tokenizer()
        func printed(_ args: [String]) throws -> [String] {
            let r = try GLMExecutable.run(["cloze", "--tokenizer", Self.model] + args)
            #expect(r.rc == 0, "\(args): \(r.err)")
            return r.out.split(separator: "\n").map(String.init)
        }
        func lines(_ records: [[String: Any]]) throws -> [String] {
            try records.map { String(decoding: try JSONSerialization.data(withJSONObject: $0, options: [.sortedKeys, .withoutEscapingSlashes]), as: UTF8.self) }
        }
        let encoder = try Seq2SeqEncoder(tokenizer: tok, task: .gigaword, sourceLength: 20, targetLength: 6)
        let examples = try Seq2SeqReader.read(Self.seq2seqData, task: .gigaword)
        for train in [false, true] {
            #expect(try printed(["--task", "seq2seq", "--seq2seq-task", "gigaword", "--data", Self.seq2seqData.path, "--source-length", "20",
                                 "--target-length", "6"] + (train ? ["--train"] : []))
                    == lines(InputRecords.seq2seq(encoder, examples: examples, training: train)))
        }
        let lambada = try Lambada(tokenizer: tok, seqLength: 24, unidirectional: true)
        #expect(try printed(["--task", "lambada", "--data", Self.lambadaData.path, "--seq-length", "24", "--unidirectional"])
                == lines(InputRecords.lambada(lambada, texts: Lambada.texts(Self.lambadaData))))
        let ppl = try Perplexity(tokenizer: tok, seqLength: 16, overlap: 4)
        #expect(try printed(["--task", "perplexity", "--data", Self.texts.path, "--seq-length", "16", "--overlap", "4"])
                == lines(InputRecords.perplexity(ppl, corpus: ppl.corpus(Self.texts, mode: .whole))))
        let blank = try BlankInfilling(tokenizer: tok, sourceLength: 20, maskRatio: 0.2)
        #expect(try printed(["--task", "blank-infill", "--mask-ratio", "0.2", "--data", Self.texts.path, "--source-length", "20"])
                == lines(InputRecords.blankInfilling(blank, examples: BlankInfilling.examples(Self.texts, maskRatio: 0.2).examples)))
        // The official LAMBADA sample, padded to the sequence length, with its decoded target.
        let first = try JSONParser.parse(try printed(["--task", "lambada", "--data", Self.lambadaData.path, "--seq-length", "24"])[0])
        #expect(first["target"] == .string("cold"))
        if case let .array(ids)? = first["input_ids"] { #expect(ids.count == 24) } else { Issue.record("no input_ids") }
    }
}
