import Foundation
import GLMData
import GLMTokenizers
import XCTest

final class LoaderTests: XCTestCase {
    let fixture = Fixture()

    func testPrefetchedStreamEqualsPureFunctionAndResumesExactly() throws {
        let (folder, _) = try makeShards(standardCorpus(short: 20, long: 2))
        let ds = try ShardDataset(folder: folder, tokenizerIdentity: fixture.tokenizer.identity)
        let col = try BlockCollator(config: .glm10B, dataset: ds, seqLength: 96)
        let loader = try BatchLoader(dataset: ds, collator: col, batchSize: 4, seed: 1234, prefetch: 3)
        var first = [Batch]()
        for _ in 0..<12 { first.append(loader.next()) }
        XCTAssertEqual(loader.cursor, 12)
        // The thread runs ahead: the prefetch queue fills without anyone asking.
        let deadline = Date().addingTimeInterval(10)
        while loader.prefetched < 3 && Date() < deadline { Thread.sleep(forTimeInterval: 0.01) }
        XCTAssertEqual(loader.prefetched, 3)
        XCTAssertEqual(loader.cursor, 12, "prefetching does not consume")
        for (k, b) in first.enumerated() { XCTAssertEqual(b, loader.batch(k), "batch \(k) is a pure function of (seed, k)") }
        loader.stop()
        for k in 12..<16 { XCTAssertEqual(loader.next(), loader.batch(k), "after stop, batches are computed inline") }

        // Resume from a checkpointed cursor: the same batches follow.
        let resumed = try BatchLoader(dataset: ds, collator: col, batchSize: 4, seed: 1234, cursor: 7, prefetch: 2)
        for k in 7..<12 { XCTAssertEqual(resumed.next(), first[k]) }
        XCTAssertEqual(resumed.cursor, 12)
        // No prefetch thread: same stream.
        let direct = try BatchLoader(dataset: ds, collator: col, batchSize: 4, seed: 1234, prefetch: 0)
        for k in 0..<5 { XCTAssertEqual(direct.next(), first[k]) }
        // Another seed: another stream.
        let other = try BatchLoader(dataset: ds, collator: col, batchSize: 4, seed: 1235, prefetch: 0)
        XCTAssertNotEqual(other.next(), first[0])
    }

    func testDroppingALoaderStopsItsThread() throws {
        let (folder, _) = try makeShards(standardCorpus(short: 5, long: 1))
        let ds = try ShardDataset(folder: folder)
        let col = try BlockCollator(config: .glmBase, dataset: ds, seqLength: 64)
        weak var weakLoader: BatchLoader?
        do {
            let l = try BatchLoader(dataset: ds, collator: col, batchSize: 2, seed: 1, prefetch: 2)
            _ = l.next()
            weakLoader = l
        }
        XCTAssertNil(weakLoader)
    }

    func testTinyCorpusSmallerThanOneBatchAndTinyDocuments() throws {
        // Two documents of one and two tokens: shorter than most spans, far smaller than a batch.
        let (folder, m) = try makeShards(["w1", "w2 ."])
        XCTAssertEqual(m.counts.documents, 2)
        let ds = try ShardDataset(folder: folder)
        for name in ["token", "sentence", "document", "glm-10b-chinese", "glm-doc"] {
            let col = try BlockCollator(config: CollatorConfig.named(name)!, dataset: ds, seqLength: 64)
            let loader = try BatchLoader(dataset: ds, collator: col, batchSize: 8, seed: 5, prefetch: 0)
            for k in 0..<20 {
                var rng = GLMRandom(seed: 5, stream: .collator, index: k)
                let samples = (0..<8).map { ds.sample(index: k * 8 + $0, seed: 5, seqLength: 64) }
                let (b, src) = col.collateWithSources(samples, rng: &rng)
                XCTAssertGreaterThan(b.batchSize, 0)
                _ = checkBatch(b, sources: src, commands: ds.commands, config: col.config, sentenceEnds: ds.sentenceEnds)
                XCTAssertEqual(loader.next(), b)
            }
        }
    }

    func testJSONLinesAndShowFormat() throws {
        let (folder, _) = try makeShards(standardCorpus(short: 6, long: 1))
        let ds = try ShardDataset(folder: folder)
        let col = try BlockCollator(config: .tokenOnly, dataset: ds, seqLength: 64)
        let b = BatchLoader.makeBatch(0, dataset: ds, collator: col, batchSize: 2, seed: 1)
        let lines = BatchFormat.jsonLines(b, batchIndex: 0)
        XCTAssertEqual(lines.count, b.batchSize)
        let obj = try JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as! [String: Any]
        XCTAssertEqual((obj["input_ids"] as! [Int]).count, b.seqLength)
        XCTAssertEqual((obj["position_ids"] as! [[Int]]).count, 2)
        XCTAssertEqual(obj["attention_mask"] as? Int, Int(b.seps[0]))
        XCTAssertEqual(obj["mode"] as? String, "token")
        XCTAssertEqual((obj["targets"] as! [Int]).map(Int32.init), Array(b.targets(row: 0)))
        XCTAssertEqual((obj["loss_mask"] as! [Int]).count, b.seqLength)
        let text = BatchFormat.describe(b, row: 0, commands: ds.commands) { fixture.text.decode($0) }
        XCTAssertTrue(text.contains("Part A: [CLS]"))
        XCTAssertTrue(text.contains("[MASK]"))
        XCTAssertTrue(text.contains("span 1 at [MASK]@"))
    }
}

final class ManifestTests: XCTestCase {
    func testTokenizerFolderResolution() throws {
        let f = Fixture()
        let (folder, m) = try makeShards(["w1 w2 ."], fixture: f)
        // Recorded folder does not exist (tests record a fake path): the error names it and the identity.
        XCTAssertThrowsError(try m.tokenizerFolder(shardFolder: folder, override: nil)) {
            XCTAssertEqual($0 as? GLMDataError, .tokenizerMissing(folder: folder.path, recordedPath: "/nonexistent/test-tokenizer",
                                                                  identity: f.tokenizer.identity))
        }
        let missing = folder.appendingPathComponent("no-such-tokenizer")
        XCTAssertThrowsError(try m.tokenizerFolder(shardFolder: folder, override: missing)) {
            XCTAssertEqual($0 as? GLMDataError, .tokenizerFolderNotFound(path: missing.path, shardFolder: folder.path))
        }
        XCTAssertEqual(try m.tokenizerFolder(shardFolder: folder, override: folder), folder)
        XCTAssertEqual(try ShardManifest.read(folder: folder), m)
    }

    func testPipelineBenchmarkRuns() throws {
        let (folder, _) = try makeShards(standardCorpus(short: 10, long: 2))
        let r = try CollatorBenchmark.runPipeline(dataset: ShardDataset(folder: folder), seqLength: 128, batchSize: 4,
                                                  minBatches: 5, minSeconds: 0.05)
        XCTAssertGreaterThanOrEqual(r.batches, 5)
        XCTAssertGreaterThan(r.tokensPerSecond, 0)
    }
}
