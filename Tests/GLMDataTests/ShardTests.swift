import Foundation
import GLMData
import GLMTokenizers
import XCTest

final class ShardTests: XCTestCase {
    let fixture = Fixture()

    func testPrepareRoundTripsDocumentsAndCounts() throws {
        let docs = standardCorpus(short: 10, long: 2)
        let (folder, m) = try makeShards(docs)
        XCTAssertEqual(m.dtype, "uint16")
        XCTAssertEqual(m.counts.documents, docs.count)
        XCTAssertEqual(m.tokenizer.identity, fixture.tokenizer.identity)
        XCTAssertEqual(m.tokenizer.commands, fixture.commands)
        let ds = try ShardDataset(folder: folder, tokenizerIdentity: fixture.tokenizer.identity)
        XCTAssertEqual(ds.documentCount, docs.count)
        for (i, d) in docs.enumerated() {
            XCTAssertEqual(ds.document(i), fixture.text.encode(d).map(Int32.init), "document \(i)")
        }
        XCTAssertEqual(ds.tokenCount, docs.reduce(0) { $0 + fixture.text.encode($1).count })
        XCTAssertEqual(m.counts.tokens, ds.tokenCount)
        let ends = Set(m.tokenizer.sentenceEndIds)
        XCTAssertEqual(ends, Set([".", "?", "!", ";", ":"].map { fixture.text.id(for: $0)! }))
    }

    func testOutputIsDeterministicAcrossThreadCountsAndShardSizes() throws {
        let docs = standardCorpus(short: 30, long: 3)
        let (a, _) = try makeShards(docs, options: PrepareOptions(workers: 1, roundBytes: 1 << 20), name: "det1")
        let (b, _) = try makeShards(docs, options: PrepareOptions(workers: 2, roundBytes: 500), name: "det2")
        for name in ["manifest.json", "shard-00000.bin", "shard-00000.idx"] {
            XCTAssertEqual(try Data(contentsOf: a.appendingPathComponent(name)),
                           try Data(contentsOf: b.appendingPathComponent(name)), name)
        }
        // Small shards: documents spread over several files, same stream.
        let (c, mc) = try makeShards(docs, options: PrepareOptions(workers: 2, maxTokensPerShard: 300), name: "det3")
        XCTAssertGreaterThan(mc.shards.count, 3)
        let one = try ShardDataset(folder: a), many = try ShardDataset(folder: c)
        XCTAssertEqual(one.documentCount, many.documentCount)
        for i in 0..<one.documentCount { XCTAssertEqual(one.document(i), many.document(i)) }
        for i in 0..<50 { XCTAssertEqual(one.sample(index: i, seed: 3, seqLength: 96), many.sample(index: i, seed: 3, seqLength: 96)) }
    }

    func testWideVocabularyUsesUInt32() throws {
        let f = Fixture(identity: "wide", extraVocabulary: 70_000)
        let (folder, m) = try makeShards(["x69999 w1 . w2 x5 !"], fixture: f)
        XCTAssertEqual(m.dtype, "uint32")
        let ds = try ShardDataset(folder: folder)
        XCTAssertEqual(ds.document(0), f.text.encode("x69999 w1 . w2 x5 !").map(Int32.init))
        XCTAssertGreaterThan(ds.document(0)[0], 65535)
    }

