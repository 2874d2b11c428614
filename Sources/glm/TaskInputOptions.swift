import ArgumentParser
import Foundation
import GLMTasks

/// How one command words the help of ``TaskInputOptions`` (what `--task` may name and what `--data`
/// holds differ between `glm cloze` and `glm evaluate`; the flags and their meaning do not).
protocol TaskInputHelp {
    static var task: String { get }
    static var data: String { get }
    static var seqLength: String { get }
}

/// `--task`, `--data`, `--pattern-id` and `--seq-length`, shared by `glm cloze` (the inputs) and
/// `glm evaluate` (their scores), so both resolve a task name the same way.
struct TaskInputOptions<Help: TaskInputHelp>: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp(Help.task))
    var task: String
    @Option(name: .long, help: ArgumentHelp(Help.data))
    var data: String
    @Option(name: .long, help: "Pattern id (default: the task's official one).")
    var patternId: Int?
    @Option(name: .long, help: ArgumentHelp(Help.seqLength))
    var seqLength: Int?

    var dataURL: URL { URL(fileURLWithPath: data) }

    /// What `--task` names: a generation or zero-shot LM kind, else a cloze task (by name or file).
    func kind() throws -> TaskKind {
        if let k = GenerationTaskKind(rawValue: task) { return .generation(k) }
        return .cloze(try ClozeTask.named(task))
    }
}

/// The kinds of task `--task` can name: cloze tasks by their names or files, and the generation and
/// zero-shot LM kinds.
enum TaskKind {
    case cloze(ClozeTask)
    case generation(GenerationTaskKind)
}
