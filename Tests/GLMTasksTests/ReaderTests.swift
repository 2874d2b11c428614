import Foundation
import Testing
import GLMTokenizers
import GLMTasks
import GLMSystem

/// The task readers on hand-written files in the SuperGLUE release's format, BIG-bench's and task
/// files', and the errors for bad input (each names the file, line and field).
@Suite struct ReaderTests {
    static func read(_ t: SuperGLUETask, _ file: String, _ split: DataSplit) throws -> [TaskExample] {
        try SuperGLUEReader.read(t, url: Fixtures.data(t, file), split: split)
    }

    /// The error a throwing call raises, as text.
    static func message(_ body: () throws -> Any) -> String {
        do { _ = try body(); return "no error" } catch { return "\(error)" }
    }

    @Test func entailmentTasks() throws {
        let rte = try Self.read(.rte, "train.jsonl", .train)
        #expect(rte.map(\.guid) == ["train-0", "train-1", "train-7", "train-3", "train-4", "train-5"])  // "7" → 7, "abc" → line index
        #expect(rte[0].label == 1 && rte[1].label == 0)
        #expect(rte[1].textA.contains("The \"celebration\" - which") && rte[1].textA.contains("hadn't"))  // punctuation standardised
        let val = try Self.read(.rte, "val.jsonl", .dev)
        #expect(val.map(\.guid) == ["dev-0", "dev-1", "dev-2"] && val[2].label == nil)
        let cb = try Self.read(.cb, "train.jsonl", .train)
        #expect(cb.map(\.label) == [0, 1, 2])
    }

    @Test func boolqAndWic() throws {
        let b = try Self.read(.boolq, "train.jsonl", .train)
        #expect(b.map(\.label) == [1, 0])
        #expect(b[0].textB == "do iran and afghanistan speak the same language" && b[0].textA.hasPrefix("Persian language"))
        let v = try Self.read(.boolq, "val.jsonl", .dev)
        #expect(v[1].textB == "is barq's root beer a pepsi product")
        let w = try Self.read(.wic, "train.jsonl", .train)
        #expect(w.map(\.guid) == ["train-0", "train-1", "train-2", "train-3"] && w.map(\.label) == [0, 0, 1, 1])
        #expect(w[0].meta.word == "place")
        #expect(try Self.read(.wic, "val.jsonl", .dev)[1].label == 0)  // no label reads as "false", as the official reader
    }

    @Test func copaMirrorsTrainingExamples() throws {
        let train = try Self.read(.copa, "train.jsonl", .train)
        #expect(train.map(\.guid) == ["train-0", "train-1", "train-2", "train-0m", "train-1m", "train-2m"])
        #expect(train.map(\.label) == [0, 1, 0, 1, 0, 1])
        #expect(train[3].meta.choice1 == "The grass was cut." && train[3].meta.choice2 == "The sun was rising.")
        let dev = try Self.read(.copa, "val.jsonl", .dev)
        #expect(dev.count == 2 && dev[1].label == nil)
    }

    @Test func multircIsOneExamplePerAnswer() throws {
        let m = try Self.read(.multirc, "train.jsonl", .train)
        #expect(m.map(\.guid) == ["train-p0-q0-a0", "train-p0-q0-a1", "train-p0-q1-a2", "train-p0-q1-a3", "train-p0-q1-a4", "train-p1-q2-a5", "train-p1-q2-a6"])
        #expect(m.map(\.label) == [1, 0, 1, 1, 0, 1, 0])
        #expect(m[2].textB == "How many friends does Susan have?" && m[2].meta.answer == "Five" && m[2].meta.questionIdx == "1")
    }

    @Test func recordEntitiesAnswersAndSampledNegatives() throws {
        let dev = try Self.read(.record, "val.jsonl", .dev)
        #expect(dev.map(\.guid) == ["dev-p5-q0", "dev-p5-q1", "dev-p6-q0"])
        #expect(dev[0].meta.candidates == ["Bale", "Gareth Bale", "Harry Redknapp", "Inter Milan", "Tottenham", "Welsh", "White Hart Lane"])
        #expect(dev[0].meta.answers == ["Tottenham"] && dev[0].label == 1)
        #expect(dev[0].textA.contains("Milan.\n- Bale scored"))  // "@highlight\n" → "- "
        let train = try Self.read(.record, "train.jsonl", .train)
        #expect(train.map(\.guid) == ["train-p0-q0-a0", "train-p0-q1-a0", "train-p1-q0-a0", "train-p1-q0-a1"])
        // 12 entities: the answer and 9 of the 11 others, drawn by the file's random.Random(42).
        #expect(train[0].meta.candidates?.count == 10 && train[0].meta.candidates?.first == "Afghanistan")
        #expect(train[3].meta.candidates == ["Bale", "Harry Redknapp", "Inter Milan", "Tottenham", "Welsh", "White Hart Lane"])
    }