    func testJSONLinesAndBlankLineSplitAndBadInput() throws {
        let root = temporaryFolder()
        let fm = FileManager.default
        try #"{"text": "w1 w2 . w3"}"# .appending("\n\n{\"text\": \"w4 ! w5\"}\nnot json\n{\"title\": \"no text\"}\n{\"text\": \"\"}\n")
            .write(to: root.appendingPathComponent("a.jsonl"), atomically: true, encoding: .utf8)
        try "w1 w2 .\nw3 w4 ?\n\n   \nw5 w6 !\n\n\nw7".write(to: root.appendingPathComponent("b.txt"), atomically: true, encoding: .utf8)
        _ = fm.createFile(atPath: root.appendingPathComponent("empty.txt").path, contents: Data())
        _ = fm.createFile(atPath: root.appendingPathComponent("binary.bin").path, contents: Data([0x7F, 0x45, 0x4C, 0x46, 0, 0, 1, 2]))
        _ = fm.createFile(atPath: root.appendingPathComponent("latin1.txt").path, contents: Data([0x77, 0x31, 0x20, 0xE9, 0x20, 0x77, 0x32, 0xFF]))
        let out = root.appendingPathComponent("shards")
        let m = try CorpusPreparer.prepare(inputs: [root], tokenizer: fixture.tokenizer, output: out,
                                           options: PrepareOptions(split: .blankLine))
        XCTAssertEqual(m.counts.skippedEmptyFiles, 1)
        XCTAssertEqual(m.counts.skippedBinaryFiles, 1)
        XCTAssertEqual(m.counts.invalidJSONLines, 2)
        XCTAssertEqual(m.counts.invalidUTF8Replacements, 2)
        XCTAssertEqual(m.counts.skippedEmptyDocuments, 1)  // {"text": ""}
        let ds = try ShardDataset(folder: out)
        // a.jsonl: 2 documents; b.txt: 3 blocks; latin1.txt: 1 document.
        XCTAssertEqual(ds.documentCount, 6)
        XCTAssertEqual(ds.document(0), fixture.text.encode("w1 w2 . w3").map(Int32.init))
        XCTAssertEqual(ds.document(2), fixture.text.encode("w1 w2 . w3 w4 ?").map(Int32.init))
        XCTAssertEqual(ds.document(4), fixture.text.encode("w7").map(Int32.init))
        XCTAssertEqual(ds.document(5), [Int32(fixture.text.id(for: "w1")!), 1, Int32(fixture.text.id(for: "w2")!), 1])

        // Per-file mode: b.txt is one document.
        let out2 = root.appendingPathComponent("shards2")
        let m2 = try CorpusPreparer.prepare(inputs: [root.appendingPathComponent("b.txt")], tokenizer: fixture.tokenizer,
                                            output: out2, options: PrepareOptions(split: .file))
        XCTAssertEqual(m2.counts.documents, 1)
    }

    func testJSONLinesAreStreamedInChunks() throws {
        let root = temporaryFolder()
        var lines = [String]()
        for i in 0..<40 { lines.append(#"{"text": "w\#(i) é w\#(i + 1) . ü w3 ?"}"#) }
        lines.insert("garbage", at: 7)
        let file = root.appendingPathComponent("c.jsonl")
        try (lines.joined(separator: "\n") + "\n{\"text\": \"w9 ! no newline at end\"}").write(to: file, atomically: true, encoding: .utf8)
        let whole = try CorpusPreparer.prepare(inputs: [file], tokenizer: fixture.tokenizer, output: root.appendingPathComponent("a"))
        let chunked = try CorpusPreparer.prepare(inputs: [file], tokenizer: fixture.tokenizer, output: root.appendingPathComponent("b"),
                                                 options: PrepareOptions(roundBytes: 64, readChunkBytes: 7))
        XCTAssertEqual(whole, chunked)
        XCTAssertEqual(whole.counts.documents, 41)
        XCTAssertEqual(whole.counts.invalidJSONLines, 1)
        XCTAssertEqual(whole.counts.invalidUTF8Replacements, 0, "multi-byte characters survive chunking")
        XCTAssertEqual(try Data(contentsOf: root.appendingPathComponent("a/shard-00000.bin")),
                       try Data(contentsOf: root.appendingPathComponent("b/shard-00000.bin")))
    }

    func testErrorsNameTheFolderAndTokenizer() throws {
        let (folder, _) = try makeShards(["w1 w2 ."])
        XCTAssertThrowsError(try ShardDataset(folder: folder, tokenizerIdentity: "bert-base-uncased@abc")) { e in
            XCTAssertEqual(e as? GLMDataError, .tokenizerMismatch(folder: folder.path, expected: "bert-base-uncased@abc",
                                                                   found: fixture.tokenizer.identity))
            XCTAssertTrue("\(e)".contains(folder.path))
        }
        let empty = temporaryFolder()
        XCTAssertThrowsError(try ShardDataset(folder: empty)) {
            XCTAssertEqual($0 as? GLMDataError, .missingManifest(folder: empty.path))
        }
        // A truncated shard is caught at open, naming the file.
        let bin = folder.appendingPathComponent("shard-00000.bin")
        let data = try Data(contentsOf: bin)
        try data.prefix(data.count - 2).write(to: bin)
        XCTAssertThrowsError(try ShardDataset(folder: folder)) { XCTAssertTrue("\($0)".contains("shard-00000.bin")) }
        XCTAssertThrowsError(try CorpusPreparer.prepare(inputs: [empty.appendingPathComponent("missing.txt")],
                                                        tokenizer: fixture.tokenizer, output: empty)) {
            XCTAssertEqual($0 as? GLMDataError, .inputNotFound(path: empty.appendingPathComponent("missing.txt").path))
        }
    }

    /// A corpus of only bad input is refused by prepare itself, and nothing is written.
    func testCorpusOfOnlyBadInputIsRefusedBeforeWriting() throws {
        let root = temporaryFolder()
        _ = FileManager.default.createFile(atPath: root.appendingPathComponent("e.txt").path, contents: Data())
        let out = root.appendingPathComponent("out")
        XCTAssertThrowsError(try CorpusPreparer.prepare(inputs: [root], tokenizer: fixture.tokenizer, output: out)) {
            XCTAssertEqual($0 as? GLMDataError, .noDocuments(output: out.path, skipped: "1 empty files"))
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: out.path))
        XCTAssertThrowsError(try ShardDataset(folder: out)) { XCTAssertEqual($0 as? GLMDataError, .missingManifest(folder: out.path)) }
    }
}

final class PackingTests: XCTestCase {
    let fixture = Fixture()

