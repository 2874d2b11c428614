/// Which part of a task a file is: the official readers behave differently for training data
/// (COPA mirrors, WSC keeps positives, ReCoRD samples negatives) and name examples after it.
public enum DataSplit: String, Sendable, CaseIterable {
    case train
    case dev
    case test

    /// The split a file name suggests for evaluation: `test*` is the test set, anything else dev
    /// (the SuperGLUE release's `val.jsonl` is read as the official "dev" split).
    public static func evaluation(forFile name: String) -> DataSplit {
        name.lowercased().hasPrefix("test") ? .test : .dev
    }
}

/// One task example as the official `InputExample` holds it (`tasks/data_utils.py:InputExample`):
/// two texts, a label, and task-specific fields.
public struct TaskExample: Sendable {
    /// The official unique id, e.g. `dev-12`, `train-p3-q1-a0`, `train-7m` (a COPA mirror).
    public var guid: String
    public var textA: String
    public var textB: String?
    /// Index into the task's labels; nil for unlabelled (test) data, which encodes as label 0.
    public var label: Int?
    public var meta = ExampleMeta()
    /// The file and 1-based line the example came from (for error messages).
    public var file: String
    public var line: Int

    public init(guid: String, textA: String, textB: String? = nil, label: Int?, meta: ExampleMeta = ExampleMeta(),
                file: String, line: Int) {
        self.guid = guid; self.textA = textA; self.textB = textB; self.label = label; self.meta = meta
        self.file = file; self.line = line
    }

    /// An error at this example's line.
    public func error(_ message: String) -> TaskError { .data(file: file, line: line, message: message) }
}

/// The task-specific fields of an example (the official `InputExample.meta`).
public struct ExampleMeta: Sendable {
    /// WiC: the target word.
    public var word: String?
    /// WSC: the referent span and the pronoun span (word indices after the official index repair).
    public var span1Text: String?
    public var span2Text: String?
    public var span1Index: Int?
    public var span2Index: Int?
    /// WSC: negative candidates (the official "WSC-negative" data); ReCoRD: the entities scored.
    public var candidates: [String]?
    /// ReCoRD: the gold answers.
    public var answers: [String]?
    /// COPA: the two alternatives and "cause" / "effect".
    public var choice1: String?
    public var choice2: String?
    public var question: String?
    /// MultiRC: the candidate answer.
    public var answer: String?
    /// MultiRC / ReCoRD: the ids of passage, question and answer (as Python's `str` prints them).
    public var passageIdx: String?
    public var questionIdx: String?
    public var answerIdx: String?
    /// BIG-bench multiple choice: the choices, in the file's order.
    public var choices: [String]?
    /// A generic task file's fields, by name.
    public var fields: [String: String] = [:]

    public init() {}
}
