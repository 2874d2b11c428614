import Foundation
import GLMData
import GLMTokenizers
import XCTest

final class CollatorStatisticsTests: XCTestCase {
    let fixture = Fixture()

    /// Synthetic single-document samples of length `n`: [CLS], words with a sentence end every 12, eos.
    func samples(count: Int, n: Int, seed: UInt64) -> [PackedSample] {
        var rng = GLMRandom(seed: seed)
        let period = Int32(fixture.text.id(for: ".")!)
        return (0..<count).map { _ in
            var t: [Int32] = [2]
            for i in 1..<(n - 1) { t.append(i % 12 == 0 ? period : Int32(5 + rng.int(below: 200))) }
            t.append(0)
            return PackedSample(tokens: t, lossMask: [0] + [UInt8](repeating: 1, count: n - 1))
        }
    }

    func collator(_ c: CollatorConfig, seqLength: Int = 256) throws -> BlockCollator {
        try BlockCollator(config: c, commands: fixture.commands, sentenceEnds: fixture.sentenceEnds, seqLength: seqLength)
    }

    func testTokenModeMaskedFractionAndSpanLengths() throws {
        let col = try collator(.tokenOnly)
        let poisson = TruncatedPoisson(lambda: 3, maxLength: 39)
        var spanCount = 0, spanTotal = 0, fractions = [Double]()
        var histogram = [Int](repeating: 0, count: 40)
        for k in 0..<150 {
            var rng = GLMRandom(seed: 11, stream: .collator, index: k)
            let src = samples(count: 8, n: 256, seed: UInt64(k))
            let (b, s) = col.collateWithSources(src, rng: &rng)
            let rows = checkBatch(b, sources: s, commands: fixture.commands, config: .tokenOnly, sentenceEnds: fixture.sentenceEnds)
            for row in rows {
                let masked = row.spans.reduce(0) { $0 + $1.1 - $1.0 }
                XCTAssertGreaterThanOrEqual(masked, Int(0.15 * Double(row.n)), "at least 15% masked")
                XCTAssertLessThan(masked, Int(0.15 * Double(row.n)) + 39, "stops at the first draw past 15%")
                fractions.append(Double(masked) / Double(row.n))
                for (a, e) in row.spans { histogram[e - a] += 1; spanTotal += e - a; spanCount += 1 }
            }
        }
        let meanFraction = fractions.reduce(0, +) / Double(fractions.count)
        XCTAssertGreaterThanOrEqual(meanFraction, 0.15)
        XCTAssertLessThan(meanFraction, 0.165, "masked fraction is at or just above 15%")
        // By Wald's identity the mean over all drawn spans is the truncated Poisson mean (≈ 3.16).
        let mean = Double(spanTotal) / Double(spanCount)
        XCTAssertEqual(poisson.mean, 3.157, accuracy: 0.01)
        XCTAssertEqual(mean, poisson.mean, accuracy: 0.08, "mean span length \(mean) over \(spanCount) spans")
        for len in 1...7 {
            XCTAssertEqual(Double(histogram[len]) / Double(spanCount), poisson.pmf[len - 1], accuracy: 0.02, "P(len=\(len))")
        }
        XCTAssertEqual(histogram[0], 0)
    }

    func testDocumentModeSpanLengthsUniformOverHalfToAll() throws {
        var cfg = CollatorConfig.documentOnly
        cfg.gptInfillProb = 0.5
        let col = try collator(cfg)
        let n = 200
        var ratios = [Double]()
        var infill = 0
        for k in 0..<1500 {
            var rng = GLMRandom(seed: 5, stream: .collator, index: k)
            let (b, s) = col.collateWithSources(samples(count: 1, n: n, seed: UInt64(k % 7)), rng: &rng)
            let rows = checkBatch(b, sources: s, commands: fixture.commands, config: cfg, sentenceEnds: fixture.sentenceEnds)
            let g = rows[0].spans[0].1 - rows[0].spans[0].0
            if !rows[0].suffixForm { infill += 1 }
            ratios.append(Double(g) / Double(n))
        }
        XCTAssertGreaterThanOrEqual(ratios.min()!, 0.5)
        XCTAssertLessThanOrEqual(ratios.max()!, 1.0)
        // Kolmogorov–Smirnov distance to U[0.5, 1] (g runs over 100…198, i.e. ratio 0.5…0.99).
        let sorted = ratios.sorted()
        var d = 0.0
        for (i, r) in sorted.enumerated() {
            let cdf = min(1, max(0, (r - 0.5) / (Double(n - 2) / Double(n) - 0.5)))
            d = max(d, abs(cdf - Double(i + 1) / Double(sorted.count)), abs(cdf - Double(i) / Double(sorted.count)))
        }
        XCTAssertLessThan(d, 0.05, "KS distance \(d) from uniform")
        XCTAssertEqual(Double(infill) / 1500, 0.5, accuracy: 0.05, "suffix vs infill form at gptInfillProb")
    }

