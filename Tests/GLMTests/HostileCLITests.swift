import Foundation
import XCTest
import GLMTestSupport

/// The `glm` executable on hostile or mistaken command lines (issue 12, classes 4, 8 and 10):
/// every case exits non-zero with a message naming the flag, file or field, and changes nothing.
final class HostileCLITests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("glm-hostile-cli-\(UUID().uuidString)")
        try TestModels.writeCounting(to: dir.appendingPathComponent("model"))
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    private func run(_ args: [String], environment: [String: String] = [:]) throws -> (rc: Int32, out: String, err: String) {
        guard GLMExecutable.url != nil else { throw XCTSkip(GLMExecutable.notBuilt) }
        return try GLMExecutable.run(args, environment: environment, currentDirectory: dir)
    }

    private func assertFails(_ args: [String], environment: [String: String] = [:], mentioning words: [String],
                             file: StaticString = #filePath, line: UInt = #line) throws {
        let r = try run(args, environment: environment)
        XCTAssertNotEqual(r.rc, 0, "\(args) succeeded", file: file, line: line)
        XCTAssertLessThan(r.rc, 128, "\(args) crashed: \(r.err)", file: file, line: line)
        for w in words { XCTAssertTrue(r.err.contains(w), "\(args): '\(r.err)' lacks '\(w)'", file: file, line: line) }
    }

    /// Class 10: non-finite and non-positive flags are refused by name; a negative value gets the `=` hint.
    func testFlagsAreCheckedByName() throws {
        try assertFails(["pretrain", "--lr", "inf", "--output", "run"], mentioning: ["--lr", "inf"])
        try assertFails(["pretrain", "--lr", "nan", "--output", "run"], mentioning: ["--lr"])
        try assertFails(["pretrain", "--time-limit", "-inf", "--output", "run"], mentioning: ["--time-limit=-inf"])
        try assertFails(["pretrain", "--steps", "0", "--output", "run"], mentioning: ["--steps"])
        try assertFails(["pretrain", "--lr", "-1e-4", "--output", "run"], mentioning: ["--lr=-1e-4"])
        try assertFails(["batches", "--data", "d", "--show", "--batch-size", "0"], mentioning: ["--batch-size"])
        try assertFails(["batches", "--data", "d", "--show", "--start", "4611686018427387904"], mentioning: ["batch index"])
        try assertFails(["batches", "--data", "d", "--show", "--start", "-5"], mentioning: ["--start=-5"])
        try assertFails(["prepare", "--input", "a", "--tokenizer", "t", "--output", "o", "--workers", "0"], mentioning: ["--workers"])
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.appendingPathComponent("run").path), "nothing was created")
    }

    /// Class 4: a 100,000-token `glm logits` case and 100,000 beams are refused before allocating.
    func testImpossibleWorkIsRefusedBeforeAllocating() throws {
        let n = 100_000
        let ids = "[" + Array(repeating: "5", count: n).joined(separator: ",") + "]"
        let zeros = "[" + Array(repeating: "0", count: n).joined(separator: ",") + "]"
        let caseFile = dir.appendingPathComponent("long.json")
        try "{\"input_ids\": [\(ids)], \"position_ids\": [[\(zeros), \(zeros)]], \"attention_mask\": [\(n)]}"
            .write(to: caseFile, atomically: true, encoding: .utf8)
        let model = dir.appendingPathComponent("model").path
        try assertFails(["logits", "--model", model, "--input", caseFile.path, "--output", "out.safetensors"],
                        environment: ["GLM_MEMORY_LIMIT": "8G"], mentioning: ["not enough memory", "100000 tokens"])
        try assertFails(["generate", "--model", model, "--num-beams", "100000", "w5 [MASK]"],
                        environment: ["GLM_MEMORY_LIMIT": "1G"], mentioning: ["not enough memory", "--num-beams 100000"])
        // Position ids that are not integers name the field.
        let frac = dir.appendingPathComponent("frac.json")
        try #"{"input_ids": [[5, 6]], "position_ids": [[[0, 2.7], [0, 0]]], "attention_mask": [2]}"#.write(to: frac, atomically: true, encoding: .utf8)
        try assertFails(["logits", "--model", model, "--input", frac.path, "--output", "out.safetensors"],
                        mentioning: ["\"position_ids\"[0][0][1]", "2.7"])
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.appendingPathComponent("out.safetensors").path))
    }

    /// Class 8: `convert --output` replaces only model folders unless --force; `/` is a clear
    /// error; nothing is left behind.
    func testConvertRefusesToReplaceWhatIsNotAModel() throws {
        let model = dir.appendingPathComponent("model").path
        let notes = dir.appendingPathComponent("notes")
        try FileManager.default.createDirectory(at: notes, withIntermediateDirectories: true)
        try Data("mine".utf8).write(to: notes.appendingPathComponent("thesis.tex"))
        try assertFails(["convert", "--input", model, "--output", notes.path], mentioning: ["thesis.tex", "--force"])
        XCTAssertEqual(try String(contentsOf: notes.appendingPathComponent("thesis.tex"), encoding: .utf8), "mine")
        let file = dir.appendingPathComponent("weights.txt")
        try Data("keep".utf8).write(to: file)
        try assertFails(["convert", "--input", model, "--output", file.path], mentioning: ["is a file", "--force"])
        XCTAssertEqual(try String(contentsOf: file, encoding: .utf8), "keep")
        try assertFails(["convert", "--input", model, "--output", "/"], mentioning: ["refusing to replace the root folder"])
        try assertFails(["convert", "--input", model, "--output", "/", "--force"], mentioning: ["refusing to replace the root folder"])
        try assertFails(["convert", "--input", model, "--output", "."], mentioning: ["refusing to replace the working folder"])
        let before = try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted()
        XCTAssertFalse(before.contains { $0.hasPrefix(".") }, "temporaries left: \(before)")
        // A model folder is replaced; with --force, so is the folder of notes.
        let out = dir.appendingPathComponent("hf")
        XCTAssertEqual(try run(["convert", "--input", model, "--output", out.path]).rc, 0)
        XCTAssertEqual(try run(["convert", "--input", model, "--output", out.path]).rc, 0)
        XCTAssertEqual(try run(["convert", "--input", model, "--output", notes.path, "--force"]).rc, 0)
        XCTAssertTrue(FileManager.default.fileExists(atPath: notes.appendingPathComponent("model.safetensors").path))
        XCTAssertFalse(FileManager.default.fileExists(atPath: notes.appendingPathComponent("thesis.tex").path))
        let after = try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted()
        XCTAssertFalse(after.contains { $0.hasPrefix(".") }, "temporaries left: \(after)")
    }
}