    @Test func wscRepairsSpansAndKeepsPositivesForTraining() throws {
        let train = try Self.read(.wsc, "train.jsonl", .train)
        // idx 1 and 5 are negative; idx 4 has 11 distinct candidates: two training examples of 9.
        #expect(train.map(\.guid) == ["train-0", "train-2", "train-3", "train-4", "train-4"])
        #expect(train[1].textA == "Joe gave the book to Tom because Tom asked for it , and he said thanks.")  // "it," split
        #expect(train[2].meta.span1Index == 0)  // off by one in the file
        #expect(train[3].meta.candidates?.count == 9 && train[4].meta.candidates?.count == 9)
        #expect(train[4].meta.candidates == ["the language", "Paris", "Adam", "French classes", "French", "classes", "the teacher", "his friend", "the school"])
        let dev = try Self.read(.wsc, "val.jsonl", .dev)
        #expect(dev.map(\.label) == [1, 0, 0] && dev[1].meta.candidates == nil)
        // The official reader fails on a pronoun glued to punctuation at the very end (IndexError).
        let bad = Fixtures.temp(#"{"text": "Tom asked for it.", "target": {"span1_index": 0, "span1_text": "Tom", "span2_index": 3, "span2_text": "it"}, "idx": 0, "label": true}"#)
        #expect(Self.message { try SuperGLUEReader.read(.wsc, url: bad, split: .dev) }.contains(":1: target.span2_index 4 is outside"))
    }

    @Test func bigBenchAndTaskFiles() throws {
        let bb = try ClozeTask.named("bigbench").read(Fixtures.folder.appendingPathComponent("bigbench/task.json"), split: .dev)
        #expect(bb.map(\.label) == [0, 0, 1, 2])  // the first best choice
        #expect(bb[1].meta.choices == ["entailment", "neutral", "contradiction"])
        let task = try ClozeTask.named(Fixtures.folder.appendingPathComponent("generic/sentiment.json").path)
        #expect(task.labels == ["negative", "positive"])
        let jsonl = try task.read(Fixtures.folder.appendingPathComponent("generic/reviews.jsonl"), split: .train)
        let csv = try task.read(Fixtures.folder.appendingPathComponent("generic/reviews.csv"), split: .train)
        #expect(jsonl.map(\.guid) == ["train-r1", "train-r2", "train-r3"] && csv.map(\.guid) == jsonl.map(\.guid))
        #expect(jsonl.map(\.label) == [1, 0, 1] && csv.map(\.label) == [1, 0, 1])
        #expect(csv[1].meta.fields == jsonl[1].meta.fields)
        #expect(csv[2].meta.fields["sentence"] == "Nothing special, but the music was \"lovely\".")
        #expect(csv.map(\.line) == [2, 3, 4])
    }

    @Test func pythonRandomIsCPythons() {
        var r = PythonRandom(seed: 42)
        #expect((0..<5).map { _ in r.getrandbits(32) } == [2746317213, 478163327, 107420369, 3184935163, 1181241943])
        r = PythonRandom(seed: 42)
        var x = Array(0..<20), y = Array(0..<11)
        r.shuffle(&x); r.shuffle(&y)
        #expect(x == [19, 5, 14, 4, 9, 13, 15, 18, 6, 12, 17, 10, 1, 11, 2, 16, 7, 8, 0, 3])
        #expect(y == [7, 5, 0, 2, 4, 9, 1, 6, 10, 3, 8])
        r = PythonRandom(seed: 1 << 40 + 5)
        #expect((0..<3).map { _ in r.getrandbits(32) } == [2166296868, 2220160828, 1153647273])
        r = PythonRandom(seed: 0)
        #expect((0..<4).map { _ in r.getrandbits(7) } == [108, 49, 97, 113])
    }

    @Test func jsonParserKeepsOrderAndTypes() throws {
        let v = try JSONParser.parse(#"{"b": 1, "a": [true, 1.0, "x\u00e9\ud83d\ude00", null], "b": 2}"#)
        guard case let .object(pairs) = v else { Issue.record("not an object"); return }
        #expect(pairs.map(\.key) == ["b", "a"] && v["b"] == .int(2))
        #expect(v["a"] == .array([.bool(true), .double(1), .string("xé😀"), .null]))
        #expect(JSONValue.bool(true).pythonStr == "True" && JSONValue.double(1).pythonStr == "1.0")
        for bad in ["{", "[1,]", "{\"a\" 1}", "01", "\"\\q\"", "[1] 2", String(repeating: "[", count: 600)] {
            #expect(throws: JSONParser.Failure.self) { try JSONParser.parse(bad) }
        }
    }

    // MARK: - Bad input

    @Test func unknownTaskIsRefused() {
        #expect(Self.message { try ClozeTask.named("superglue-rte") }.contains("unknown task \"superglue-rte\": use one of boolq, cb, copa"))
    }

    @Test func missingFieldNamesLineAndField() {
        let rte = Fixtures.temp("""
        {"premise": "a", "hypothesis": "b", "label": "entailment", "idx": 0}
        {"premise": "a", "label": "entailment", "idx": 1}
        """)
        #expect(Self.message { try SuperGLUEReader.read(.rte, url: rte, split: .train) } == "\(rte.path):2: missing field \"hypothesis\"")
        let multirc = Fixtures.temp(#"{"idx": 0, "passage": {"text": "t", "questions": [{"question": "q", "idx": 0, "answers": [{"idx": 0, "label": 1}]}]}}"#)
        #expect(Self.message { try SuperGLUEReader.read(.multirc, url: multirc, split: .train) }
                == "\(multirc.path):1: missing field \"passage.questions[0].answers[0].text\"")
        let record = Fixtures.temp(#"{"idx": 0, "passage": {"text": "t", "entities": [{"start": 0}]}, "qas": []}"#)
        #expect(Self.message { try SuperGLUEReader.read(.record, url: record, split: .dev) }
                == "\(record.path):1: missing field \"passage.entities[0].end\"")
        let wrongType = Fixtures.temp(#"{"premise": 3, "hypothesis": "b", "idx": 0}"#)
        #expect(Self.message { try SuperGLUEReader.read(.cb, url: wrongType, split: .dev) }.hasSuffix(":1: field \"premise\" must be a string, got a number"))
    }

    @Test func labelOutsideTheLabelsIsRefused() throws {
        let cb = Fixtures.temp(#"{"premise": "a", "hypothesis": "b", "label": "maybe", "idx": 0}"#)
        #expect(Self.message { try SuperGLUEReader.read(.cb, url: cb, split: .train) }
                == "\(cb.path):1: label \"maybe\" is not one of \"entailment\", \"contradiction\", \"neutral\"")
        let copa = Fixtures.temp(#"{"premise": "p", "choice1": "a", "choice2": "b", "question": "cause", "idx": 0, "label": 2}"#)
        #expect(Self.message { try SuperGLUEReader.read(.copa, url: copa, split: .train) }.hasSuffix(":1: label 2 is not one of 0, 1"))
        let task = try ClozeTask.named(Fixtures.folder.appendingPathComponent("generic/sentiment.json").path)
        let data = Fixtures.temp("{\"id\": 1, \"sentence\": \"ok\", \"label\": \"positive\"}\n{\"id\": 2, \"sentence\": \"meh\", \"label\": \"neutral\"}\n")
        #expect(Self.message { try task.read(data, split: .train) }
                == "\(data.path):2: label \"neutral\" is not in the verbaliser (labels: \"negative\", \"positive\")")
    }

    @Test func emptyFilesAreRefused() {
        for text in ["", "\n\n  \n"] {
            let f = Fixtures.temp(text)
            #expect(Self.message { try SuperGLUEReader.read(.boolq, url: f, split: .train) } == "\(f.path): empty file: no examples")
        }
        let csv = Fixtures.temp("sentence,label\n", name: "data.csv")
        #expect(Self.message { try CSVReader.records(csv) } == "\(csv.path): empty file: no rows after the header")
        let bb = Fixtures.temp(#"{"name": "x", "examples": []}"#, name: "task.json")
        #expect(Self.message { try BigBenchReader.read(bb, split: .dev) }.contains("empty file"))
        let missing = URL(fileURLWithPath: "/nonexistent/val.jsonl")
        #expect(Self.message { try SuperGLUEReader.read(.rte, url: missing, split: .dev) } == "/nonexistent/val.jsonl: no such file")
    }

    @Test func badJSONAndCSVNameTheLine() {
        let f = Fixtures.temp("{\"idx\": 0, \"question\": \"q\", \"passage\": \"p\", \"label\": true}\n{\"idx\": 1,\n")
        #expect(Self.message { try SuperGLUEReader.read(.boolq, url: f, split: .train) }.hasPrefix("\(f.path):2: not valid JSON"))
        let csv = Fixtures.temp("a,b\n1,2\n3\n", name: "d.csv")
        #expect(Self.message { try CSVReader.records(csv) } == "\(csv.path):3: 1 columns, but the header has 2")
        let open = Fixtures.temp("a,b\n1,\"2\n", name: "d.csv")
        #expect(Self.message { try CSVReader.records(open) } == "\(open.path):2: a quoted field is never closed")
        let utf = Fixtures.temp("")
        try? Data([0x7B, 0xFF, 0x7D, 0x0A]).write(to: utf)
        #expect(Self.message { try CSVReader.records(utf) } == "\(utf.path): not valid UTF-8")
    }

    @Test func trainingDataMustBeLabelled() throws {
        let task = ClozeTask(superGLUE: .rte)
        let val = try task.read(Fixtures.data(.rte, "val.jsonl"), split: .train)
        #expect(Self.message { try task.requireTrainingLabels(val, file: "val.jsonl") }
                == "\(Fixtures.data(.rte, "val.jsonl").path):3: no label: training data needs one on every example (is this the test file?)")
        let wsc = Fixtures.temp(#"{"text": "He ran.", "target": {"span1_index": 0, "span1_text": "He", "span2_index": 0, "span2_text": "He"}, "idx": 0, "label": false}"#)
        let none = try ClozeTask(superGLUE: .wsc).read(wsc, split: .train)
        #expect(Self.message { try ClozeTask(superGLUE: .wsc).requireTrainingLabels(none, file: wsc.path) }.hasPrefix("\(wsc.path): no training examples"))
        try task.requireTrainingLabels(try task.read(Fixtures.data(.rte, "train.jsonl"), split: .train), file: "train.jsonl")
    }

    @Test func patternsWithoutOneMaskAreRefused() {
        #expect(Self.message { try GenericTask.parsePattern("{text} It was good.") }.contains("has no [MASK]"))
        #expect(Self.message { try GenericTask.parsePattern("{text} [MASK] or [MASK].") }.contains("has 2 [MASK]s"))
        #expect(Self.message { try GenericTask.parsePattern("It was [MASK].") }.contains("names no field"))
        #expect(Self.message { try GenericTask.parsePattern("{text It was [MASK].") }.contains("without a closing"))
        let file = Fixtures.temp(#"{"pattern": "{text} fine.", "verbalizer": {"a": " yes"}}"#, name: "task.json")
        #expect(Self.message { try ClozeTask.named(file.path) } == "\(file.path): pattern: the pattern \"{text} fine.\" has no [MASK]: write [MASK] where the verbaliser word goes")
        let p = try? GenericTask.parsePattern("{{literal}} {a} x [MASK]")
        #expect(p == [.literal("{literal} "), .field("a"), .literal(" x "), .mask])
    }

    @Test func multiTokenWordsAreRefusedForSingleTokenTasks() throws {
        let file = Fixtures.temp(#"{"pattern": "{sentence} It was [MASK].", "verbalizer": {"bad": " terribly boring", "good": " great"}, "kind": "single"}"#, name: "task.json")
        let task = try ClozeTask.named(file.path)
        #expect(Self.message { try ClozeEncoder(task: task, tokenizer: Fixtures.bert, seqLength: 64) }
                .hasPrefix("pattern: the verbaliser word \" terribly boring\" of label \"bad\" is 2 tokens with this tokenizer"))
        // Without "kind", the same task is multi-token.
        let auto = Fixtures.temp(#"{"pattern": "{sentence} It was [MASK].", "verbalizer": {"bad": " terribly boring", "good": " great"}}"#, name: "task.json")
        #expect(try ClozeEncoder(task: ClozeTask.named(auto.path), tokenizer: Fixtures.bert, seqLength: 64).kind == .multi)
        // An unknown pattern id and a sequence length out of range are refused too.
        #expect(Self.message { try ClozeEncoder(task: ClozeTask(superGLUE: .rte), tokenizer: Fixtures.bert, seqLength: 1 << 40) }
                == "--seq-length must be between 8 and 16384, got 1099511627776")
        #expect(Self.message { try ClozeEncoder(task: ClozeTask(superGLUE: .record), tokenizer: Fixtures.bert, seqLength: 64, patternId: 1) }
                == "task record has no pattern 1; its patterns are 0")
    }
}