    func testDocumentModeMinimumRatioIsConfigurable() throws {
        var cfg = CollatorConfig.documentOnly
        cfg.gptMinRatio = 0.25
        let col = try collator(cfg)
        var ratios = [Double]()
        for k in 0..<400 {
            var rng = GLMRandom(seed: 6, stream: .collator, index: k)
            let (b, s) = col.collateWithSources(samples(count: 2, n: 200, seed: UInt64(k)), rng: &rng)
            for row in checkBatch(b, sources: s, commands: fixture.commands, config: cfg, sentenceEnds: fixture.sentenceEnds) {
                ratios.append(Double(row.spans[0].1 - row.spans[0].0) / 200)
            }
        }
        XCTAssertGreaterThanOrEqual(ratios.min()!, 0.25)
        XCTAssertLessThan(ratios.min()!, 0.3)
        XCTAssertEqual(ratios.reduce(0, +) / Double(ratios.count), 0.625, accuracy: 0.03)
    }

    func testSentenceModeMasksWholeSentencesOnly() throws {
        let col = try collator(.sentenceOnly)
        var total = 0
        for k in 0..<100 {
            var rng = GLMRandom(seed: 9, stream: .collator, index: k)
            let (b, s) = col.collateWithSources(samples(count: 4, n: 180, seed: UInt64(k)), rng: &rng)
            for row in checkBatch(b, sources: s, commands: fixture.commands, config: .sentenceOnly, sentenceEnds: fixture.sentenceEnds) {
                let covered = row.spans.reduce(0) { $0 + $1.1 - $1.0 }
                XCTAssertGreaterThanOrEqual(covered, 27)
                // Sentences here are 12 tokens (the first 11), so the last one chosen crosses 15% by < 12.
                XCTAssertLessThan(covered, 27 + 12)
                total += row.spans.count
            }
        }
        XCTAssertGreaterThan(total, 600)
    }

    func testObjectiveMixFrequencies() throws {
        let col = try collator(.glm10BChinese)
        var counts = [BatchMode: Int]()
        for k in 0..<1000 {
            var rng = GLMRandom(seed: 1, stream: .collator, index: k)
            counts[col.collate(samples(count: 1, n: 64, seed: 1), rng: &rng).mode, default: 0] += 1
        }
        XCTAssertEqual(Double(counts[.token] ?? 0) / 1000, 0.5, accuracy: 0.05)
        XCTAssertEqual(Double(counts[.sentence] ?? 0) / 1000, 0.3, accuracy: 0.05)
        XCTAssertEqual(Double(counts[.document] ?? 0) / 1000, 0.2, accuracy: 0.05)
    }

    func testSameSeedSameBatchesDifferentSeedDifferentBatches() throws {
        let col = try collator(.glm10B)
        func run(_ seed: UInt64) -> [Batch] {
            (0..<20).map { k in
                var rng = GLMRandom(seed: seed, stream: .collator, index: k)
                return col.collate(samples(count: 4, n: 128, seed: UInt64(k)), rng: &rng)
            }
        }
        XCTAssertEqual(run(42), run(42))
        XCTAssertNotEqual(run(42), run(43))
    }

    func testRandomGeneratorBasics() {
        var a = GLMRandom(seed: 1, stream: .packing, index: 5), b = GLMRandom(seed: 1, stream: .packing, index: 5)
        XCTAssertEqual((0..<10).map { _ in a.next() }, (0..<10).map { _ in b.next() })
        var c = GLMRandom(seed: 1, stream: .collator, index: 5), d = GLMRandom(seed: 1, stream: .packing, index: 5)
        XCTAssertNotEqual(d.next(), c.next())
        var r = GLMRandom(seed: 3)
        var hist = [Int](repeating: 0, count: 7)
        for _ in 0..<70_000 { hist[r.int(below: 7)] += 1 }
        for h in hist { XCTAssertEqual(Double(h), 10_000, accuracy: 400) }
        for _ in 0..<1000 { let v = r.int(in: 3, 5); XCTAssertTrue((3...5).contains(v)) }
        let p = TruncatedPoisson(lambda: 3, maxLength: 39)
        XCTAssertEqual(p.pmf.reduce(0, +), 1, accuracy: 1e-12)
        XCTAssertEqual(p.pmf.count, 39)
    }

    func testCollatorBenchmarkMeasuresWhatItRan() throws {
        // The rate itself is a benchmark figure (`glm bench --only data`), not a test assertion.
        let r = try CollatorBenchmark.run(config: .glm10B, seqLength: 512, batchSize: 8, minBatches: 10, minSeconds: 0.05)
        XCTAssertGreaterThanOrEqual(r.batches, 10)
        XCTAssertEqual(r.tokensPerSecond, Double(r.batches * r.batchSize * r.seqLength) / r.seconds, accuracy: 1e-6 * r.tokensPerSecond)
    }
}