    /// Checks docs/official-glm.md §4.1 on many samples: length ≤ S, [CLS] first, every piece a contiguous run of one
    /// document followed by eos (or cut at the end), a pure function of (seed, index).
    func testPackingInvariants() throws {
        let docs = standardCorpus()
        let (folder, _) = try makeShards(docs)
        let ds = try ShardDataset(folder: folder)
        let texts = (0..<ds.documentCount).map { ds.document($0) }
        let S = 128
        var crops = 0, concatenated = 0, cropStartsAtSentence = 0
        for i in 0..<400 {
            let s = ds.sample(index: i, seed: 99, seqLength: S)
            XCTAssertEqual(s, ds.sample(index: i, seed: 99, seqLength: S), "pure function of (seed, index)")
            XCTAssertLessThanOrEqual(s.count, S)
            XCTAssertEqual(s.tokens[0], 2)
            XCTAssertEqual(s.tokens.count, s.lossMask.count)
            // Split on [CLS]: each piece is a run of one document, possibly with its eos.
            var pieces = [[Int32]](), cur = [Int32]()
            for (k, t) in s.tokens.enumerated() {
                if t == 2 { if k > 0 { pieces.append(cur) }; cur = []; XCTAssertEqual(s.lossMask[k], 0) } else {
                    cur.append(t); XCTAssertEqual(s.lossMask[k], 1)
                }
            }
            pieces.append(cur)
            if pieces.count > 1 { concatenated += 1 }
            for (p, piece) in pieces.enumerated() {
                var body = piece
                let hasEos = body.last == 0
                if hasEos { body.removeLast() }
                XCTAssertFalse(body.contains(0), "eos only at a document end")
                let host = texts.first { doc in
                    guard body.count <= doc.count else { return false }
                    if hasEos { return Array(doc.suffix(body.count)) == body }
                    return doc.count >= body.count && (0...(doc.count - body.count)).contains { Array(doc[$0..<($0 + body.count)]) == body }
                }
                XCTAssertNotNil(host, "piece \(p) of sample \(i) comes from one document")
                if pieces.count == 1, let host, host.count + 1 > S - 1 {
                    crops += 1
                    if let start = (0...(host.count - body.count)).first(where: { Array(host[$0..<($0 + body.count)]) == body }),
                       start == 0 || fixture.sentenceEnds.contains(host[start - 1]) { cropStartsAtSentence += 1 }
                }
            }
        }
        XCTAssertGreaterThan(crops, 50)
        XCTAssertGreaterThan(concatenated, 20)
        XCTAssertGreaterThan(Double(cropStartsAtSentence) / Double(crops), 0.9, "crops start at sentence starts")
        XCTAssertNotEqual(ds.sample(index: 0, seed: 1, seqLength: S), ds.sample(index: 0, seed: 2, seqLength: S))
    }

    func testDocumentsDrawnInProportionToLength() throws {
        let docs = ["w1 w2 w3 w4 .", String(repeating: "w5 w6 w7 w8 . ", count: 9)]  // 5 and 45 tokens
        let (folder, _) = try makeShards(docs)
        let ds = try ShardDataset(folder: folder)
        var rng = GLMRandom(seed: 4)
        var hits = [0, 0]
        for _ in 0..<20_000 { hits[ds.drawDocument(&rng)] += 1 }
        XCTAssertEqual(Double(hits[0]) / 20_000, 0.1, accuracy: 0.01)
    }
}
