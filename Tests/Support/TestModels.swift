import Foundation

/// Model folders the end-to-end tests run `glm` and the server on.
public enum TestModels {
    /// The `model-counting` fixture: 2 layers, 32 hidden, 128 rows, 32 positions, trained to fill
    /// runs of consecutive ids.
    public static let counting = GLMExecutable.repository.appendingPathComponent("Tests/GLMTests/Fixtures/model-counting")

    /// The vocabulary written next to it: [PAD] [CLS] [MASK] [UNK] [SEP] w5 … w99 (102 tokens with
    /// sop = 100 and eop = 101, so ids 102…127 of the model are padding).
    public static let countingVocabulary = ["[PAD]", "[CLS]", "[MASK]", "[UNK]", "[SEP]"] + (5...99).map { "w\($0)" }

    /// Writes the counting model with its vocabulary into `folder` (created if missing).
    public static func writeCounting(to folder: URL) throws {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        for f in ["config.json", "model.safetensors"] {
            try FileManager.default.copyItem(at: counting.appendingPathComponent(f), to: folder.appendingPathComponent(f))
        }
        try (countingVocabulary.joined(separator: "\n") + "\n").write(to: folder.appendingPathComponent("vocab.txt"), atomically: true, encoding: .utf8)
    }
}
