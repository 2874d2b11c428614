import Foundation

/// One seq2seq example: a source text and its target, after the official text clean-up.
public struct Seq2SeqExample: Sendable, Equatable {
    /// The official guid, `"<split>-<index>"` (index 0-based).
    public var id: String
    public var source: String
    /// The summary, question or target text (never empty).
    public var target: String
    /// SQuAD question generation: the answer the question is about (the source is the context).
    public var answer: String?
    /// `file:line` of the example, for error messages.
    public var location: String

    public init(id: String, source: String, target: String, answer: String? = nil, location: String = "") {
        self.id = id; self.source = source; self.target = target; self.answer = answer; self.location = location
    }
}

/// Dataset splits and the file stems the official processors read for them.
public enum Seq2SeqSplit: String, Sendable, CaseIterable {
    case train, dev, test

    /// `SummmaryProcessor` / `CustomizationDataset`: `train`, `val`, `test` (`.source`/`.target`).
    public var fileStem: String {
        switch self {
        case .train: return "train"
        case .dev: return "val"
        case .test: return "test"
        }
    }
}

/// Readers for seq2seq data: the official line-aligned files (`train.source` / `train.target`, `val.*`,
/// `test.*`, as CNN/DM, XSum and Gigaword are distributed) and JSON lines with `source` and `target`
/// (and `answer` for question generation).
///
/// Text clean-up as the official processors (docs/official-glm.md §6.2; official
/// `tasks/seq2seq/dataset.py`): each line is stripped; summarisation tasks then standardise
/// punctuation (curly quotes and the en dash to ASCII, `punctuation_standardization`) and apply the
/// dataset's detokenizer (`gigaword_detokenize`: `UNK`/`<unk>` → `[UNK]`, `-lrb-` → `(`, HTML
/// entities; `cnndm_detokenize`: `-LRB-` → `(`, PTB quotes and contractions, `<S_SEP>` dropped
/// from sources and `[SEP]` in targets). The customisation task only strips. JSON lines get the
/// same clean-up, so a JSONL copy of line files gives the same examples.
///
/// Errors name the file and line: files of different lengths (with both counts), empty targets,
/// a missing or non-string field, an empty file.
public enum Seq2SeqReader {
    /// Examples of `split` from `folder/<stem>.source` and `folder/<stem>.target`.
    public static func lineAligned(folder: URL, split: Seq2SeqSplit, task: Seq2SeqTask) throws -> [Seq2SeqExample] {
        try lineAligned(source: folder.appendingPathComponent("\(split.fileStem).source"),
                        target: folder.appendingPathComponent("\(split.fileStem).target"), split: split, task: task)
    }

    /// Examples from a `.source` file and its line-aligned `.target` file.
    public static func lineAligned(source src: URL, target tgt: URL, split: Seq2SeqSplit, task: Seq2SeqTask) throws -> [Seq2SeqExample] {
        switch task.layout {
        case .summary, .customization: break
        case .questionGeneration, .blank:
            throw TaskError.unknownTask("\(task.rawValue) is not read from .source/.target files (use JSON lines with source, target and answer)")
        }
        let sources = try lines(of: src), targets = try lines(of: tgt)
        guard sources.count == targets.count else {
            throw TaskError.data(file: tgt.path, line: nil,
                                 message: "has \(targets.count) lines but \(src.lastPathComponent) has \(sources.count); the files must be line-aligned")
        }
        guard !sources.isEmpty else { throw TaskError.data(file: src.path, line: nil, message: "empty file: no examples") }
        var out: [Seq2SeqExample] = []
        out.reserveCapacity(sources.count)
        for i in sources.indices {
            let s = clean(sources[i], task: task, isTarget: false)
            let t = clean(targets[i], task: task, isTarget: true)
            guard !t.isEmpty else { throw TaskError.data(file: tgt.path, line: i + 1, message: "empty target") }
            out.append(Seq2SeqExample(id: "\(split.rawValue)-\(i)", source: s, target: t, location: "\(src.path):\(i + 1)"))
        }
        return out
    }

