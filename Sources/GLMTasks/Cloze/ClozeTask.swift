import Foundation
import GLMSystem

/// A cloze task: where its examples come from, its labels, how it is scored and its fine-tuning
/// defaults. One of the eight SuperGLUE tasks, a task definition file of your own (``GenericTask``)
/// or a BIG-bench multiple-choice `task.json`.
public struct ClozeTask: Sendable {
    public enum Source: Sendable {
        case superGLUE(SuperGLUETask)
        case generic(GenericTask)
        case bigBench
    }

    public let name: String
    public let source: Source
    /// The task's labels (BIG-bench: none; each example has its own choices).
    public let labels: [String]
    /// The pattern ids the task implements.
    public let patternIds: [Int]
    public var defaults: FinetuneDefaults
    /// The dev metrics, the first one choosing the best checkpoint.
    public let metrics: [ClozeMetric]

    /// The names `--task` accepts besides a task file.
    public static let names = SuperGLUETask.allCases.map(\.rawValue) + ["bigbench"]

    public init(superGLUE t: SuperGLUETask) {
        name = t.rawValue; source = .superGLUE(t); labels = t.labels; patternIds = t.patternIds
        defaults = t.defaults; metrics = t.metrics
    }

    public init(generic t: GenericTask) {
        name = t.name; source = .generic(t); labels = t.labels; patternIds = [0]; defaults = t.defaults; metrics = t.metrics
    }

    /// BIG-bench multiple choice (the official generic multiple-choice path; accuracy).
    public static var bigBench: ClozeTask {
        var d = FinetuneDefaults()
        d.epochs = 10
        return ClozeTask(name: "bigbench", source: .bigBench, labels: [], patternIds: [0], defaults: d, metrics: [.accuracy])
    }

    private init(name: String, source: Source, labels: [String], patternIds: [Int], defaults: FinetuneDefaults, metrics: [ClozeMetric]) {
        self.name = name; self.source = source; self.labels = labels; self.patternIds = patternIds
        self.defaults = defaults; self.metrics = metrics
    }

    /// `boolq cb copa multirc record rte wic wsc`, `bigbench`, or the path of a task definition file.
    public static func named(_ name: String) throws -> ClozeTask {
        if let t = SuperGLUETask(rawValue: name.lowercased()) { return ClozeTask(superGLUE: t) }
        if name.lowercased() == "bigbench" { return .bigBench }
        if FileManager.default.fileExists(atPath: name) { return ClozeTask(generic: try GenericTask.load(URL(fileURLWithPath: name))) }
        throw TaskError.unknownTask("unknown task \(JSONValue.quote(name)): use one of \(names.joined(separator: ", ")), or the path of a task file (a JSON object with \"pattern\" and \"verbalizer\")")
    }

    /// The official kind when it does not depend on the tokenizer (a generic task's may).
    public var declaredKind: ClozeKind? {
        switch source {
        case let .superGLUE(t): return t.kind
        case let .generic(g): return g.kind
        case .bigBench: return .multi
        }
    }

    /// The examples of a data file, as the official reader gives them for `split`.
    public func read(_ url: URL, split: DataSplit) throws -> [TaskExample] {
        switch source {
        case let .superGLUE(t): return try SuperGLUEReader.read(t, url: url, split: split)
        case let .generic(g): return try g.read(url, split: split)
        case .bigBench: return try BigBenchReader.read(url, split: split)
        }
    }

    /// Checks that examples can be trained on: there are some, and each has a label (the official
    /// code would train an unlabelled test file on label 0 without a word).
    public func requireTrainingLabels(_ examples: [TaskExample], file: String) throws {
        guard !examples.isEmpty else {
            throw TaskError.data(file: file, line: nil, message: "no training examples (ReCoRD needs queries with answers, WSC positive examples)")
        }
        if let ex = examples.first(where: { $0.label == nil }) {
            throw ex.error("no label: training data needs one on every example (is this the test file?)")
        }
    }

    /// The label names of an example (BIG-bench: its choices).
    public func labelNames(of ex: TaskExample) -> [String] {
        if case .bigBench = source { return ex.meta.choices ?? [] }
        return labels
    }
}
