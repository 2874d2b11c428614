import Foundation
import GLMSystem

/// Readers of the public SuperGLUE release's JSON-lines files (`train.jsonl`, `val.jsonl`,
/// `test.jsonl`), each a line-by-line port of the official processor
/// (docs/official-glm.md §6.1; official `tasks/superglue/dataset.py:<Task>Processor._create_examples`),
/// including its text clean-up (`punctuation_standardization`), its guids and its training-only
/// behaviour. Where the official code would raise (a missing field, a label outside the label
/// list, a WSC span that cannot be found), this throws a ``TaskError`` naming the line.
public enum SuperGLUEReader {
    /// All examples of `url` for `task`, as the official processor returns them for `split`.
    public static func read(_ task: SuperGLUETask, url: URL, split: DataSplit) throws -> [TaskExample] {
        let records = try TaskFile.jsonLines(url)
        switch task {
        case .rte, .cb: return try records.map { try entailment(task, $0, split) }
        case .boolq: return try records.map { try boolq($0, split) }
        case .wic: return try records.map { try wic($0, split) }
        case .copa: return try copa(records, split)
        case .multirc: return try records.flatMap { try multirc($0, split) }
        case .record:
            var shuffler = PythonRandom(seed: 42)
            return try records.flatMap { try record($0, split, &shuffler) }
        case .wsc: return try records.flatMap { try wsc($0, split) }
        }
    }

    static func std(_ s: String) -> String { PythonText.standardizePunctuation(s) }

    /// A label checked against the task's label list (the official `label_list.index(label)`).
    static func labelIndex(_ task: SuperGLUETask, _ value: String?, _ r: TaskField) throws -> Int? {
        guard let value else { return nil }
        guard let i = task.labels.firstIndex(where: { PythonText.equal($0, value) }) else {
            throw r.error("label \(JSONValue.quote(value)) is not one of \(task.labels.map(JSONValue.quote).joined(separator: ", "))")
        }
        return i
    }

    /// `guid = "%s-%s" % (set_type, idx)`.
    static func guid(_ split: DataSplit, _ idx: JSONValue) -> String { "\(split.rawValue)-\(idx.pythonStr)" }

    /// RTE and CB (`RteProcessor`): premise is text A, hypothesis text B; a string idx that is not a
    /// number becomes the line index.
    static func entailment(_ task: SuperGLUETask, _ r: TaskField, _ split: DataSplit) throws -> TaskExample {
        var idx = try r.at("idx").value
        if case let .string(s) = idx { idx = Int(s).map { .int($0) } ?? .int(r.line - 1) }
        let label = try r.optional("label").map { try $0.string() }
        return TaskExample(guid: guid(split, idx), textA: std(try r.at("premise").string()),
                           textB: std(try r.at("hypothesis").string()),
                           label: try labelIndex(task, label, r), file: r.file, line: r.line)
    }

    /// BoolQ: passage is text A, question text B; label `str(label).lower()`.
    static func boolq(_ r: TaskField, _ split: DataSplit) throws -> TaskExample {
        let idx = try r.at("idx").value
        let label = r.has("label") ? try r.at("label").value.pythonStr.lowercased() : nil
        return TaskExample(guid: guid(split, idx), textA: std(try r.at("passage").string()),
                           textB: std(try r.at("question").string()),
                           label: try labelIndex(.boolq, label, r), file: r.file, line: r.line)
    }

    /// Python truthiness of a JSON value.
    static func truthy(_ v: JSONValue) -> Bool {
        switch v {
        case .null: return false
        case let .bool(b): return b
        case let .int(i): return i != 0
        case let .uint(u): return u != 0
        case let .double(d): return d != 0
        case let .string(s): return !s.isEmpty
        case let .array(a): return !a.isEmpty
        case let .object(o): return !o.isEmpty
        }
    }

    /// WiC: the label is `"true" if label else "false"` (so unlabelled data reads as false), the
    /// word goes to meta unchanged.
    static func wic(_ r: TaskField, _ split: DataSplit) throws -> TaskExample {
        var idx = try r.at("idx").value
        if case let .string(s) = idx {
            guard let i = Int(s) else { throw r.error("field \"idx\" must be an integer, got \(JSONValue.quote(s))") }
            idx = .int(i)
        }
        let label = truthy(r.value["label"] ?? .null) ? 1 : 0
        var meta = ExampleMeta()
        meta.word = try r.at("word").string()
        return TaskExample(guid: guid(split, idx), textA: std(try r.at("sentence1").string()),
                           textB: std(try r.at("sentence2").string()), label: label, meta: meta,
                           file: r.file, line: r.line)
    }