    /// Examples from whatever `url` names: a folder (its `test.source` / `test.target`), a
    /// `.source` or `.target` file (with its line-aligned partner next to it; the split follows the
    /// stem: `train`, `val` → dev, `test`, anything else dev), a BIG-bench generative `task.json`
    /// (a `.json` file whose object holds `examples`, ``bigBench(_:task:)``), or JSON lines (any
    /// other file).
    public static func read(_ url: URL, task: Seq2SeqTask) throws -> [Seq2SeqExample] {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDir) else {
            throw TaskError.data(file: url.path, line: nil, message: "no such file or folder")
        }
        if isDir.boolValue { return try lineAligned(folder: url, split: .test, task: task) }
        let ext = url.pathExtension
        if ext == "json", let root = try? TaskFile.json(url), root.has("examples") { return try bigBench(url, task: task) }
        guard ext == "source" || ext == "target" else { return try jsonLines(url, split: .dev, task: task) }
        let stem = url.deletingPathExtension()
        let split: Seq2SeqSplit = Seq2SeqSplit.allCases.first { $0.fileStem == stem.lastPathComponent } ?? .dev
        return try lineAligned(source: stem.appendingPathExtension("source"), target: stem.appendingPathExtension("target"),
                               split: split, task: task)
    }

    /// Examples of a BIG-bench generative task (`task.json`, e.g. GEM XSum): each `examples[i]`'s
    /// `input` is the source and its `target` the target (the first one when it is a list), with the
    /// task's clean-up; the task's prefixes are not added. Ids are `dev-i`.
    public static func bigBench(_ url: URL, task: Seq2SeqTask) throws -> [Seq2SeqExample] {
        let root = try TaskFile.json(url)
        let examples = try root.at("examples").array()
        guard !examples.isEmpty else { throw TaskError.data(file: url.path, line: nil, message: "empty file: \"examples\" is empty") }
        return try examples.enumerated().map { i, e in
            let t = try e.at("target")
            let raw: String
            if case .array = t.value {
                guard let first = try t.array().first else { throw e.error("\(e.path).target is an empty list") }
                raw = try first.string()
            } else {
                raw = try t.string()
            }
            let target = clean(raw, task: task, isTarget: true)
            guard !target.isEmpty else { throw e.error("\(e.path): empty target") }
            return Seq2SeqExample(id: "dev-\(i)", source: clean(try e.at("input").string(), task: task, isTarget: false), target: target,
                                  answer: task == .squadGeneration ? try e.at("answer").string() : nil,
                                  location: "\(url.path): \(e.path)")
        }
    }

    /// Examples from JSON lines: `{"source": …, "target": …}` (and `"answer"` for
    /// ``Seq2SeqTask/squadGeneration``); blank lines are skipped.
    public static func jsonLines(_ url: URL, split: Seq2SeqSplit, task: Seq2SeqTask) throws -> [Seq2SeqExample] {
        if task.layout == .blank {
            throw TaskError.unknownTask("blank infilling reads plain text (see BlankInfilling), not source/target JSON lines")
        }
        var out: [Seq2SeqExample] = []
        for rec in try TaskFile.jsonLines(url) {
            let s = clean(try rec.at("source").string(), task: task, isTarget: false)
            let t = clean(try rec.at("target").string(), task: task, isTarget: true)
            guard !t.isEmpty else { throw rec.error("empty target") }
            var answer: String? = nil
            if task == .squadGeneration {
                answer = try rec.at("answer").string()
                if PythonText.strip(answer!).isEmpty { throw rec.error("empty answer") }
            }
            out.append(Seq2SeqExample(id: "\(split.rawValue)-\(out.count)", source: s, target: t, answer: answer,
                                      location: "\(url.path):\(rec.line)"))
        }
        return out
    }

    /// The lines of a text file as Python's `for line in open(f, encoding='utf-8')` yields them:
    /// universal newlines (`\r\n`, `\r`, `\n`), no extra line after a final newline.
    public static func lines(of url: URL) throws -> [String] {
        let text = try TaskFile.text(url)
        var out: [String] = []
        var cur = String.UnicodeScalarView()
        var lastWasCR = false
        for u in text.unicodeScalars {
            if u == "\n" {
                if !lastWasCR { out.append(String(cur)); cur = .init() }
                lastWasCR = false
            } else if u == "\r" {
                out.append(String(cur)); cur = .init()
                lastWasCR = true
            } else {
                cur.append(u)
                lastWasCR = false
            }
        }
        if !cur.isEmpty { out.append(String(cur)) }
        return out
    }

    /// The official per-line clean-up of `task` (see the type's documentation).
    public static func clean(_ line: String, task: Seq2SeqTask, isTarget: Bool) -> String {
        let stripped = PythonText.strip(line)
        guard task.layout == .summary else { return stripped }
        var s = Array(PythonText.standardizePunctuation(stripped).unicodeScalars)
        switch task {
        case .gigaword:
            s = PythonScalars.replace(s, "UNK", "[UNK]")
            s = PythonScalars.replace(s, "<unk>", "[UNK]")
            for (key, value) in [("(", "-lrb-"), (")", "-rrb-"), ("[", "-lsb-"), ("]", "-rsb-"), ("{", "-lcb-"),
                                 ("}", "-rcb-"), ("&", "&amp;"), ("<", "&lt;"), (">", "&gt;")] {
                s = PythonScalars.replace(s, value, key)
            }
        case .cnnDM:
            s = PythonScalars.replace(s, "<S_SEP>", isTarget ? "[SEP]" : "")
            for (key, value) in [("(", "-LRB-"), (")", "-RRB-"), ("[", "-LSB-"), ("]", "-RSB-"), ("{", "-LCB-"), ("}", "-RCB-")] {
                s = PythonScalars.replace(s, value, key)
            }
            for (a, b) in [("''", "\""), ("``", "\""), ("`", "'"), (" n't", "n't"), (" 's", "'s"), (" 'd", "'d"), (" 'll", "'ll")] {
                s = PythonScalars.replace(s, a, b)
            }
        default:
            break
        }
        return String(String.UnicodeScalarView(s))
    }
}
