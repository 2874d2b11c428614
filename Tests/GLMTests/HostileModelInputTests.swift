import Foundation
import GLM
import GLMNN
import GLMSystem
import XCTest

/// `config.json`, `glm logits` cases and output folders as a careless user or an attacker writes
/// them (issue 12, classes 4, 8 and 10). Every crafted file is made here.
final class HostileModelInputTests: XCTestCase {
    static let fixtures = Bundle.module.url(forResource: "Fixtures", withExtension: nil)!
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("glm-hostile-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    func config(_ edit: (inout [String: Any]) -> Void) throws -> URL {
        var obj = try JSONSerialization.jsonObject(with: Data(contentsOf: Self.fixtures.appendingPathComponent("model-counting/config.json"))) as! [String: Any]
        edit(&obj)
        let url = dir.appendingPathComponent("config-\(UUID().uuidString.prefix(6)).json")
        try JSONSerialization.data(withJSONObject: obj).write(to: url)
        return url
    }

    func assertConfigError(_ edit: (inout [String: Any]) -> Void, mentions words: [String], file: StaticString = #filePath, line: UInt = #line) throws {
        let url = try config(edit)
        XCTAssertThrowsError(try GLMConfig.load(url), file: file, line: line) { e in
            guard case GLMError.invalidConfig = e else { return XCTFail("\(e)", file: file, line: line) }
            for w in words { XCTAssertTrue("\(e)".contains(w), "'\(e)' lacks '\(w)'", file: file, line: line) }
        }
    }

    /// Class 4 and 10: huge sizes hit stated limits at once (1e9 layers used to run 25 s, then
    /// abort); fractions and wrong types name the field instead of "not valid JSON".
    func testConfigLimitsAndTypesNameTheField() throws {
        try assertConfigError({ $0["num_layers"] = 1_000_000_000 }, mentions: ["num_layers", "1000000000", "\(GLMConfig.Limits.numLayers)"])
        try assertConfigError({ $0["hidden_size"] = 1 << 40 }, mentions: ["hidden_size"])
        try assertConfigError({ $0["vocab_size"] = 1 << 62 }, mentions: ["vocab_size"])
        try assertConfigError({ $0["max_sequence_length"] = 1 << 40 }, mentions: ["max_sequence_length"])
        try assertConfigError({ $0["num_attention_heads"] = 1 << 20 }, mentions: ["num_attention_heads"])
        try assertConfigError({ $0["num_layers"] = 2.5 }, mentions: ["num_layers", "2.5", "integer"])
        try assertConfigError({ $0["vocab_size"] = 1e30 }, mentions: ["vocab_size"])
        try assertConfigError({ $0["hidden_size"] = "32" }, mentions: ["hidden_size"])
        try assertConfigError({ $0.removeValue(forKey: "num_layers") }, mentions: ["missing field \"num_layers\""])
        try assertConfigError({ $0["attention_scale"] = 0 }, mentions: ["attention_scale"])
        let broken = dir.appendingPathComponent("broken.json")
        try Data("{\"num_layers\": 2,".utf8).write(to: broken)
        XCTAssertThrowsError(try GLMConfig.load(broken)) { XCTAssertTrue("\($0)".contains("not valid JSON"), "\($0)") }
        // A folder where config.json should be.
        let folder = dir.appendingPathComponent("config.json")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        XCTAssertThrowsError(try GLMConfig.load(folder)) { e in
            XCTAssertTrue("\(e)".contains("is a folder, expected a file"), "\(e)")
            XCTAssertFalse("\(e)".contains("NSCocoaErrorDomain"), "\(e)")
        }
    }

