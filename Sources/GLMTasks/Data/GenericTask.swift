import Foundation
import GLMSystem

/// A task of your own, defined by a small JSON file:
///
/// ```json
/// {"name": "sentiment",
///  "pattern": "{sentence} All in all, it was [MASK].",
///  "verbalizer": {"negative": " terrible", "positive": " great"},
///  "label_field": "label"}
/// ```
///
/// The data is a JSON-lines file (one object per line) or a CSV file with a header row; `{name}`
/// in the pattern is that field of each example, `[MASK]` (exactly one) is where the verbaliser word
/// goes. Labels are the verbaliser's keys in file order. When every word is one token the task is
/// single-token cloze (the official `GLMForSingleTokenCloze`), otherwise one sequence per label is
/// scored (`GLMForMultiTokenCloze`); `"kind": "single"` or `"multi"` forces one.
///
/// Optional keys: `label_field` (default `label`), `id_field` (default: the line number), `kind`,
/// `metrics` (`accuracy`, `f1-macro`), and the fine-tuning defaults `seq_length`, `epochs`,
/// `batch_size`, `learning_rate`, `length_penalty`.
public struct GenericTask: Sendable {
    /// A piece of the pattern string.
    public enum Segment: Sendable, Equatable {
        case literal(String)
        case field(String)
        case mask
    }

    public var name: String
    public var pattern: String
    public var segments: [Segment]
    /// Labels in order, each with its verbaliser word.
    public var labels: [String]
    public var words: [String]
    public var labelField = "label"
    public var idField: String?
    public var kind: ClozeKind?
    public var metrics: [ClozeMetric] = [.accuracy]
    public var defaults = FinetuneDefaults()

    /// Parses a pattern: literal text, `{field}` and exactly one `[MASK]` (`{{` and `}}` are braces).
    public static func parsePattern(_ pattern: String) throws -> [Segment] {
        var segments: [Segment] = []
        var lit = ""
        let chars = Array(pattern)
        var i = 0
        func flush() { if !lit.isEmpty { segments.append(.literal(lit)); lit = "" } }
        while i < chars.count {
            let c = chars[i]
            if c == "{" && i + 1 < chars.count && chars[i + 1] == "{" { lit.append("{"); i += 2; continue }
            if c == "}" && i + 1 < chars.count && chars[i + 1] == "}" { lit.append("}"); i += 2; continue }
            if c == "{" {
                guard let close = chars[(i + 1)...].firstIndex(of: "}") else {
                    throw TaskError.pattern("\"{\" without a closing \"}\" in \(JSONValue.quote(pattern)) (write a literal brace as {{)")
                }
                let name = String(chars[(i + 1)..<close])
                guard !name.isEmpty, !name.contains("{") else { throw TaskError.pattern("an empty or nested field name in \(JSONValue.quote(pattern))") }
                flush(); segments.append(.field(name)); i = close + 1; continue
            }
            if c == "}" { throw TaskError.pattern("\"}\" without an opening \"{\" in \(JSONValue.quote(pattern)) (write a literal brace as }})") }
            if chars[i...].starts(with: Array("[MASK]")) {
                flush(); segments.append(.mask); i += 6; continue
            }
            lit.append(c); i += 1
        }
        flush()
        let masks = segments.filter { $0 == .mask }.count
        guard masks == 1 else {
            throw TaskError.pattern(masks == 0 ? "the pattern \(JSONValue.quote(pattern)) has no [MASK]: write [MASK] where the verbaliser word goes"
                                               : "the pattern \(JSONValue.quote(pattern)) has \(masks) [MASK]s; cloze tasks need exactly one")
        }
        guard segments.contains(where: { if case .field = $0 { return true }; return false }) else {
            throw TaskError.pattern("the pattern \(JSONValue.quote(pattern)) names no field; write {field} for the example's text")
        }
        return segments
    }

    /// The fields the pattern reads.
    public var fieldNames: [String] {
        segments.compactMap { if case let .field(n) = $0 { return n }; return nil }
    }

