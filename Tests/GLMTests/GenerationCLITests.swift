import Foundation
import XCTest
import GLMTestSupport

/// `glm generate` end to end: the built executable on a fixture model with a small BERT-style
/// vocabulary written here ([PAD] [CLS] [MASK] [UNK] [SEP] w5 … w99: sop = 100, eop = 101,
/// 102 tokens, so ids 102…127 of the 128-row model are padding).
final class GenerationCLITests: XCTestCase {
    static let fixtures = Bundle.module.url(forResource: "Fixtures", withExtension: nil)!
    var folder: URL!

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("glm-generate-cli-\(getpid())-\(UUID().uuidString)")
        try TestModels.writeCounting(to: folder.appendingPathComponent("model"))
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: folder) }

    private func run(_ args: [String], stdin: String? = nil, model: String? = nil) throws -> (rc: Int32, out: String, err: String) {
        guard GLMExecutable.url != nil else { throw XCTSkip(GLMExecutable.notBuilt) }
        return try GLMExecutable.run(["generate", "--model", model ?? folder.appendingPathComponent("model").path] + args, stdin: stdin)
    }

    func testJSONHasTheFillsOfEveryPrompt() throws {
        let r = try run(["--json", "--min-new-tokens", "3", "--max-new-tokens", "5", "w40 w41 [MASK] w44 [MASK] w48", "w7 w8"])
        XCTAssertEqual(r.rc, 0, r.err)
        let lines = r.out.split(separator: "\n")
        XCTAssertEqual(lines.count, 2)
        let objs = try lines.map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
        XCTAssertEqual(objs.map { $0["prompt"] as? String }, ["w40 w41 [MASK] w44 [MASK] w48", "w7 w8"])
        let fills = objs.map { $0["fills"] as! [[String: Any]] }
        XCTAssertEqual(fills.map(\.count), [2, 1])                    // no mask → one appended [MASK]
        XCTAssertEqual(fills[0].map { $0["position"] as? Int }, [3, 5])
        XCTAssertEqual(fills[1][0]["position"] as? Int, 3)            // [CLS] w7 w8 [MASK]
        for (obj, fs) in zip(objs, fills) {
            var total = 0
            for f in fs {
                XCTAssertEqual(f["mask"] as? String, "[MASK]")
                let ids = f["ids"] as! [Int]
                XCTAssertTrue((3...5).contains(ids.count), "\(ids)")
                XCTAssertTrue(ids.allSatisfy { $0 < 102 }, "padding ids are banned: \(ids)")
                XCTAssertNotNil(f["text"] as? String)
                XCTAssertTrue(["eop", "eos", "length"].contains(f["stop"] as? String ?? ""))
                XCTAssertNil(f["score"])
                total += ids.count
            }
            XCTAssertEqual(obj["generated_tokens"] as? Int, total)
            XCTAssertNotNil(obj["seconds"] as? Double)
            XCTAssertNotNil(obj["text"] as? String)
        }
        // Beam search reports a score per fill.
        let b = try run(["--json", "--num-beams", "2", "--max-new-tokens", "3", "w40 [MASK]"])
        XCTAssertEqual(b.rc, 0, b.err)
        let bf = (try JSONSerialization.jsonObject(with: Data(b.out.utf8)) as! [String: Any])["fills"] as! [[String: Any]]
        XCTAssertNotNil(bf[0]["score"] as? Double)
    }

    func testTextOutputIsDeterministicAndStdinIsABatch() throws {
        let a = try run(["--seed", "5", "w40 w41 [MASK] w44", "w9 [MASK]"])
        XCTAssertEqual(a.rc, 0, a.err)
        XCTAssertEqual(a.out.split(separator: "\n").count, 2)
        XCTAssertTrue(a.out.hasPrefix("w40 w41 "), a.out)
        XCTAssertEqual(try run(["--seed", "5", "w40 w41 [MASK] w44", "w9 [MASK]"]).out, a.out)
        // The same prompts as stdin lines (blank lines skipped) give the same text.
        let s = try run(["--seed", "5"], stdin: "w40 w41 [MASK] w44\n\nw9 [MASK]\n")
        XCTAssertEqual(s.rc, 0, s.err)
        XCTAssertEqual(s.out, a.out)
    }

    func testBadInputFailsWithAClearMessage() throws {
        func fails(_ args: [String], _ words: [String], stdin: String? = nil, model: String? = nil) throws {
            let r = try run(args, stdin: stdin, model: model)
            XCTAssertNotEqual(r.rc, 0, "\(args) should fail")
            for w in words { XCTAssertTrue(r.err.contains(w), "\(args): \(r.err)") }
            XCTAssertFalse(r.err.contains("Fatal error"), r.err)
        }
        try fails(["a [mask] b"], ["\"[mask]\"", "[MASK]", "[CLS]", "<|startofpiece|>"])
        try fails(["a [gMASK]"], ["\"[gMASK]\"", "not a command token"])
        try fails(["w5", "a [XMASK]"], ["prompt 2", "[XMASK]"])
        try fails([""], ["empty"])
        try fails([], ["no prompt"], stdin: "\n  \n")
        try fails([String(repeating: "w7 ", count: 40)], ["42 tokens", "at most 32"])
        try fails(["--temperature", "0", "w5"], ["temperature"])
        try fails(["w5"], ["model-tiny", "no tokenizer files", "vocab.txt"],
                  model: Self.fixtures.appendingPathComponent("model-tiny").path)
        try fails(["w5"], ["no such model folder"], model: folder.appendingPathComponent("nowhere").path)
    }
}