    /// The closed-form parameter count equals the sum over the parameter table (GLMParameters); memory estimates refuse
    /// what cannot fit and accept the small model.
    func testMemoryEstimateMatchesTheModelAndRefusesImpossibleWork() throws {
        for name in ["glm-tiny", "glm-base", "glm-10b"] {
            let c = GLMConfig.presets[name]!
            let counted = GLMParameters.table(c).reduce(0) { $0 + $1.shape.reduce(1, *) }
            XCTAssertEqual(c.parameterCount, counted, name)
        }
        let tiny = GLMConfig.presets["glm-tiny"]!
        let small = try XCTUnwrap(tiny.estimatedBytes(batch: 1, sequence: 64, workload: .inference))
        XCTAssertGreaterThan(small, tiny.parameterCount! * 4)
        XCTAssertLessThan(small, 64 << 20)
        XCTAssertGreaterThan(try XCTUnwrap(tiny.estimatedBytes(batch: 1, sequence: 64, workload: .training)), small)
        XCTAssertNoThrow(try tiny.checkMemory(batch: 1, sequence: 64, workload: .inference, for: "a small case"))
        // 100,000 tokens: [1, 4, 1e5, 1e5] attention scores alone are 320 GB.
        XCTAssertThrowsError(try tiny.checkMemory(batch: 1, sequence: 100_000, workload: .inference, for: "glm logits")) { e in
            guard case GLMError.insufficientMemory(let m) = e else { return XCTFail("\(e)") }
            XCTAssertTrue(m.contains("glm logits") && m.contains("100000 tokens"), m)
        }
        XCTAssertThrowsError(try tiny.checkMemory(batch: 100_000, sequence: 128, workload: .decoding, for: "beam search"))
        XCTAssertNil(tiny.estimatedBytes(batch: 1 << 40, sequence: 1 << 40, workload: .training))
    }

    func parityCase(_ edit: (inout [String: Any]) -> Void) throws -> Error? {
        var obj: [String: Any] = ["input_ids": [[5, 6, 7]], "position_ids": [[[0, 1, 2], [0, 0, 0]]], "attention_mask": [3]]
        edit(&obj)
        do { _ = try ParityCase(json: obj, source: "case.json"); return nil } catch { return error }
    }

    /// Class 10: position ids of 1e30 or 2.7 are errors naming the field and index, never truncated.
    func testParityCaseNumbersAreExactIntegers() throws {
        XCTAssertNil(try parityCase { _ in })
        for (bad, index) in [(1e30, "[0][0][1]"), (2.7, "[0][0][1]")] {
            let e = try parityCase { $0["position_ids"] = [[[0, bad, 2], [0, 0, 0]]] }
            XCTAssertTrue("\(String(describing: e))".contains("\"position_ids\"\(index)"), "\(String(describing: e))")
        }
        XCTAssertTrue("\(String(describing: try parityCase { $0["input_ids"] = [[5, 6.5, 7]] }))".contains("\"input_ids\"[0][1]"))
        XCTAssertTrue("\(String(describing: try parityCase { $0["attention_mask"] = [2.5] }))".contains("attention_mask"))
        let folder = dir.appendingPathComponent("case.json")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        XCTAssertThrowsError(try ParityCase(contentsOf: folder)) { XCTAssertTrue("\($0)".contains("is a folder, expected a file"), "\($0)") }
    }

    /// Class 8: only model folders (or empty ones, or nothing) are replaced without --force; the root
    /// and the working folder never.
    func testOnlyModelFoldersAreReplaceable() throws {
        let notes = dir.appendingPathComponent("notes")
        try FileManager.default.createDirectory(at: notes, withIntermediateDirectories: true)
        try Data("mine".utf8).write(to: notes.appendingPathComponent("thesis.tex"))
        XCTAssertThrowsError(try ModelFolder.checkReplaceable(notes, force: false)) { XCTAssertTrue("\($0)".contains("--force"), "\($0)") }
        XCTAssertNoThrow(try ModelFolder.checkReplaceable(notes, force: true))
        let file = dir.appendingPathComponent("file")
        try Data("x".utf8).write(to: file)
        XCTAssertThrowsError(try ModelFolder.checkReplaceable(file, force: false)) { XCTAssertTrue("\($0)".contains("is a file"), "\($0)") }
        let model = dir.appendingPathComponent("model")
        try FileManager.default.createDirectory(at: model, withIntermediateDirectories: true)
        XCTAssertNoThrow(try ModelFolder.checkReplaceable(model, force: false), "empty")
        try Data("{}".utf8).write(to: model.appendingPathComponent("config.json"))
        XCTAssertNoThrow(try ModelFolder.checkReplaceable(model, force: false))
        XCTAssertNoThrow(try ModelFolder.checkReplaceable(dir.appendingPathComponent("new"), force: false))
        for path in ["/", FileManager.default.currentDirectoryPath] {
            XCTAssertThrowsError(try ModelFolder.checkReplaceable(URL(fileURLWithPath: path), force: true)) {
                XCTAssertTrue("\($0)".contains("refusing to replace"), "\($0)")
            }
        }
    }
}