    /// Loads a task definition file.
    public static func load(_ url: URL) throws -> GenericTask {
        let root = try TaskFile.json(url)
        func fail(_ m: String) -> TaskError { .data(file: url.path, line: nil, message: m) }
        guard case .object = root.value else { throw fail("a task file must be a JSON object with \"pattern\" and \"verbalizer\"") }
        let pattern = try root.at("pattern").string()
        let segments: [Segment]
        do { segments = try parsePattern(pattern) } catch let e as TaskError { throw fail("\(e)") }
        let verb = try root.at("verbalizer").pairs()
        guard !verb.isEmpty else { throw fail("the verbalizer maps no label") }
        var task = GenericTask(name: (try root.optional("name")?.string()) ?? url.deletingPathExtension().lastPathComponent,
                               pattern: pattern, segments: segments, labels: verb.map(\.key),
                               words: try verb.map { try $0.value.string() })
        if let w = task.words.firstIndex(where: { PythonText.strip($0).isEmpty }) {
            throw fail("the verbaliser word of label \(JSONValue.quote(task.labels[w])) is empty")
        }
        if let f = try root.optional("label_field") { task.labelField = try f.string() }
        if let f = try root.optional("id_field") { task.idField = try f.string() }
        if let k = try root.optional("kind") {
            let s = try k.string()
            guard let kind = ClozeKind(rawValue: s) else { throw fail("\"kind\" must be \"single\" or \"multi\", got \(JSONValue.quote(s))") }
            task.kind = kind
        }
        if let m = try root.optional("metrics") {
            task.metrics = try m.array().map { f in
                let s = try f.string()
                switch s {
                case "accuracy": return .accuracy
                case "f1-macro": return .f1Macro
                default: throw fail("unknown metric \(JSONValue.quote(s)); a task file may ask for accuracy, f1-macro")
                }
            }
            guard !task.metrics.isEmpty else { throw fail("\"metrics\" is empty") }
        }
        func positive(_ key: String) throws -> Int? {
            guard let f = try root.optional(key) else { return nil }
            let v = try f.int()
            guard v > 0 else { throw fail("\"\(key)\" must be positive, got \(v)") }
            return v
        }
        if let v = try positive("seq_length") { task.defaults.seqLength = v }
        if let v = try positive("epochs") { task.defaults.epochs = v }
        if let v = try positive("batch_size") { task.defaults.batchSize = v }
        if let f = try root.optional("learning_rate") {
            let v = try f.number()
            guard v > 0, v.isFinite else { throw fail("\"learning_rate\" must be positive") }
            task.defaults.learningRate = v
        }
        if let f = try root.optional("length_penalty") {
            let v = try f.number()
            guard v >= 0, v.isFinite else { throw fail("\"length_penalty\" must be ≥ 0") }
            task.defaults.lengthPenalty = v
        }
        return task
    }

    /// A JSON value as field text: strings as they are, numbers as written, booleans `true`/`false`.
    static func text(_ f: TaskField) throws -> String {
        switch f.value {
        case let .string(s): return s
        case let .int(i): return String(i)
        case let .uint(u): return String(u)
        case let .double(d): return PythonFloat.repr(d)
        case let .bool(b): return b ? "true" : "false"
        default: throw f.error("field \"\(f.path)\" must be text, got \(f.value.typeName)")
        }
    }

    /// The examples of a data file: `.csv` is read as CSV with a header, anything else as JSON lines.
    /// Every field the pattern names must be present on every line; the label field must be on every
    /// line or on none (unlabelled data).
    public func read(_ url: URL, split: DataSplit) throws -> [TaskExample] {
        let records = url.pathExtension.lowercased() == "csv" ? try CSVReader.records(url) : try TaskFile.jsonLines(url)
        let labelled = records.contains { $0.has(labelField) }
        return try records.enumerated().map { i, r in
            var meta = ExampleMeta()
            for name in fieldNames where meta.fields[name] == nil {
                meta.fields[name] = PythonText.standardizePunctuation(try GenericTask.text(try r.at(name)))
            }
            var label: Int? = nil
            if labelled {
                let value = try GenericTask.text(try r.at(labelField))
                guard let k = labels.firstIndex(where: { PythonText.equal($0, value) }) else {
                    throw r.error("label \(JSONValue.quote(value)) is not in the verbaliser (labels: \(labels.map(JSONValue.quote).joined(separator: ", ")))")
                }
                label = k
            }
            let id = try idField.map { try GenericTask.text(try r.at($0)) } ?? String(i)
            return TaskExample(guid: "\(split.rawValue)-\(id)", textA: "", label: label, meta: meta, file: r.file, line: r.line)
        }
    }

    /// The pattern applied to an example. Whitespace that ends a literal before a `{field}` moves to
    /// the front of the field's text (the official patterns write `" " + text`, so a BPE tokenizer sees
    /// the space with the word); whitespace before `[MASK]` is dropped (the official patterns never
    /// have it, and the BPE tokenizers strip it before [MASK] anyway).
    func parts(_ ex: TaskExample) -> FilledPattern {
        var parts: [PatternPart] = []
        var carry = ""
        for (k, seg) in segments.enumerated() {
            switch seg {
            case var .literal(text):
                let next = k + 1 < segments.count ? segments[k + 1] : nil
                if next != nil {
                    let trimmed = PythonText.rstripSpace(text)
                    if case .field = next { carry = String(text.unicodeScalars.dropFirst(trimmed.unicodeScalars.count)) }
                    text = trimmed
                }
                if !text.isEmpty { parts.append(.text(text, shortenable: false)) }
            case let .field(name):
                parts.append(.text(carry + (ex.meta.fields[name] ?? ""), shortenable: true))
                carry = ""
            case .mask:
                parts.append(.mask)
            }
        }
        return FilledPattern(a: parts)
    }
}
