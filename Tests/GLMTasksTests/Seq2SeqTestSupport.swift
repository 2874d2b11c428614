import Foundation
import GLM
import GLMTokenizers

/// Paths and helpers of the seq2seq, blank-infilling, language-model and metric tests.
enum TestFiles {
    /// The repository root (vocab files live in Resources/, the tiny models in Tests/GLMTests/Fixtures).
    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let fixtures = repo.appendingPathComponent("Tests/GLMTasksTests/Fixtures")
    static let glmFixtures = repo.appendingPathComponent("Tests/GLMTests/Fixtures")

    static func bert() throws -> GLMTokenizer { try GLMTokenizer(folder: repo.appendingPathComponent("Resources/tokenizers/bert-base-uncased")) }
    static func gpt2() throws -> GLMTokenizer { try GLMTokenizer(folder: repo.appendingPathComponent("Resources/tokenizers/gpt2")) }
    static func model(_ name: String) throws -> GLMModel { try GLMModel.load(glmFixtures.appendingPathComponent(name)) }

    static func json(_ name: String) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(contentsOf: fixtures.appendingPathComponent(name))) as! [String: Any]
    }

    /// A fresh temporary folder.
    static func tempDir() throws -> URL {
        let u = FileManager.default.temporaryDirectory.appendingPathComponent("glm-tasks-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: u, withIntermediateDirectories: true)
        return u
    }

    static func write(_ text: String, _ url: URL) throws { try Data(text.utf8).write(to: url) }
}

func maxAbs(_ a: [Float]) -> Float { a.map(abs).max() ?? 0 }
func maxDiff(_ a: [Float], _ b: [Float]) -> Float { zip(a, b).map { abs($0 - $1) }.max() ?? 0 }
