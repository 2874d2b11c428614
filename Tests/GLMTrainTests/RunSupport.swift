import Foundation
import XCTest

/// What the end-to-end run tests share: a scratch folder, the built `glm` executable, launching
/// it, reading the losses it logged, and waiting for a condition.
class RunTestCase: XCTestCase {
    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    var tmp: URL!

    override func setUpWithError() throws {
        tmp = FileManager.default.temporaryDirectory.appendingPathComponent("glm-run-\(getpid())-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: tmp, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: tmp) }

    /// For `glm pretrain` tests: a small corpus (a slice of the held-out novel) and a tiny-run config file.
    func makeConfig(steps: Int = 12, saveEvery: Int = 4, extra: [String: Any] = [:]) throws -> URL {
        let text = try String(contentsOf: Self.repo.appendingPathComponent("Resources/corpus/valid/persuasion.txt"), encoding: .utf8)
        let data = tmp.appendingPathComponent("corpus")
        try FileManager.default.createDirectory(at: data, withIntermediateDirectories: true)
        try String(text.prefix(60_000)).write(to: data.appendingPathComponent("a.txt"), atomically: true, encoding: .utf8)
        try String(text.dropFirst(60_000).prefix(8_000)).write(to: tmp.appendingPathComponent("valid.txt"), atomically: true, encoding: .utf8)
        let base: [String: Any] = [
            "model": ["num_layers": 2, "hidden_size": 32, "num_attention_heads": 4, "vocab_size": 30592,
                      "max_sequence_length": 64],
            "data": [data.path], "validationData": [tmp.appendingPathComponent("valid.txt").path],
            "tokenizer": Self.repo.appendingPathComponent("Resources/tokenizers/bert-base-uncased").path,
            "seqLength": 48, "batchSize": 4, "steps": steps, "saveEvery": saveEvery, "evalEvery": 6, "evalBatches": 2,
            "learningRate": 1e-3, "warmup": 0.1, "demoSentences": 1, "keepCheckpoints": 2,
        ]
        let url = tmp.appendingPathComponent("run.json")
        let cfg = base.merging(extra) { _, new in new }
        try JSONSerialization.data(withJSONObject: cfg).write(to: url)
        return url
    }

    /// The `glm` executable built next to this test bundle.
    func glmBinary() throws -> URL {
        var dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for _ in 0..<3 {
            let c = dir.appendingPathComponent("glm")
            if FileManager.default.isExecutableFile(atPath: c.path) { return c }
            dir.deleteLastPathComponent()
        }
        let fallback = Self.repo.appendingPathComponent(".build/release/glm")
        guard FileManager.default.isExecutableFile(atPath: fallback.path) else {
            throw XCTSkip("glm executable not built (run swift build -c release first)")
        }
        return fallback
    }

    func launch(_ args: [String]) throws -> Process { try launchLogged(args).process }

    /// Starts `glm` with `args`; its stdout and stderr go to one file (returned) that tests read.
    func launchLogged(_ args: [String]) throws -> (process: Process, log: URL) {
        let u = tmp.appendingPathComponent("log-\(UUID().uuidString.prefix(6)).txt")
        FileManager.default.createFile(atPath: u.path, contents: nil)
        let p = Process()
        p.executableURL = try glmBinary()
        p.arguments = args
        let h = try FileHandle(forWritingTo: u)
        p.standardOutput = h
        p.standardError = h
        try p.run()
        return (p, u)
    }

    /// Training losses per step as logged (the JSON text, so equality is bit for bit).
    func losses(_ run: URL) throws -> [Int: String] {
        let text = try String(contentsOf: run.appendingPathComponent("metrics.jsonl"), encoding: .utf8)
        var out: [Int: String] = [:]
        for line in text.split(separator: "\n") where line.contains("\"loss\"") {
            let obj = try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
            let step = obj["step"] as! Int
            XCTAssertNil(out[step], "step \(step) logged twice")
            let loss = line.components(separatedBy: "\"loss\": ")[1].split(separator: ",")[0]
            out[step] = String(loss)
        }
        return out
    }

    func waitFor(_ timeout: Double, _ cond: () -> Bool) -> Bool {
        let end = Date().addingTimeInterval(timeout)
        while Date() < end { if cond() { return true }; usleep(20_000) }
        return cond()
    }
}
