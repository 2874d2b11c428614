import Foundation
import GLMTokenizers
import GLMTasks

/// Paths and shared objects of the GLMTasks tests.
enum Fixtures {
    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let folder = repo.appendingPathComponent("Tests/GLMTasksTests/Fixtures")
    static let superglue = folder.appendingPathComponent("superglue")
    static func tokenizerFolder(_ name: String) -> URL { repo.appendingPathComponent("Resources/tokenizers/\(name)") }
    static let bert = try! GLMTokenizer(folder: tokenizerFolder("bert-base-uncased"))
    static let gpt2 = try! GLMTokenizer(folder: tokenizerFolder("gpt2"))

    /// The official data folder of a task.
    static func data(_ task: SuperGLUETask, _ file: String) -> URL {
        let dir = ["rte": "RTE", "cb": "CB", "boolq": "BoolQ", "wic": "WiC", "multirc": "MultiRC", "copa": "COPA",
                   "wsc": "WSC", "record": "ReCoRD"][task.rawValue]!
        return superglue.appendingPathComponent("\(dir)/\(file)")
    }

    /// A temporary file with `text`.
    static func temp(_ text: String, name: String = "data.jsonl") -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("glmtasks-\(UUID().uuidString)")
        try! FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let url = dir.appendingPathComponent(name)
        try! Data(text.utf8).write(to: url)
        return url
    }
}
