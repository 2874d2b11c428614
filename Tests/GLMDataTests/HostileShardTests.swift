import Foundation
import GLMData
import GLMSystem
import GLMTokenizers
import XCTest

/// Shard folders and `glm prepare` runs as an attacker or a careless user makes them (issue 12,
/// classes 1, 4 and 7). Each crafted input is made here, never a committed blob.
final class HostileShardTests: XCTestCase {
    let fixture = Fixture()

    func writeOffset(_ value: UInt64, at index: Int, of file: URL) throws {
        var data = try Data(contentsOf: file)
        var v = value.littleEndian
        withUnsafeBytes(of: &v) { data.replaceSubrange((index * 8)..<(index * 8 + 8), with: $0) }
        try data.write(to: file)
    }

    func assertBadIndex(_ folder: URL, mentioning words: [String], file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try ShardDataset(folder: folder), file: file, line: line) { e in
            guard case GLMDataError.badIndex(let path, _) = e else { return XCTFail("\(e)", file: file, line: line) }
            XCTAssertTrue(path.hasSuffix("shard-00000.idx"), path, file: file, line: line)
            for w in words { XCTAssertTrue("\(e)".contains(w), "'\(e)' lacks '\(w)'", file: file, line: line) }
        }
    }

    /// Class 1: every `.idx` offset is checked at open, not only the first and last.
    func testEveryIndexOffsetIsChecked() throws {
        let (folder, m) = try makeShards(["w1 w2 .", "w3 w4 w5 !", "w6 ?", "w7 w8 w9 w10 ;"])
        XCTAssertEqual(m.shards[0].documents, 4)
        let idx = folder.appendingPathComponent("shard-00000.idx")
        let original = try Data(contentsOf: idx)
        let tokens = m.shards[0].tokenCount

        try writeOffset(1 << 40, at: 2, of: idx)                      // a flipped high byte
        assertBadIndex(folder, mentioning: ["offset 2", "1099511627776", "past the \(tokens) tokens"])
        try original.write(to: idx)
        try writeOffset(UInt64(tokens + 1), at: 3, of: idx)           // just past the end
        assertBadIndex(folder, mentioning: ["offset 3"])
        try original.write(to: idx)
        try writeOffset(1, at: 2, of: idx)                            // offsets going backwards
        assertBadIndex(folder, mentioning: ["offset 2", "must not decrease"])
        try original.write(to: idx)
        try writeOffset(UInt64.max, at: 1, of: idx)                   // beyond Int.max
        assertBadIndex(folder, mentioning: ["offset 1"])
        try original.write(to: idx)
        try writeOffset(5, at: 0, of: idx)
        assertBadIndex(folder, mentioning: ["offset 0 is 5"])
        try original.write(to: idx)
        XCTAssertEqual(try ShardDataset(folder: folder).documentCount, 4)
    }

    func rewriteManifest(_ folder: URL, _ edit: (inout [String: Any]) -> Void) throws {
        let url = folder.appendingPathComponent("manifest.json")
        var obj = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
        edit(&obj)
        try JSONSerialization.data(withJSONObject: obj).write(to: url)
    }

    func assertBadManifest(_ folder: URL, mentioning words: [String], file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try ShardDataset(folder: folder), file: file, line: line) { e in
            guard case GLMDataError.badManifest = e else { return XCTFail("\(e)", file: file, line: line) }
            for w in words { XCTAssertTrue("\(e)".contains(w), "'\(e)' lacks '\(w)'", file: file, line: line) }
        }
    }

    /// Classes 1 and 4: manifest counts near 2^62, huge or negative ids, paths leaving the folder and
    /// wrong types are errors naming the field, before any file is mapped or table allocated.
    func testManifestNumbersAndNamesAreChecked() throws {
        let (folder, _) = try makeShards(["w1 w2 .", "w3 w4 !"])
        let url = folder.appendingPathComponent("manifest.json")
        let original = try Data(contentsOf: url)
        func shard0(_ key: String, _ value: Any) throws {
            try rewriteManifest(folder) { o in
                var shards = o["shards"] as! [[String: Any]]
                shards[0][key] = value
                o["shards"] = shards
            }
        }
        try shard0("tokenCount", 1 << 62)
        assertBadManifest(folder, mentioning: ["shards[0]", "too large"])
        try original.write(to: url)
        try shard0("documents", Int.max)
        assertBadManifest(folder, mentioning: ["shards[0]"])
        try original.write(to: url)
        try shard0("documents", -3)
        assertBadManifest(folder, mentioning: ["negative"])
        try original.write(to: url)
        try shard0("tokens", "../../etc/passwd")
        assertBadManifest(folder, mentioning: ["plain names"])
        try original.write(to: url)
        try shard0("documents", 2.5)
        assertBadManifest(folder, mentioning: ["documents"])
        try original.write(to: url)
        try rewriteManifest(folder) { o in
            var t = o["tokenizer"] as! [String: Any]
            t["numTokens"] = 1 << 62
            o["tokenizer"] = t
        }
        assertBadManifest(folder, mentioning: ["numTokens"])
        try original.write(to: url)
        try rewriteManifest(folder) { o in
            var t = o["tokenizer"] as! [String: Any]
            t["sentenceEndIds"] = [5, 1 << 62]
            o["tokenizer"] = t
        }
        assertBadManifest(folder, mentioning: ["sentenceEndIds", "4611686018427387904"])
        try original.write(to: url)
        try rewriteManifest(folder) { o in
            var t = o["tokenizer"] as! [String: Any]
            var c = t["commands"] as! [String: Any]
            c["cls"] = -1
            t["commands"] = c
            o["tokenizer"] = t
        }
        assertBadManifest(folder, mentioning: ["commands.cls"])
        try original.write(to: url)
        // A folder in place of the manifest.
        try FileManager.default.removeItem(at: url)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: false)
        assertBadManifest(folder, mentioning: ["is a folder"])
        try FileManager.default.removeItem(at: url)
        try original.write(to: url)
        XCTAssertEqual(try ShardDataset(folder: folder).documentCount, 2)
    }

    func snapshot(_ folder: URL) throws -> [String: Data] {
        var out: [String: Data] = [:]
        for n in try FileManager.default.contentsOfDirectory(atPath: folder.path) {
            out[n] = try Data(contentsOf: folder.appendingPathComponent(n))
        }
        return out
    }

    /// Class 7: a re-run that fails (empty input, input = output, a locked folder, a folder of
    /// someone else's files) leaves the existing shards exactly as they were, and no temporaries.
    func testFailedPrepareNeverTouchesExistingShards() throws {
        let (out, _) = try makeShards(["w1 w2 .", "w3 w4 !"])
        let root = out.deletingLastPathComponent()
        let before = try snapshot(out)
        func siblings() throws -> [String] { try FileManager.default.contentsOfDirectory(atPath: root.path).sorted() }
        let siblingsBefore = try siblings()

        let empty = root.appendingPathComponent("empty.txt")
        _ = FileManager.default.createFile(atPath: empty.path, contents: Data())
        XCTAssertThrowsError(try CorpusPreparer.prepare(inputs: [empty], tokenizer: fixture.tokenizer, output: out)) {
            XCTAssertEqual($0 as? GLMDataError, .noDocuments(output: out.path, skipped: "1 empty files"))
            XCTAssertTrue("\($0)".contains("unchanged"))
        }
        XCTAssertThrowsError(try CorpusPreparer.prepare(inputs: [out], tokenizer: fixture.tokenizer, output: out)) {
            XCTAssertEqual($0 as? GLMDataError, .inputIsOutput(input: out.path, output: out.path))
        }
        let inner = out.appendingPathComponent("shard-00000.bin")
        XCTAssertThrowsError(try CorpusPreparer.prepare(inputs: [inner], tokenizer: fixture.tokenizer, output: out)) {
            XCTAssertEqual($0 as? GLMDataError, .inputIsOutput(input: inner.path, output: out.path))
        }
        let lock = try RunLock.acquire(replacing: out, purpose: "glm prepare")
        XCTAssertThrowsError(try CorpusPreparer.prepare(inputs: [root.appendingPathComponent("input")],
                                                        tokenizer: fixture.tokenizer, output: out)) { e in
            guard case GLMDataError.locked(let path, let holder) = e else { return XCTFail("\(e)") }
            XCTAssertEqual(path, out.path)
            XCTAssertTrue(holder.contains("PID \(getpid())"), holder)
        }
        lock.release()
        XCTAssertEqual(try snapshot(out), before)
        XCTAssertEqual(try siblings().filter { !$0.hasPrefix("empty") }, siblingsBefore)

        // A folder holding other files, and a file, are not replaced.
        let notes = root.appendingPathComponent("notes")
        try FileManager.default.createDirectory(at: notes, withIntermediateDirectories: true)
        try Data("mine".utf8).write(to: notes.appendingPathComponent("todo.txt"))
        XCTAssertThrowsError(try CorpusPreparer.prepare(inputs: [root.appendingPathComponent("input")],
                                                        tokenizer: fixture.tokenizer, output: notes)) { e in
            guard case GLMDataError.outputNotShards(_, let reason) = e else { return XCTFail("\(e)") }
            XCTAssertTrue(reason.contains("todo.txt"), reason)
        }
        XCTAssertEqual(try String(contentsOf: notes.appendingPathComponent("todo.txt"), encoding: .utf8), "mine")
        let file = root.appendingPathComponent("file.bin")
        try Data("x".utf8).write(to: file)
        XCTAssertThrowsError(try CorpusPreparer.prepare(inputs: [root.appendingPathComponent("input")],
                                                        tokenizer: fixture.tokenizer, output: file)) {
            guard case GLMDataError.outputNotShards = $0 else { return XCTFail("\($0)") }
        }

        // A successful re-run replaces the shards, and leaves no lock file or temporary behind.
        let m = try CorpusPreparer.prepare(inputs: [root.appendingPathComponent("input/doc-0000.txt")], tokenizer: fixture.tokenizer, output: out)
        XCTAssertEqual(m.counts.documents, 1)
        XCTAssertEqual(try ShardDataset(folder: out).documentCount, 1)
        let after = try siblings()
        XCTAssertFalse(after.contains { $0.hasPrefix(".") }, "\(after)")
    }

    /// An output folder inside the input folder is not read back as input on a re-run.
    func testOutputInsideInputIsNotReadAsInput() throws {
        let root = temporaryFolder()
        try "w1 w2 . w3 !".write(to: root.appendingPathComponent("a.txt"), atomically: true, encoding: .utf8)
        let out = root.appendingPathComponent("shards")
        let first = try CorpusPreparer.prepare(inputs: [root], tokenizer: fixture.tokenizer, output: out)
        let second = try CorpusPreparer.prepare(inputs: [root], tokenizer: fixture.tokenizer, output: out)
        XCTAssertEqual(first, second)
        XCTAssertEqual(second.counts.files, 1)
    }
}
