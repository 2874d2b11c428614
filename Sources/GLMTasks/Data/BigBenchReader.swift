import Foundation

/// BIG-bench JSON tasks with multiple-choice examples (`task.json`: `examples[].input` and
/// `examples[].target_scores`, choice → score, in file order).
///
/// Each example is scored as the official generic multiple-choice path does
/// (docs/official-glm.md §6.1; official `tasks/superglue/dataset.py:MultiChoiceDataset`): the input,
/// then [MASK] (appended when the input has none), one sequence per choice with the choice as Part B
/// (no eop), the input cut from the left to fit. The label is the first choice with the highest
/// score. The task's prefixes (`task_prefix`, `example_input_prefix`) are not added: the model sees
/// `input` exactly.
public enum BigBenchReader {
    public static func read(_ url: URL, split: DataSplit) throws -> [TaskExample] {
        let root = try TaskFile.json(url)
        guard case .object = root.value else { throw root.error("a BIG-bench task.json must be a JSON object with \"examples\"") }
        guard root.has("examples") else {
            throw root.error("missing field \"examples\" (a BIG-bench task with subtasks keeps them in subfolders: pass a subtask's task.json)")
        }
        let examples = try root.at("examples").array()
        guard !examples.isEmpty else { throw TaskError.data(file: url.path, line: nil, message: "empty file: \"examples\" is empty") }
        return try examples.enumerated().map { i, e in
            guard e.has("target_scores") else {
                throw e.error("\(e.path) has no \"target_scores\": only multiple-choice BIG-bench tasks can be scored as cloze")
            }
            let scores = try e.at("target_scores").pairs()
            guard !scores.isEmpty else { throw e.error("\(e.path).target_scores is empty") }
            let values = try scores.map { try $0.value.number() }
            let best = values.max()!
            var meta = ExampleMeta()
            meta.choices = scores.map(\.key)
            return TaskExample(guid: String(i), textA: try e.at("input").string(), label: values.firstIndex(of: best)!,
                               meta: meta, file: e.file, line: e.line)
        }
    }
}