    /// COPA: the premise (not standardised, as in the official reader) and the two alternatives;
    /// training data is doubled with mirrored examples (alternatives swapped, label flipped, guid + "m").
    static func copa(_ records: [TaskField], _ split: DataSplit) throws -> [TaskExample] {
        var examples: [TaskExample] = try records.map { r in
            let idx = try r.at("idx").value
            var label: Int? = nil
            if let l = try r.optional("label") {
                let v = try l.int()
                guard v == 0 || v == 1 else { throw r.error("label \(v) is not one of 0, 1") }
                label = v
            }
            var meta = ExampleMeta()
            meta.choice1 = try r.at("choice1").string()
            meta.choice2 = try r.at("choice2").string()
            let q = try r.at("question").string()
            guard q == "cause" || q == "effect" else { throw r.error("field \"question\" must be \"cause\" or \"effect\", got \(JSONValue.quote(q))") }
            meta.question = q
            return TaskExample(guid: guid(split, idx), textA: try r.at("premise").string(), label: label, meta: meta,
                               file: r.file, line: r.line)
        }
        if split == .train {
            let mirrors = examples.map { ex -> TaskExample in
                var m = ex
                m.guid = ex.guid + "m"
                m.label = ex.label == 0 ? 1 : 0
                m.meta.choice1 = ex.meta.choice2
                m.meta.choice2 = ex.meta.choice1
                return m
            }
            examples += mirrors
        }
        return examples
    }

    /// MultiRC: one example per (question, answer) of the nested release format
    /// `passage.questions[].answers[]`; guid `<split>-p<passage>-q<question>-a<answer>`.
    static func multirc(_ r: TaskField, _ split: DataSplit) throws -> [TaskExample] {
        let passageIdx = try r.at("idx").value.pythonStr
        let passage = try r.at("passage")
        let text = std(try passage.at("text").string())
        var out: [TaskExample] = []
        for q in try passage.at("questions").array() {
            let question = std(try q.at("question").string())
            let questionIdx = try q.at("idx").value.pythonStr
            for a in try q.at("answers").array() {
                var label: Int? = nil
                if a.has("label") {
                    let l = try a.at("label")
                    guard case let .int(v) = l.value, v == 0 || v == 1 else {
                        throw r.error("field \"\(l.path)\" must be 0 or 1, got \(JSONValue.serialize(l.value))")
                    }
                    label = v
                }
                let answerIdx = try a.at("idx").value.pythonStr
                var meta = ExampleMeta()
                meta.passageIdx = passageIdx
                meta.questionIdx = questionIdx
                meta.answerIdx = answerIdx
                meta.answer = std(try a.at("text").string())
                out.append(TaskExample(guid: "\(split.rawValue)-p\(passageIdx)-q\(questionIdx)-a\(answerIdx)", textA: text,
                                       textB: question, label: label, meta: meta, file: r.file, line: r.line))
            }
        }
        return out
    }

    /// ReCoRD: entities from `passage.entities[]` character offsets (sorted, distinct),
    /// `@highlight\n` → `- `, one example per `qas[]` query. Training: one example per distinct gold
    /// answer with up to 9 negatives sampled by the file-wide `random.Random(42)`; evaluation: one
    /// example with every entity as a candidate.
    ///
    /// The official code iterates a Python `set` of answers, whose order depends on the process's
    /// string hashing; this reader takes the answers in their first-appearance order.
    static func record(_ r: TaskField, _ split: DataSplit, _ shuffler: inout PythonRandom) throws -> [TaskExample] {
        let idx = try r.at("idx").value.pythonStr
        let passage = try r.at("passage")
        var text = std(try passage.at("text").string())
        var found: [String] = []
        for e in try passage.at("entities").array() {
            let start = try e.at("start").int(), end = try e.at("end").int()
            found.append(std(PythonText.slice(text, start, end + 1)))
        }
        let entities = PythonText.sortedSet(found)
        text = text.replacingOccurrences(of: "@highlight\n", with: "- ")
        var out: [TaskExample] = []
        for q in try r.at("qas").array() {
            let question = std(try q.at("query").string())
            let questionIdx = try q.at("idx").value.pythonStr
            var answers: [String] = []
            if let list = try q.optional("answers") {
                for a in try list.array() { answers.append(std(try a.at("text").string())) }
            }
            answers = PythonText.distinct(answers)
            var meta = ExampleMeta()
            meta.passageIdx = idx
            meta.questionIdx = questionIdx
            if split == .train {
                for (answerIdx, answer) in answers.enumerated() {
                    var candidates = entities.filter { e in !answers.contains { PythonText.equal($0, e) } }
                    if candidates.count > 9 {
                        shuffler.shuffle(&candidates)
                        candidates = Array(candidates.prefix(9))
                    }
                    var m = meta
                    m.answerIdx = String(answerIdx)
                    m.candidates = [answer] + candidates
                    m.answers = [answer]
                    out.append(TaskExample(guid: "\(split.rawValue)-p\(idx)-q\(questionIdx)-a\(answerIdx)", textA: text,
                                           textB: question, label: 0, meta: m, file: r.file, line: r.line))
                }
            } else {
                var m = meta
                m.candidates = entities
                m.answers = answers
                out.append(TaskExample(guid: "\(split.rawValue)-p\(idx)-q\(questionIdx)", textA: text, textB: question,
                                       label: 1, meta: m, file: r.file, line: r.line))
            }
        }
        return out
    }

    /// WSC (`--loss-func mix --wsc-negative`, the official recipe): the pronoun span is checked and
    /// repaired as the official reader does (off-by-one indices, a pronoun glued to punctuation);
    /// training keeps only positive examples. Negative candidates come from an optional
    /// `candidates: [{"text": …}]` field (the official "WSC-negative" files); the public release has
    /// none, so each example then has the single choice span1.
    static func wsc(_ r: TaskField, _ split: DataSplit) throws -> [TaskExample] {
        let idx = try r.at("idx").value
        let label: String? = r.has("label") ? try r.at("label").value.pythonStr : nil
        var textA = std(try r.at("text").string())
        let target = try r.at("target")
        let span1Text = try target.at("span1_text").string(), span2Text = try target.at("span2_text").string()
        var span1Index = try target.at("span1_index").int(), span2Index = try target.at("span2_index").int()
        var candidates: [String]? = nil
        if r.has("candidates") {
            candidates = PythonText.distinct(try r.at("candidates").array().map { try $0.at("text").string() })
        }
        var words = PythonText.split(textA)
        let wordsLower = PythonText.split(textA.lowercased())
        let span1Words = PythonText.split(span1Text.lowercased())
        func window(_ start: Int) -> [String] {
            let (a, b) = PythonText.sliceBounds(count: wordsLower.count, start, start + span1Words.count)
            return a < b ? Array(wordsLower[a..<b]) : []
        }
        func same(_ x: [String], _ y: [String]) -> Bool { x.count == y.count && zip(x, y).allSatisfy(PythonText.equal) }
        if !same(window(span1Index), span1Words) {
            for offset in [-1, 1] where same(window(span1Index + offset), span1Words) { span1Index += offset }
        }
        func word(_ i: Int) throws -> String {
            guard let j = PythonText.index(i, count: words.count) else {
                throw r.error("target.span2_index \(i) is outside the \(words.count) words of the text")
            }
            return words[j]
        }
        if !PythonText.equal(try word(span2Index), span2Text) {
            for offset in [-1, 1] where PythonText.equal(try word(span2Index + offset), span2Text) { span2Index += offset }
            let w = try word(span2Index)
            if !PythonText.equal(w, span2Text) && w.unicodeScalars.starts(with: span2Text.unicodeScalars) {
                // words[:i] + [w[:n], w[n:]] + words[i + 1:], with Python's slice bounds.
                let n = span2Text.unicodeScalars.count
                let head = String(String.UnicodeScalarView(w.unicodeScalars.prefix(n)))
                let tail = String(String.UnicodeScalarView(w.unicodeScalars.dropFirst(n)))
                let (_, before) = PythonText.sliceBounds(count: words.count, 0, span2Index)
                let (after, _) = PythonText.sliceBounds(count: words.count, span2Index + 1, words.count)
                words = Array(words[..<before]) + [head, tail] + Array(words[after...])
            }
        }
        guard PythonText.equal(try word(span2Index), span2Text) else {
            throw r.error("the pronoun \(JSONValue.quote(span2Text)) is not word \(span2Index) of the text (found \(JSONValue.quote(try word(span2Index))))")
        }
        textA = words.joined(separator: " ")
        var meta = ExampleMeta()
        meta.span1Text = span1Text; meta.span2Text = span2Text
        meta.span1Index = span1Index; meta.span2Index = span2Index
        let g = guid(split, idx)
        if split == .train && label != "True" { return [] }
        let labelIndex = try labelIndex(.wsc, label, r)
        if split == .train, let candidates, candidates.count > 9 {
            return stride(from: 0, to: candidates.count, by: 9).map { i in
                var chunk = Array(candidates[i..<min(i + 9, candidates.count)])
                if chunk.count < 9 { chunk += candidates.prefix(9 - chunk.count) }
                var m = meta
                m.candidates = chunk
                return TaskExample(guid: g, textA: textA, label: labelIndex, meta: m, file: r.file, line: r.line)
            }
        }
        meta.candidates = candidates
        return [TaskExample(guid: g, textA: textA, label: labelIndex, meta: meta, file: r.file, line: r.line)]
    }
}
